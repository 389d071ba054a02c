"""Fidelity, Interpretability, FIR, FII and the collapse flags (paper section 2) against their definitions."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hnsx.adapters.image import ImageAdapter
from hnsx.binarizers import DeterministicBinarizer
from hnsx.metrics import CHANCE_MARGIN, COLLAPSE_THRESHOLD, evaluate, scores_from
from hnsx.model import HideAndSeek


@pytest.mark.parametrize(("accuracy", "kept", "baseline"), [(0.9, 0.1, 0.95), (0.3, 0.6, 0.6), (1.0, 0.0, 1.0)])
def test_scores_follow_the_paper_definitions(accuracy, kept, baseline):
    s = scores_from(accuracy, kept, baseline, samples=10)
    f, i = accuracy / baseline, 1 - kept
    assert s.fidelity == pytest.approx(f)
    assert s.interpretability == pytest.approx(i)
    assert s.fir == pytest.approx(f / (f + i))
    assert s.fii == pytest.approx(f * i)


@pytest.mark.parametrize(
    ("accuracy", "kept", "baseline", "chance", "fidelity_collapsed"),
    [
        (0.50, 0.00, 1.00, 0.50, True),  # two balanced classes, everything hidden, guessing: F = 0.5 but collapsed
        (0.54, 0.10, 1.00, 0.50, True),  # within 10 % of the way from chance (0.5) to the baseline (1.0)
        (0.56, 0.10, 1.00, 0.50, False),
        (0.50, 0.00, 1.00, None, False),  # no chance figure: only the paper's F < 0.2 rule
        (0.15, 0.05, 0.98, 0.11, True),  # ten classes: F < 0.2 (and near chance)
        (0.25, 0.05, 0.98, 0.11, False),
        (0.90, 0.05, 0.95, 0.90, True),  # a 90 % majority class: answering it is no explanation
    ],
)
def test_collapse_flags_fidelity_near_chance(accuracy, kept, baseline, chance, fidelity_collapsed):
    s = scores_from(accuracy, kept, baseline, samples=100, chance_accuracy=chance)
    reference = accuracy / baseline < COLLAPSE_THRESHOLD or (
        chance is not None and accuracy <= chance + CHANCE_MARGIN * (baseline - chance)
    )
    assert s.collapsed_fidelity is fidelity_collapsed is reference
    assert s.collapsed is (fidelity_collapsed or 1 - kept < COLLAPSE_THRESHOLD)
    assert s.as_dict()["chance_accuracy"] == chance


def test_collapse_flags_interpretability():
    assert scores_from(0.95, 0.85, 0.95, samples=1).collapsed_interpretability
    assert not scores_from(0.95, 0.75, 0.95, samples=1).collapsed_interpretability


def test_scores_reject_impossible_rates():
    with pytest.raises(ValueError, match="baseline accuracy"):
        scores_from(0.5, 0.5, 0.0, samples=1)
    with pytest.raises(ValueError, match="chance accuracy"):
        scores_from(0.5, 0.5, 1.0, samples=1, chance_accuracy=0.0)


class _Constant(nn.Module):
    """A module returning one fixed tensor per input: logits for the hider, class scores for the seeker."""

    def __init__(self, row: torch.Tensor) -> None:
        super().__init__()
        self.row = row
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.row.expand(x.shape[0], *self.row.shape[1:]) + 0 * self.anchor


def test_evaluate_counts_the_majority_class_and_flags_a_guessing_model():
    # 3 classes, labels 0 x 6, 1 x 3, 2 x 1 in batches of 4: the majority share is 0.6. The seeker always answers
    # class 0 and the hider hides every pixel: accuracy 0.6 = chance, F = 0.6 / 0.9, collapsed all the same.
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    inputs = torch.rand(len(labels), 1, 4, 4, generator=torch.Generator().manual_seed(0))
    hider = _Constant(torch.full((1, 1, 4, 4), -5.0))
    seeker = _Constant(torch.tensor([[2.0, 0.0, 0.0]]))
    model = HideAndSeek(hider, DeterministicBinarizer(), seeker, ImageAdapter((1, 4, 4)), num_classes=3)
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=4, shuffle=True)
    scores = evaluate(model, loader, baseline_accuracy=0.9)
    reference = float(torch.bincount(labels).max()) / len(labels)
    assert scores.chance_accuracy == pytest.approx(reference) == pytest.approx(0.6)
    assert scores.accuracy == pytest.approx(0.6)
    assert scores.interpretability == pytest.approx(1.0)
    assert scores.fidelity > COLLAPSE_THRESHOLD
    assert scores.collapsed_fidelity
