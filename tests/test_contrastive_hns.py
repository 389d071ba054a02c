"""Contrastive Hide-and-Seek on a toy whose answer depends on the pair asked about.

Three 2x2 patches ``P0, P1, P2`` of an 8x8 image carry features ``f_i`` (patch sums); a fixed linear classifier
scores ``s0 = f0 + f1``, ``s1 = f1 + f2``, ``s2 = f0 + f2``. A class-0 image lights ``P0`` and ``P1``. Then
"0 and not 1" is decided by ``s0 - s1 = f0 - f2`` (only ``P0`` is worth keeping) and "0 and not 2" by
``s0 - s2 = f1 - f2`` (only ``P1``): one hider trained once must keep a different patch for each question.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hnsx.adapters.image.adapter import ImageAdapter
from hnsx.adapters.image.contrastive.hns import (
    ContrastiveConfig,
    other_classes,
    pairwise_margin_loss,
    train_contrastive_hns,
)
from hnsx.benchmarks.explainers.contrastive_hns import ContrastiveHnSExplainer

torch.set_num_threads(1)
PATCHES = [(1, 1), (1, 5), (5, 3)]  # top-left corners of P0, P1, P2
LIT = {0: (0, 1), 1: (1, 2), 2: (0, 2)}  # the patches each class lights


def patch(index: int) -> tuple[slice, slice]:
    r, c = PATCHES[index]
    return slice(r, r + 2), slice(c, c + 2)


class PatchClassifier(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = torch.stack([x[:, 0, patch(i)[0], patch(i)[1]].sum((1, 2)) for i in range(3)], 1)
        return 2 * torch.stack([f[:, 0] + f[:, 1], f[:, 1] + f[:, 2], f[:, 0] + f[:, 2]], 1)


def toy_images(n: int, seed: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    x = 0.1 * torch.rand(n, 1, 8, 8, generator=gen)
    for i, label in enumerate(y.tolist()):
        for k in LIT[label]:
            x[i, 0, patch(k)[0], patch(k)[1]] = 0.7 + 0.3 * torch.rand(2, 2, generator=gen)
    return TensorDataset(x, y)


def test_pairwise_margin_is_the_two_class_cross_entropy():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    a, b = torch.tensor([0, 2]), torch.tensor([1, 1])
    two = torch.stack([logits[torch.arange(2), a], logits[torch.arange(2), b]], 1)
    expected = nn.functional.cross_entropy(two, torch.zeros(2, dtype=torch.long), reduction="none")
    assert torch.allclose(pairwise_margin_loss(logits, a, b), expected)


def test_other_classes_never_draw_the_class_itself_and_cover_the_rest():
    a = torch.arange(5).repeat(200)
    b = other_classes(a, 5, torch.Generator().manual_seed(0))
    assert not bool((a == b).any())
    assert set(b[a == 0].tolist()) == {1, 2, 3, 4}


def test_one_hider_keeps_the_patch_that_separates_the_pair_asked_about():
    seeker = PatchClassifier()
    model, history = train_contrastive_hns(
        seeker, ImageAdapter((1, 8, 8)), toy_images(600, 0), 3, ContrastiveConfig(epochs=25, lr=3e-3, alpha=0.5)
    )
    assert history[-1]["pair_accuracy"] > 0.9 and history[-1]["kept"] < 0.3, history[-1]
    x = toy_images(200, 1).tensors[0]
    x = x[PatchClassifier()(x).argmax(1) == 0]  # class-0 images
    explainer = ContrastiveHnSExplainer(model, contrast=1)
    target = torch.zeros(len(x), dtype=torch.long)
    on = {}
    for probe in (1, 2):
        explainer.contrast = probe
        keep = explainer.attribute(x, target)
        on[probe] = [float(keep[:, 0, patch(k)[0], patch(k)[1]].mean()) for k in range(3)]
    assert on[1][0] > 0.5 > on[1][1], on  # "0 and not 1": P0
    assert on[2][1] > 0.5 > on[2][0], on  # "0 and not 2": P1


def test_the_explainer_needs_a_contrastive_model():
    with pytest.raises(TypeError, match="ContrastiveHnS"):
        ContrastiveHnSExplainer(PatchClassifier())


def test_the_benchmarks_add_contrastive_hns_by_default_or_by_name_and_only_for_images():
    from hnsx.benchmarks.contrastive import contrastive_request

    names, wanted = contrastive_request("image", None)
    assert wanted and "cdeepex" in names and "contrastive-hns" not in names
    assert contrastive_request("image", ["saliency", "contrastive-hns"]) == (["saliency"], True)
    assert contrastive_request("image", ["saliency"]) == (["saliency"], False)
    assert not contrastive_request("tabular", None)[1]
    with pytest.raises(ValueError, match="contrastive-hns is not available for --modality tabular"):
        contrastive_request("tabular", ["random", "contrastive-hns"])


def test_a_target_kept_fraction_holds_the_pair_hider_near_it_where_a_low_alpha_hides_everything():
    seeker = PatchClassifier()
    data, adapter = toy_images(600, 0), ImageAdapter((1, 8, 8))
    _, hiding = train_contrastive_hns(seeker, adapter, data, 3, ContrastiveConfig(epochs=15, lr=3e-3, alpha=0.1))
    _, targeted = train_contrastive_hns(
        seeker, adapter, data, 3, ContrastiveConfig(epochs=15, lr=3e-3, alpha=0.1, target_kept=0.2)
    )
    assert hiding[-1]["kept"] < 0.02, hiding[-1]  # alpha 0.1: the kept-fraction term wins, everything is hidden
    assert 0.1 <= targeted[-1]["kept"] <= 0.3 and targeted[-1]["pair_accuracy"] > 0.9, targeted[-1]
    with pytest.raises(ValueError, match="target_kept"):
        ContrastiveConfig(target_kept=1.5)
