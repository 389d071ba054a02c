"""Metric classes of the benchmarks, each stating its score direction (higher or lower is better), as Quantus does.

A :class:`Metric` has a ``name``, a ``title``, a ``category`` and ``higher_is_better``; ``__call__`` is a fixed
template per category (check the inputs, rank the units once, compute per sample) and returns per-sample arrays.
:data:`METRICS` lists them by name; reports take their arrows (``↑`` / ``↓``) from it.

Faithfulness without retraining (``hnsx bench faithfulness``; a *hidden* unit takes the adapter's fill, ``prob_fn(x,
keep)`` gives the class probabilities with only the kept units):

* :class:`Deletion` (AUC, lower is better) and :class:`Insertion` (AUC, higher is better): the probability of the
  target class as the top ``f`` of the units are hidden (deletion) or alone kept (insertion), ``f`` on a grid of
  ``steps + 1`` points from 0 to 1 (``k = round(f * n)`` of ``n`` valid units); area by the trapezoid rule.
* :class:`Comprehensiveness` (higher is better) and :class:`Sufficiency` (lower is better), ERASER (DeYoung et al.
  2020): ``p(x) - p(x without the top f)`` and ``p(x) - p(only the top f of x)`` with ``k = max(1, round(f * n))``
  per bin ``f``.

Localisation against known relevant units: :class:`RationaleF1` and :class:`RationaleIoU` of the top ``k`` units,
``k`` the sample's number of true units (higher is better).

Randomisation (``hnsx bench sanity``): :class:`Spearman` (of ``|maps|`` or signed) and :class:`SSIM` between the
maps before and after a model is randomised; *lower* is better (a map that stays the same ignores the model).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from hnsx.benchmarks.ranking import count_valid, flat_valid, rank_units, top_k_mask, units_at
from hnsx.benchmarks.similarity import gaussian_window, normalise_abs, spearman, ssim

#: ERASER's bins: fractions of the units for comprehensiveness and sufficiency.
BINS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)

#: ``prob_fn(x, mask) -> (B, K)`` class probabilities of the classifier on ``x`` with the units where ``mask == 0``
#: filled; ``mask`` has the adapter's mask shape.
ProbFn = Callable[[Any, torch.Tensor], torch.Tensor]


class Metric(ABC):
    """A named score with a direction; subclasses implement :meth:`evaluate` (per category, a fixed signature)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    category: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True

    @abstractmethod
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Per-sample values of the metric (the signature is fixed per category)."""

    @property
    def arrow(self) -> str:
        """``"↑"`` when higher is better, else ``"↓"``."""
        return "↑" if self.higher_is_better else "↓"

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


# --- faithfulness: perturbation of the top-ranked units --------------------------------------------------------------


def _class_prob(prob_fn: ProbFn, x: Any, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        probs = prob_fn(x, mask)
    return probs.gather(1, target.view(-1, 1).to(probs.device)).squeeze(1).float().cpu()


def trapezoid_auc(fractions: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Area under ``values`` ``(..., S)`` over ``fractions`` ``(S,)`` from 0 to 1, by the trapezoid rule."""
    f = np.asarray(fractions, dtype=np.float64)
    if f[0] != 0.0 or f[-1] != 1.0 or np.any(np.diff(f) <= 0):
        raise ValueError("the fraction grid must rise strictly from 0 to 1")
    v = np.asarray(values, dtype=np.float64)
    return ((v[..., 1:] + v[..., :-1]) / 2 * np.diff(f)).sum(-1)


