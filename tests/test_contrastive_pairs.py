"""The scoring of ``python -m hnsx.benchmarks.contrastive_pairs``: contrastive deletion on a linear classifier whose
margin drop is known exactly, the per-seed summary and its report, and its data (``--dataset --data-dir``)."""

from __future__ import annotations

import torch
from torch import nn

from hnsx.adapters.image.adapter import ImageAdapter
from hnsx.adapters.image.idx import save_mnist_layout
from hnsx.benchmarks.contrastive_pairs import deletion, pairs_of, report, summarise
from hnsx.benchmarks.hooks import hooks


class Linear(nn.Module):
    """``s_0 = sum of the top row``, ``s_1 = sum of the bottom row`` of a 1x2x4 image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0, 0].sum(1), x[:, 0, 1].sum(1)], 1)


def test_deletion_hides_the_top_ranked_pixels_and_measures_the_margin_drop():
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 9.0]]]])
    scores = torch.tensor([[[[0.0, 0.0, 5.0, 6.0], [0.0, 0.0, 0.0, 0.0]]]])  # ranks the top row's 3 and 4 first
    drop, flip = deletion(Linear(), ImageAdapter((1, 2, 4)), x, scores, 0, 1, fraction=0.25)
    assert drop == 7.0  # 3 + 4 of s_0 hidden
    assert flip == 1.0  # margin 10 - 10.5 -> 3 - 10.5 < 0
    drop, flip = deletion(Linear(), ImageAdapter((1, 2, 4)), x, -scores, 0, 1, fraction=0.125)
    assert flip == 0.0


def test_the_summary_gives_mean_and_spread_over_seeds_and_the_report_lists_every_pair():
    def seed(v: float) -> dict:
        metrics = {f"{k}@{f}": v for k in ("drop", "flip") for f in (0.05, 0.1, 0.2)}
        return {"4/9": {"rows": 3, "scores": {"cdeepex": {**metrics, "boundary": v}, "random": metrics}}}

    summary = summarise([seed(1.0), seed(3.0)])
    assert summary["4/9"]["cdeepex"]["drop@0.1"]["mean"] == 2.0
    assert abs(summary["4/9"]["random"]["flip@0.2"]["std"] - 2**0.5) < 1e-9
    text = report(summary, 2)
    assert "| 4/9 | cdeepex | 2.000 ± 1.414" in text and "boundary 2.000 ± 1.414" in text


def test_a_torchvision_set_is_read_from_data_dir_with_its_own_pairs(tmp_path):
    gen = torch.Generator().manual_seed(0)
    splits = [
        (torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8), torch.arange(n) % 10) for n in (60, 30)
    ]
    save_mnist_layout(tmp_path, splits[0], splits[1], "fashion-mnist")
    data = hooks("image").load_bench_data(quick=True, seed=0, name="fashion-mnist", data_dir=str(tmp_path))
    assert data.num_classes == 10 and tuple(data.train.tensors[0].shape) == (60, 1, 28, 28)
    assert torch.equal(data.test.tensors[1].sort().values, splits[1][1].sort().values)  # the test split, whole
    assert pairs_of("fashion-mnist") == ((0, 6), (2, 4), (1, 4)) and pairs_of(None) == ((4, 9), (3, 5), (7, 1))
