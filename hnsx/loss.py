"""The Hide-and-Seek loss ``J = alpha * CE + (1 - alpha) * kept_fraction`` (paper eq. 23).

``kept_fraction`` is the mean of the mask over valid units (not the sum, so alpha means the same for any input
size); each unit counts as :meth:`~hnsx.binarizers.Binarizer.kept_units` says (the mask itself, or a hard-concrete
training mask's closed-form ``P(z != 0)``). With a target kept fraction
(:class:`~hnsx.constraint.KeptFractionConstraint`) its term ``lambda * (kept_fraction - target)`` is added per
sample. For score-function binarizers the binarizer's REINFORCE term is added, computed from the detached
per-sample ``J``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from hnsx.alpha import check_alpha
from hnsx.binarizers import Binarizer
from hnsx.constraint import KeptFractionConstraint
from hnsx.model import HnSOutput


@dataclass
class LossParts:
    """The loss to backpropagate and its parts (detached floats for logging)."""

    loss: torch.Tensor
    classification: torch.Tensor  # mean cross-entropy (detached)
    kept_fraction: torch.Tensor  # mean kept fraction over valid units (detached)


def check_targets(targets: torch.Tensor, num_classes: int) -> None:
    """Raise ``ValueError`` unless ``targets`` are integer class indices in [0, num_classes)."""
    if targets.dtype.is_floating_point or targets.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {targets.dtype}")
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}) (num_classes={num_classes}); "
            f"got values from {int(targets.min())} to {int(targets.max())}"
        )


def hns_loss(
    output: HnSOutput,
    targets: torch.Tensor,
    alpha: float,
    binarizer: Binarizer,
    kept_fraction_fn,
    constraint: KeptFractionConstraint | None = None,
    extra: torch.Tensor | None = None,
) -> LossParts:
    """Per-batch loss of a :class:`~hnsx.model.HideAndSeek` output.

    Parameters
    ----------
    output:
        The model's forward output.
    targets:
        Class indices ``(B,)``.
    alpha:
        Weight of the classification term, in [0, 1].
    binarizer:
        The model's binarizer (says what a unit counts in the kept fraction; adds its score-function term, if any).
    kept_fraction_fn:
        ``(mask, valid) -> (B,)`` per-sample kept fraction (the adapter's ``kept_fraction``).
    constraint:
        A target kept fraction and its multiplier; its penalty joins the per-sample loss (the caller updates the
        multiplier after the step).
    extra:
        Further per-sample terms ``(B,)`` added to ``J`` (complement control, :mod:`hnsx.complement`), before the
        score-function term that reads ``J``.
    """
    alpha = check_alpha(alpha)
    num_classes = output.logits.shape[1]
    check_targets(targets, num_classes)
    ce = F.cross_entropy(output.logits.float(), targets, reduction="none")
    kept = kept_fraction_fn(binarizer.kept_units(output.hider_logits, output.mask), output.valid)
    per_sample = alpha * ce + (1.0 - alpha) * kept
    if constraint is not None:
        per_sample = per_sample + constraint.penalty(kept)
    if extra is not None:
        per_sample = per_sample + extra
    loss = per_sample.mean() + binarizer.score_loss(output.hider_logits, output.mask, per_sample, output.valid)
    return LossParts(loss=loss, classification=ce.mean().detach(), kept_fraction=kept.mean().detach())