class PerturbationMetric(Metric):
    """``metric(prob_fn, x, scores, target, valid=None, seed=0) -> {key: (B, ...)}``: rank the units of ``scores``
    (``(B, *mask_shape)``, ties in a seeded random order), then hide or keep the top ones (:meth:`evaluate`)."""

    category = "faithfulness"
    #: Keep only the top units (insertion, sufficiency) instead of hiding them (deletion, comprehensiveness).
    keep_top: ClassVar[bool] = False

    def __call__(
        self,
        prob_fn: ProbFn,
        x: Any,
        scores: torch.Tensor,
        target: torch.Tensor,
        valid: torch.Tensor | None = None,
        seed: int = 0,
    ) -> dict[str, np.ndarray]:
        ranks = rank_units(scores, valid, seed)
        return self.evaluate(prob_fn, x, ranks, count_valid(scores, valid), target)

    def probability(self, prob_fn: ProbFn, x: Any, top: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B,)`` probability of ``target`` with the ``top`` units hidden, or alone kept (:attr:`keep_top`)."""
        return _class_prob(prob_fn, x, top if self.keep_top else 1.0 - top, target)

    @abstractmethod
    def evaluate(
        self, prob_fn: ProbFn, x: Any, ranks: torch.Tensor, n: torch.Tensor, target: torch.Tensor
    ) -> dict[str, np.ndarray]: ...


class Deletion(PerturbationMetric):
    """Deletion curve ``(B, steps + 1)`` and its AUC ``(B,)``: the top units hidden."""

    name = "deletion_auc"
    title = "deletion AUC"
    higher_is_better = False
    curve = "deletion"

    def __init__(self, steps: int = 20) -> None:
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.fractions = np.linspace(0.0, 1.0, steps + 1)

    def evaluate(self, prob_fn, x, ranks, n, target) -> dict[str, np.ndarray]:
        curve = torch.stack(
            [self.probability(prob_fn, x, top_k_mask(ranks, units_at(float(f), n)), target) for f in self.fractions], 1
        ).numpy()
        return {self.curve: curve, self.name: trapezoid_auc(self.fractions, curve)}


class Insertion(Deletion):
    """Insertion curve ``(B, steps + 1)`` and its AUC ``(B,)``: only the top units kept."""

    name = "insertion_auc"
    title = "insertion AUC"
    higher_is_better = True
    curve = "insertion"
    keep_top = True


class Comprehensiveness(PerturbationMetric):
    """``p(x) - p(x without the top f)`` per bin ``f``: ``(B, len(bins))``."""

    name = "comprehensiveness"
    title = "comprehensiveness"
    higher_is_better = True

    def __init__(self, bins: Sequence[float] = BINS) -> None:
        self.bins = tuple(bins)

    def evaluate(self, prob_fn, x, ranks, n, target) -> dict[str, np.ndarray]:
        full = _class_prob(prob_fn, x, torch.ones_like(ranks, dtype=torch.float), target)
        drops = [
            full - self.probability(prob_fn, x, top_k_mask(ranks, units_at(float(f), n, at_least_one=True)), target)
            for f in self.bins
        ]
        return {self.name: torch.stack(drops, 1).numpy()}


class Sufficiency(Comprehensiveness):
    """``p(x) - p(only the top f of x)`` per bin ``f``: ``(B, len(bins))``."""

    name = "sufficiency"
    title = "sufficiency"
    higher_is_better = False
    keep_top = True


def perturbation_curves(
    prob_fn: ProbFn,
    x: Any,
    scores: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    steps: int = 20,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Deletion and insertion curves of one batch: ``deletion`` and ``insertion`` ``(B, steps + 1)`` probabilities of
    ``target`` at the fractions ``fractions`` ``(steps + 1,)``."""
    deletion, insertion = Deletion(steps), Insertion(steps)
    return {
        "fractions": deletion.fractions,
        "deletion": deletion(prob_fn, x, scores, target, valid, seed)["deletion"],
        "insertion": insertion(prob_fn, x, scores, target, valid, seed)["insertion"],
    }


def eraser_scores(
    prob_fn: ProbFn,
    x: Any,
    scores: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    bins: Sequence[float] = BINS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-sample comprehensiveness and sufficiency ``(B, len(bins))``."""
    return {
        **Comprehensiveness(bins)(prob_fn, x, scores, target, valid, seed),
        **Sufficiency(bins)(prob_fn, x, scores, target, valid, seed),
    }


def mask_scores(
    prob_fn: ProbFn, x: Any, mask: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> dict[str, np.ndarray]:
    """Comprehensiveness, sufficiency and kept fraction ``(B,)`` of a binary mask taken as the set of kept units."""
    mask = (mask > 0.5).float()
    full = _class_prob(prob_fn, x, torch.ones_like(mask), target)
    ok = flat_valid(mask, valid).float().cpu()
    kept = ((mask.flatten(1).cpu() * ok).sum(1) / ok.sum(1).clamp_min(1)).numpy()
    return {
        "comprehensiveness": (full - _class_prob(prob_fn, x, 1.0 - mask, target)).numpy(),
        "sufficiency": (full - _class_prob(prob_fn, x, mask, target)).numpy(),
        "kept_fraction": kept,
    }


def own_seeker_comprehensiveness(model: Any, x: torch.Tensor, bins: Sequence[float] = BINS) -> dict[str, float]:
    """ERASER figures of a Hide-and-Seek ``model``'s explanations of ``x`` under its own seeker (hidden units filled by
    its adapter), for the class the seeker predicts on the full input; means over the inputs.

    ``comprehensiveness``, ``sufficiency`` and ``kept_fraction`` of the deterministic mask as a set
    (:func:`mask_scores`), and ``aopc_comprehensiveness`` of the keep-probability ranking over ``bins``
    (:class:`Comprehensiveness`). Leaves ``model`` in eval mode."""
    model.eval()
    valid = model.adapter.valid_units(x)

    def prob(inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return model.seeker(model.adapter.apply_mask(inputs, keep)).float().softmax(1)

    with torch.inference_mode():
        target = prob(x, torch.ones(model.adapter.mask_shape(x), device=x.device)).argmax(1)
    ranked = Comprehensiveness(bins)(prob, x, model.explain_scores(x), target, valid)["comprehensiveness"]
    as_set = mask_scores(prob, x, model.explain(x).float(), target, valid)
    return {**{k: float(v.mean()) for k, v in as_set.items()}, "aopc_comprehensiveness": float(ranked.mean())}


# --- localisation: known relevant units ------------------------------------------------------------------------------


def set_overlap(selected: torch.Tensor, gold: torch.Tensor, valid: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-sample F1 and IoU of selected units against gold units (both ``(B, *mask_shape)`` {0, 1}).

    ``F1 = 2 |S ∩ G| / (|S| + |G|)``, ``IoU = |S ∩ G| / |S ∪ G|``; samples without a gold unit get NaN.
    """
    ok = flat_valid(gold, valid).float().cpu()
    s = (selected.flatten(1).float().cpu() > 0.5).float() * ok
    g = (gold.flatten(1).float().cpu() > 0.5).float() * ok
    hit = (s * g).sum(1)
    size_s, size_g = s.sum(1), g.sum(1)
    union = size_s + size_g - hit
    has_gold = size_g > 0
    f1 = torch.where(has_gold, 2 * hit / (size_s + size_g).clamp_min(1), torch.full_like(hit, float("nan")))
    iou = torch.where(has_gold, hit / union.clamp_min(1), torch.full_like(hit, float("nan")))
    return {"f1": f1.numpy(), "iou": iou.numpy()}


