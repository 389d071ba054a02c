"""Fidelity, Interpretability, FIR, FII and collapse flags (paper section 2), on an evaluation split.

* Interpretability ``I = 1 - kept_fraction`` (the share of valid units hidden).
* Fidelity ``F = accuracy(HnS) / accuracy(seeker alone on unmasked inputs)`` (eq. 2).
* ``FIR = F / (F + I)`` (eq. 3), ``FII = F * I`` (eq. 4).
* Collapse: ``I < 0.2`` (hides almost nothing) or ``F < 0.2`` (accuracy lost, typically near chance while
  hiding almost everything); the thresholds are the paper's (Table 1: "< 20 %"). With few classes ``F < 0.2`` cannot
  happen at chance (two balanced classes: ``F`` is about 0.5 when the seeker guesses), so Fidelity has also collapsed
  when the accuracy is *near chance*: at most ``chance + CHANCE_MARGIN * (baseline - chance)``, where ``chance`` is
  the accuracy of always answering the evaluation split's most frequent class (:func:`evaluate` counts it). On ten
  balanced classes with a good baseline the two rules agree (``0.1 + 0.1 * 0.88 ~ 0.19``).

These functions never see training batches: :func:`evaluate` takes an evaluation loader and runs in eval mode,
so masks are deterministic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

COLLAPSE_THRESHOLD = 0.2
#: Near chance: within this share of the way from chance accuracy to the baseline accuracy.
CHANCE_MARGIN = 0.1


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
    #: Accuracy of always answering the evaluation split's most frequent class (``None``: not known).
    chance_accuracy: float | None = None

    @property
    def collapsed(self) -> bool:
        return self.collapsed_fidelity or self.collapsed_interpretability

    def as_dict(self) -> dict:
        return {**asdict(self), "collapsed": self.collapsed}


def near_chance(accuracy: float, baseline_accuracy: float, chance_accuracy: float) -> bool:
    """Whether ``accuracy`` is at most ``chance + CHANCE_MARGIN * (baseline - chance)`` (see the module docstring)."""
    return accuracy <= chance_accuracy + CHANCE_MARGIN * max(0.0, baseline_accuracy - chance_accuracy)


def scores_from(
    accuracy: float,
    kept_fraction: float,
    baseline_accuracy: float,
    samples: int,
    chance_accuracy: float | None = None,
) -> Scores:
    """Compute F, I, FIR, FII and the collapse flags from accuracy and kept fraction (``chance_accuracy``: the
    most frequent class's share of the evaluation split, for the near-chance rule; ``None`` skips that rule)."""
    if not 0 < baseline_accuracy <= 1:
        raise ValueError(f"baseline accuracy must lie in (0, 1], got {baseline_accuracy}")
    if chance_accuracy is not None and not 0 < chance_accuracy <= 1:
        raise ValueError(f"chance accuracy must lie in (0, 1], got {chance_accuracy}")
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
        collapsed_fidelity=fidelity < COLLAPSE_THRESHOLD
        or (chance_accuracy is not None and near_chance(accuracy, baseline_accuracy, chance_accuracy)),
        collapsed_interpretability=interpretability < COLLAPSE_THRESHOLD,
        samples=samples,
        chance_accuracy=chance_accuracy,
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
    per_class: dict[int, int] = {}
    try:
        for inputs, targets in loader:
            out = model(inputs)
            hit = (out.logits.argmax(1) == targets).float()
            kept = model.adapter.kept_fraction(out.mask, out.valid)
            if accelerator is not None:
                hit, kept, targets = accelerator.gather_for_metrics((hit, kept, targets))
            correct += float(hit.sum())
            kept_sum += float(kept.sum())
            count += hit.numel()
            for label, n in zip(*(t.tolist() for t in targets.unique(return_counts=True))):
                per_class[label] = per_class.get(label, 0) + n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("the evaluation loader is empty")
    chance = max(per_class.values()) / count
    return scores_from(correct / count, kept_sum / count, baseline_accuracy, count, chance_accuracy=chance)


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
