"""Faithfulness without retraining: deletion / insertion AUC, ERASER comprehensiveness, sufficiency and AOPC, and
rationale F1 / IoU, checked against slow references written from the definitions and on a model with a planted
ground truth (an oracle must beat random)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hnsx.benchmarks.metrics import (
    BINS,
    eraser_scores,
    mask_scores,
    perturbation_curves,
    rationale_top_k,
    set_overlap,
    trapezoid_auc,
)
from hnsx.benchmarks.ranking import rank_units

FILL = torch.tensor([0.5, -0.5, 0.0, 1.0, 0.25, 0.0])


class Planted(nn.Module):
    """Class 1 iff ``x0 + x1 > 0``; features 2-5 carry nothing. Softmax of ``[0, 4 (x0 + x1)]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = 4 * (x[:, 0] + x[:, 1])
        return torch.stack([torch.zeros_like(z), z], 1)


def prob_fn(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hidden features take ``FILL`` (what an adapter's fill does)."""
    return Planted()(x * mask + FILL * (1 - mask)).softmax(1)


def data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(0)) * 2
    return x, Planted()(x).argmax(1)


def slow_prob(x_row: list[float], keep: list[bool], target: int) -> float:
    z = 4 * sum((x_row[j] if keep[j] else float(FILL[j])) for j in (0, 1))
    logits = [0.0, z]
    m = max(logits)
    e = [np.exp(v - m) for v in logits]
    return e[target] / sum(e)


def test_trapezoid_auc_is_the_area_and_rejects_bad_grids():
    f = [0.0, 0.25, 0.5, 1.0]
    values = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.5, 0.0, 0.0]])
    assert trapezoid_auc(f, values).tolist() == pytest.approx([1.0, 0.1875 + 0.0625])
    with pytest.raises(ValueError, match="strictly"):
        trapezoid_auc([0.0, 0.5, 0.5, 1.0], values)


def test_rank_units_breaks_ties_at_random_and_puts_invalid_units_last():
    scores = torch.zeros(200, 5)
    valid = torch.ones(200, 5)
    valid[:, 0] = 0
    ranks = rank_units(scores, valid, seed=0)
    assert (ranks[:, 0] == 4).all()
    firsts = (ranks == 0).float().mean(0)
    assert firsts[0] == 0 and (firsts[1:] > 0.15).all(), "constant maps must not rank in reading order"
    assert torch.equal(rank_units(torch.tensor([[0.1, 3.0, -2.0]])), torch.tensor([[1, 0, 2]]))


def test_deletion_insertion_and_eraser_match_a_slow_reference():
    x, target = data(8)
    scores = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))  # no ties
    curves = perturbation_curves(prob_fn, x, scores, target, steps=6)
    eraser = eraser_scores(prob_fn, x, scores, target)
    for i in range(8):
        order = sorted(range(6), key=lambda j: -float(scores[i, j]))
        row, t = x[i].tolist(), int(target[i])
        full = slow_prob(row, [True] * 6, t)
        for s, f in enumerate(np.linspace(0, 1, 7)):
            k = round(f * 6)
            top = set(order[:k])
            assert curves["deletion"][i, s] == pytest.approx(slow_prob(row, [j not in top for j in range(6)], t))
            assert curves["insertion"][i, s] == pytest.approx(slow_prob(row, [j in top for j in range(6)], t))
        for b, f in enumerate(BINS):
            top = set(order[: max(1, round(f * 6))])
            deleted = slow_prob(row, [j not in top for j in range(6)], t)
            kept = slow_prob(row, [j in top for j in range(6)], t)
            assert eraser["comprehensiveness"][i, b] == pytest.approx(full - deleted, abs=1e-6)
            assert eraser["sufficiency"][i, b] == pytest.approx(full - kept, abs=1e-6)


def test_a_planted_oracle_beats_random_on_deletion_comprehensiveness_and_rationale():
    x, target = data(256)
    gold = torch.zeros_like(x)
    gold[:, :2] = 1
    oracle = gold * x.abs()
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
    results = {}
    for name, scores in (("oracle", oracle), ("random", noise)):
        curves = perturbation_curves(prob_fn, x, scores, target, steps=6)
        eraser = eraser_scores(prob_fn, x, scores, target)
        results[name] = {
            "deletion": trapezoid_auc(curves["fractions"], curves["deletion"]).mean(),
            "insertion": trapezoid_auc(curves["fractions"], curves["insertion"]).mean(),
            "comp": eraser["comprehensiveness"].mean(),
            "suff": eraser["sufficiency"].mean(),
            "f1": np.nanmean(rationale_top_k(scores, gold)["f1"]),
        }
    o, r = results["oracle"], results["random"]
    assert o["deletion"] < r["deletion"] - 0.1
    assert o["insertion"] > r["insertion"] + 0.1
    assert o["comp"] > r["comp"] + 0.1
    assert o["suff"] < r["suff"]
    assert o["f1"] == 1.0 and r["f1"] < 0.6


