"""Fidelity, Interpretability, FIR, FII and collapse flags (paper section 2), on an evaluation split.

* Interpretability ``I = 1 - kept_fraction`` (the share of valid units hidden).
* Fidelity ``F = accuracy(HnS) / accuracy(seeker alone on unmasked inputs)`` (eq. 2).
* ``FIR = F / (F + I)`` (eq. 3), ``FII = F * I`` (eq. 4).
* Collapse: ``I < 0.2`` (hides almost nothing) or ``F < 0.2`` (accuracy lost, typically near chance while
  hiding almost everything); the thresholds are the paper's (Table 1: "< 20 %").

These functions never see training batches: :func:`evaluate` takes an evaluation loader and runs in eval mode,
so masks are deterministic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

COLLAPSE_THRESHOLD = 0.2


@dataclass(frozen=True)
class Scores:
    """Evaluation figures of a Hide-and-Seek model."""

    accuracy: float
    baseline_accuracy: float
    kept_fraction: float
    fidelity: float
    interpretability: float
    fir: float
    fii: float
    collapsed_fidelity: bool
    collapsed_interpretability: bool
    samples: int

    @property
    def collapsed(self) -> bool:
        return self.collapsed_fidelity or self.collapsed_interpretability

    def as_dict(self) -> dict:
        return {**asdict(self), "collapsed": self.collapsed}


def scores_from(accuracy: float, kept_fraction: float, baseline_accuracy: float, samples: int) -> Scores:
    """Compute F, I, FIR, FII and the collapse flags from accuracy and kept fraction."""
    if not 0 < baseline_accuracy <= 1:
        raise ValueError(f"baseline accuracy must lie in (0, 1], got {baseline_accuracy}")
    fidelity = accuracy / baseline_accuracy
    interpretability = 1.0 - kept_fraction
    total = fidelity + interpretability
    return Scores(
        accuracy=accuracy,
        baseline_accuracy=baseline_accuracy,
        kept_fraction=kept_fraction,
        fidelity=fidelity,
        interpretability=interpretability,
        fir=fidelity / total if total > 0 else math.nan,
        fii=fidelity * interpretability,
        collapsed_fidelity=fidelity < COLLAPSE_THRESHOLD,
        collapsed_interpretability=interpretability < COLLAPSE_THRESHOLD,
        samples=samples,
    )


@torch.no_grad()
def evaluate(model, loader, baseline_accuracy: float, accelerator=None) -> Scores:
    """Score a :class:`~hnsx.model.HideAndSeek` on an evaluation loader (deterministic masks, eval mode).

    With an ``accelerator`` the loader is expected to be prepared by it, and predictions are gathered across
    processes with ``gather_for_metrics`` (duplicates from uneven splits are dropped).
    """
    was_training = model.training
    model.eval()
    correct = kept_sum = 0.0
    count = 0
    try:
        for inputs, targets in loader:
            out = model(inputs)
            hit = (out.logits.argmax(1) == targets).float()
            kept = model.adapter.kept_fraction(out.mask, out.valid)
            if accelerator is not None:
                hit, kept = accelerator.gather_for_metrics((hit, kept))
            correct += float(hit.sum())
            kept_sum += float(kept.sum())
            count += hit.numel()
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("the evaluation loader is empty")
    return scores_from(correct / count, kept_sum / count, baseline_accuracy, count)


@torch.no_grad()
def accuracy(classifier, loader, accelerator=None) -> float:
    """Plain accuracy of a classifier on unmasked inputs (the baseline of Fidelity)."""
    was_training = classifier.training
    classifier.eval()
    correct = 0.0
    count = 0
    try:
        for inputs, targets in loader:
            hit = (classifier(inputs).argmax(1) == targets).float()
            if accelerator is not None:
                hit = accelerator.gather_for_metrics(hit)
            correct += float(hit.sum())
            count += hit.numel()
    finally:
        classifier.train(was_training)
    if count == 0:
        raise ValueError("the evaluation loader is empty")
    return correct / count
