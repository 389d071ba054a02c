"""Sanity checks (Adebayo et al. 2018): the similarity maths against slow references written from the definitions,
layer randomisation, and a tiny end-to-end run whose randomised models must decorrelate their attributions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from hnsx.benchmarks.randomise import cascade, layer_groups, randomise_groups
from hnsx.benchmarks.similarity import gaussian_window, normalise_abs, spearman, ssim

# --- slow references ----------------------------------------------------------------------------------------------


def slow_ranks(values: list[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of the ranks they span."""
    ranks = []
    for v in values:
        below = sum(1 for u in values if u < v)
        equal = sum(1 for u in values if u == v)
        ranks.append(below + (equal + 1) / 2)
    return ranks


def slow_spearman(a: list[float], b: list[float]) -> float:
    ra, rb = slow_ranks(a), slow_ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb)


def slow_ssim(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    """Wang et al. (2004), eq. 13 with the Gaussian-weighted statistics of eq. 14-16, averaged over the pixels whose
    11 x 11 window (sigma 1.5) lies inside the image."""
    sigma, radius = 1.5, 5
    weights = np.array([math.exp(-(t * t) / (2 * sigma * sigma)) for t in range(-radius, radius + 1)])
    weights = np.outer(weights, weights)
    weights /= weights.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    h, w = x.shape
    values = []
    for i in range(radius, h - radius):
        for j in range(radius, w - radius):
            mx = my = 0.0
            for di, dj in itertools.product(range(-radius, radius + 1), repeat=2):
                wt = weights[di + radius, dj + radius]
                mx += wt * x[i + di, j + dj]
                my += wt * y[i + di, j + dj]
            vx = vy = cxy = 0.0
            for di, dj in itertools.product(range(-radius, radius + 1), repeat=2):
                wt = weights[di + radius, dj + radius]
                dx, dy = x[i + di, j + dj] - mx, y[i + di, j + dj] - my
                vx += wt * dx * dx
                vy += wt * dy * dy
                cxy += wt * dx * dy
            values.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return float(np.mean(values))


# --- maths --------------------------------------------------------------------------------------------------------


def test_spearman_matches_the_definition_and_scipy_with_ties_and_valid_units():
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 5, (6, 12), generator=gen).float()  # many ties
    b = a + torch.randn(6, 12, generator=gen)
    valid = torch.ones(6, 12)
    valid[2, 7:] = 0
    got = spearman(a, b, valid)
    for i in range(6):
        keep = valid[i] > 0
        u, v = a[i][keep].tolist(), b[i][keep].tolist()
        assert got[i] == pytest.approx(slow_spearman(u, v), abs=1e-12)
        assert got[i] == pytest.approx(spearmanr(u, v).statistic, abs=1e-12)
    assert np.allclose(spearman(a, b), [spearmanr(a[i], b[i]).statistic for i in range(6)])


def test_spearman_of_constant_maps_is_one_for_two_and_zero_for_one():
    a = torch.zeros(2, 9)
    b = torch.stack([torch.zeros(9), torch.arange(9.0)])
    assert spearman(a, b).tolist() == [1.0, 0.0]
    assert spearman(b, b).tolist() == [1.0, 1.0]
    assert spearman(b[1:], -b[1:]).tolist() == [pytest.approx(-1.0)]


def test_ssim_matches_the_slow_windowed_formula():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(3, 1, 16, 14, generator=gen)
    y = (x + 0.3 * torch.rand(3, 1, 16, 14, generator=gen)).clamp(0, 1)
    y[2] = torch.rand(1, 16, 14, generator=gen)
    got = ssim(x, y)
    for i in range(3):
        assert got[i] == pytest.approx(slow_ssim(x[i, 0].numpy(), y[i, 0].numpy()), abs=1e-10)
    assert ssim(x, x) == pytest.approx(np.ones(3))
    assert got[2] < got[0]


def test_ssim_window_and_errors():
    w = gaussian_window()
    assert w.numel() == 11 and float(w.sum()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(torch.rand(1, 8, 8), torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match="differ"):
        ssim(torch.rand(1, 12, 12), torch.rand(1, 13, 12))


def test_normalise_abs_scales_each_map_to_a_unit_maximum():
    a = torch.tensor([[[-4.0, 2.0]], [[0.0, 0.0]]])
    assert torch.equal(normalise_abs(a), torch.tensor([[[1.0, 0.5]], [[0.0, 0.0]]]))


# --- layer randomisation ------------------------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3))
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def test_layer_groups_follow_numbered_containers_and_cascade_runs_top_down():
    groups = layer_groups(Net())
    assert groups == [("features.0", ["features.0"]), ("features.1", ["features.1"]), ("features.3", ["features.3"]),
                      ("head", ["head"])]  # fmt: skip
    names = [g for g, _ in groups]
    assert cascade(names) == [["head"], ["head", "features.3"], ["head", "features.3", "features.1"], names[::-1]]


def test_step_labels_drop_the_prefix_every_group_shares():
    from hnsx.benchmarks.sanity import _short

    groups = ["model.bert.embeddings.word_embeddings", "model.bert.encoder.layer.0", "model.classifier"]
    assert [_short(g, groups) for g in groups] == ["bert.embeddings.word_embeddings", "bert.encoder.layer.0",
                                                   "classifier"]  # fmt: skip
    assert _short("features.0", ["features.0", "classifier"]) == "features.0"


def test_randomise_groups_resets_only_the_named_groups_of_a_copy():
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(5.0)  # far from any initialisation
    before = {k: v.clone() for k, v in net.state_dict().items()}
    changed = randomise_groups(net, ["head", "features.1"], seed=1)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), "the original must stay untouched"
    state = changed.state_dict()
    assert not torch.equal(state["head.weight"], before["head.weight"])
    assert torch.equal(state["features.1.weight"], torch.ones(4))  # BatchNorm's own reset
    assert torch.equal(state["features.0.weight"], before["features.0.weight"])
    again = randomise_groups(net, ["head", "features.1"], seed=1)
    assert torch.equal(again.state_dict()["head.weight"], state["head.weight"]), "seeded"
    with pytest.raises(ValueError, match="unknown layer group"):
        randomise_groups(net, ["nope"])