def test_set_overlap_and_mask_scores():
    sel = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0]]).float()
    gold = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]).float()
    out = set_overlap(sel, gold)
    assert out["f1"][:2].tolist() == pytest.approx([2 / 3, 0.0]) and np.isnan(out["f1"][2])
    assert out["iou"][:2].tolist() == pytest.approx([0.5, 0.0])
    x, target = data(4)
    mask = torch.tensor([[1, 1, 0, 0, 0, 0]] * 4).float()
    scores = mask_scores(prob_fn, x, mask, target)
    assert scores["kept_fraction"].tolist() == pytest.approx([1 / 3] * 4)
    assert np.allclose(scores["sufficiency"], 0, atol=1e-6), "the planted features alone decide the class"


# --- end to end on the switch table -------------------------------------------------------------------------------


@pytest.fixture
def short_tabular_recipe(monkeypatch):
    from hnsx.adapters.tabular import bench
    from hnsx.benchmarks.hooks import Recipe
    from hnsx.training.config import TrainConfig

    hns = TrainConfig(epochs=8, batch_size=128, lr=3e-3, alpha=0.8, init="pretrained-seeker", pretrain_epochs=12)
    monkeypatch.setattr(bench, "RECIPE", Recipe(seeker_epochs=12, batch_size=128, lr=3e-3, hns=hns))


def test_faithfulness_end_to_end_on_the_switch_table(short_tabular_recipe, tmp_path):
    """The switch table's relevant features are known: ranking them first (the oracle) must beat random on every
    metric, and the files must hold a table naming every explainer."""
    import json

    from hnsx.benchmarks.faithfulness import HNS_MASK, ORACLE, FaithfulnessConfig, run_faithfulness

    config = FaithfulnessConfig(
        modality="tabular", seeds=1, samples=200, steps=11, threads=1, progress=False, explainers=None
    )
    results = run_faithfulness(config, tmp_path)
    assert results["models"]["classifier_accuracy"]["mean"] > 0.7
    m = {name: {k: v for k, v in row.items()} for name, row in results["metrics"].items()}
    assert set(m) == {"hns", "integrated-gradients", "feature-ablation", "random", ORACLE, HNS_MASK}
    oracle, random = m[ORACLE], m["random"]
    assert oracle["deletion_auc"]["mean"] < random["deletion_auc"]["mean"] - 0.03
    assert oracle["aopc_comprehensiveness"]["mean"] > random["aopc_comprehensiveness"]["mean"] + 0.05
    assert oracle["insertion_auc"]["mean"] > random["insertion_auc"]["mean"]
    assert oracle["rationale_f1"]["mean"] == pytest.approx(1.0)
    assert random["rationale_f1"]["mean"] < 0.5
    for row in m.values():
        if "deletion_curve" in row:
            curve = row["deletion_curve"]
            assert len(curve) == 12 and curve[0]["mean"] > 0.5, "the full input gives the predicted class"
    assert 0.0 < m[HNS_MASK]["kept_fraction"]["mean"] < 1.0

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["benchmark"] == "faithfulness" and saved["dataset"] == "switch" and saved["seeds"] == [0]
    report = (tmp_path / "report.md").read_text()
    for heading in ("## Summary", "Comprehensiveness", "Sufficiency", "binary mask as a set", "rationale F1"):
        assert heading in report
    for name in m:
        assert f"| {name} |" in report
    for plot in ("curves.png", "eraser.png"):
        assert (tmp_path / plot).stat().st_size > 5000


def test_faithfulness_rejects_bad_settings():
    from hnsx.benchmarks.faithfulness import FaithfulnessConfig

    with pytest.raises(ValueError, match="classifier"):
        FaithfulnessConfig(classifier="mine")
    with pytest.raises(ValueError, match="bins"):
        FaithfulnessConfig(bins=(0.0, 0.5))
    with pytest.raises(ValueError, match="steps"):
        FaithfulnessConfig(steps=0)
    with pytest.raises(ValueError, match="NaN"):
        rank_units(torch.tensor([[float("nan"), 1.0]]))