def rationale_top_k(
    scores: torch.Tensor, gold: torch.Tensor, valid: torch.Tensor | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """F1 and IoU of the top ``k`` units, ``k`` = the sample's number of gold units (see :func:`set_overlap`)."""
    ok = flat_valid(scores, valid).cpu()
    k = ((gold.flatten(1).cpu() > 0.5) & ok).sum(1)
    return set_overlap(top_k_mask(rank_units(scores, valid, seed).cpu(), k), gold, valid)


class RationaleF1(Metric):
    """``metric(scores, gold, valid=None, seed=0) -> (B,)``: F1 of the top ``k`` units against the true ones."""

    name = "rationale_f1"
    title = "rationale F1"
    category = "localisation"
    higher_is_better = True
    key = "f1"

    def __call__(
        self, scores: torch.Tensor, gold: torch.Tensor, valid: torch.Tensor | None = None, seed: int = 0
    ) -> np.ndarray:
        return rationale_top_k(scores, gold, valid, seed)[self.key]


class RationaleIoU(RationaleF1):
    """IoU of the top ``k`` units against the true ones."""

    name = "rationale_iou"
    title = "rationale IoU"
    key = "iou"


# --- randomisation: similarity of maps before and after ---------------------------------------------------------------


class Spearman(Metric):
    """``metric(original, changed, valid=None) -> (B,)``: Spearman rank correlation of the signed maps."""

    name = "spearman"
    title = "Spearman rank correlation of signed attributions"
    category = "randomisation"
    higher_is_better = False

    def __call__(self, original: torch.Tensor, changed: torch.Tensor, valid: torch.Tensor | None = None) -> np.ndarray:
        return spearman(original, changed, valid)


class AbsSpearman(Spearman):
    """Spearman rank correlation of ``|maps|``."""

    name = "spearman_abs"
    title = "Spearman rank correlation of |attributions|"

    def __call__(self, original: torch.Tensor, changed: torch.Tensor, valid: torch.Tensor | None = None) -> np.ndarray:
        return spearman(original.abs(), changed.abs(), valid)


class SSIM(Spearman):
    """SSIM of ``|maps| / max`` (image maps ``(B, 1, H, W)`` of at least 11 x 11 pixels; :func:`applies`)."""

    name = "ssim"
    title = "SSIM of |attributions| / max"

    @staticmethod
    def applies(maps: torch.Tensor) -> bool:
        return maps.dim() == 4 and min(maps.shape[-2:]) >= gaussian_window().numel()

    def __call__(self, original: torch.Tensor, changed: torch.Tensor, valid: torch.Tensor | None = None) -> np.ndarray:
        return ssim(normalise_abs(original), normalise_abs(changed))


#: Every metric by name.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Deletion(),
        Insertion(),
        Comprehensiveness(),
        Sufficiency(),
        RationaleF1(),
        RationaleIoU(),
        AbsSpearman(),
        Spearman(),
        SSIM(),
    )
}


def arrow(name: str) -> str:
    """The direction arrow of metric ``name`` (:data:`METRICS`)."""
    return METRICS[name].arrow


__all__ = [
    "BINS",
    "METRICS",
    "SSIM",
    "AbsSpearman",
    "Comprehensiveness",
    "Deletion",
    "Insertion",
    "Metric",
    "PerturbationMetric",
    "ProbFn",
    "RationaleF1",
    "RationaleIoU",
    "Spearman",
    "Sufficiency",
    "arrow",
    "eraser_scores",
    "mask_scores",
    "own_seeker_comprehensiveness",
    "perturbation_curves",
    "rationale_top_k",
    "set_overlap",
    "trapezoid_auc",
]