# --- end to end on a tiny image set -------------------------------------------------------------------------------


@pytest.fixture
def tiny_images(monkeypatch):
    """scikit-learn's digits at 12 x 12 (SSIM's 11-pixel window fits), 400 train and 60 test images, and a short
    training recipe, in place of the benchmark's MNIST."""
    from torch.nn import functional as F
    from torch.utils.data import TensorDataset

    from hnsx.adapters.image import bench
    from hnsx.adapters.image.bench import image_bench_data
    from hnsx.adapters.image.data import load_sklearn_digits
    from hnsx.benchmarks import common
    from hnsx.benchmarks.hooks import Recipe
    from hnsx.training.config import TrainConfig

    digits = load_sklearn_digits(seed=0)

    def resize(split, n):
        x, y = split.tensors
        return TensorDataset(F.interpolate(x[:n], size=(12, 12), mode="bilinear"), y[:n])

    data = image_bench_data("tiny-digits", resize(digits.train, 400), resize(digits.eval, 60), 10)
    monkeypatch.setattr(common, "load_bench_data", lambda modality, **kwargs: data)
    hns = TrainConfig(epochs=3, batch_size=50, lr=3e-3, alpha=0.6, init="both", pretrain_epochs=3)
    monkeypatch.setattr(bench, "RECIPE", Recipe(seeker_epochs=3, batch_size=50, lr=3e-3, hns=hns))
    return data


def test_sanity_end_to_end_randomised_models_decorrelate_and_the_outputs_name_every_explainer(tiny_images, tmp_path):
    import json

    from hnsx.benchmarks.sanity import HNS_HIDER, HNS_SEEKER, SanityConfig, format_report, run_sanity

    names = ("hns", "saliency", "integrated-gradients", "layer-gradcam")
    config = SanityConfig(
        modality="image",
        seeds=1,
        samples=40,
        explainers=names,
        explainer_options={"integrated-gradients": {"n_steps": 8}},
        threads=1,
        progress=False,
    )
    results = run_sanity(config, tmp_path)
    assert results["accuracy"]["mean"] > 0.5, "the seeker must have learned something for the check to mean much"
    seeker = results["cascading"]["seeker"]
    assert seeker["steps"] == ["none", "classifier", "features.6", "features.3", "features.0"]
    for name in ("saliency", "integrated-gradients"):
        row = seeker["rows"][name]
        assert row["spearman_abs"][0]["mean"] == pytest.approx(1.0), "unchanged model, deterministic method"
        assert row["spearman"][-1]["mean"] < 0.4, f"{name}: a fully random seeker must decorrelate"
        assert row["ssim"][-1]["mean"] < 0.6
    # |saliency| decorrelates too; |IG| of a zero baseline keeps the input's zeros (Adebayo et al.'s finding for
    # gradient x input), so only its signed ranking must fall.
    assert seeker["rows"]["saliency"]["spearman_abs"][-1]["mean"] < 0.6
    # HnS's explanation is the hider's: randomising the seeker cannot change it, randomising the hider must.
    assert all(s["mean"] == pytest.approx(1.0) for s in seeker["rows"][HNS_SEEKER]["spearman_abs"])
    hider = results["cascading"]["hider"]["rows"][HNS_HIDER]
    assert hider["spearman_abs"][-1]["mean"] < 0.6
    assert set(results["independent"]["seeker"]["rows"]) == {HNS_SEEKER, "saliency", "integrated-gradients",
                                                             "layer-gradcam"}  # fmt: skip
    data_rows = results["data"]["rows"]
    assert set(data_rows) == set(names)
    assert all(-1.0 <= r["spearman"]["mean"] <= 1.0 for r in data_rows.values())

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["benchmark"] == "sanity" and saved["seeds"] == [0] and saved["explainers"] == list(names)
    report = (tmp_path / "report.md").read_text()
    for heading in ("Cascading randomisation of the seeker", "Independent randomisation of the hider",
                    "Data randomisation", "SSIM"):  # fmt: skip
        assert heading in report
    for name in (*names[1:], HNS_SEEKER, HNS_HIDER):
        assert f"| {name} |" in report
    for plot in ("sanity_cascading.png", "sanity_independent.png", "sanity_data.png"):
        assert (tmp_path / plot).stat().st_size > 5000
    without = format_report({k: v for k, v in results.items() if k != "independent"})  # what --quick reports
    assert "Independent" not in without and "sanity_independent.png" not in without and "Data randomisation" in without


def test_sanity_rejects_bad_settings():
    from hnsx.benchmarks.sanity import SanityConfig, sanity_explainers

    with pytest.raises(ValueError, match="samples"):
        SanityConfig(samples=0)
    with pytest.raises(ValueError, match="unknown image explainer"):
        sanity_explainers("image", ["nope"])
    assert "random" not in sanity_explainers("image", None)
