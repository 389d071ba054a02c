"""Ranking mask units by an explainer's scores, and picking the top ones.

Every benchmark turns an attribution map into a ranking of the units (pixels, words, features): signed methods by
``|score|`` (:func:`ranking_scores`), ties in a seeded random order per row so that flat maps pick neither the
first units nor the same units on every row (:func:`rank_order`), units that do not exist (empty word slots) last.
The top fraction or count of each row is then removed, kept or compared with a ground truth.

Flattened helpers work on ``(N, U)`` rows (:func:`rank_order`, :func:`top_units`, ...); the ``*_units`` helpers of
:func:`rank_units` keep the adapter's mask shape ``(B, *mask_shape)``.
"""

from __future__ import annotations

import math

import torch

from hnsx.benchmarks.explainers import Explainer


def ranking_scores(explainer: Explainer, scores: torch.Tensor) -> torch.Tensor:
    """Scores to rank units by: ``|scores|`` for signed methods (``explainer.rank_by_abs``), else the scores."""
    return scores.abs() if explainer.rank_by_abs else scores


def rank_order(scores: torch.Tensor, valid: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` int64: per row, the unit indices from the highest score to the lowest, invalid units last.

    Ties are broken in a random order drawn per row (seeded), so that flat maps (Grad-CAM's zeros, a constant keep
    probability) pick neither the first units nor the same units on every row.
    """
    n, u = scores.shape
    perm = torch.argsort(torch.rand(n, u, generator=torch.Generator().manual_seed(seed)), dim=1)
    shuffled = scores.float().gather(1, perm).masked_fill(~valid.bool().gather(1, perm), -math.inf)
    return perm.gather(1, torch.argsort(shuffled, dim=1, descending=True, stable=True))


def order_ranks(order: torch.Tensor) -> torch.Tensor:
    """``(N, U)`` int64: the rank of every unit (0 for the first) of a :func:`rank_order` (its inverse permutation)."""
    n, u = order.shape
    ranks = torch.empty(n, u, dtype=torch.long, device=order.device)
    ranks.scatter_(1, order.long(), torch.arange(u, device=order.device).expand(n, u).contiguous())
    return ranks


def fraction_counts(valid_counts: torch.Tensor, fraction: float) -> torch.Tensor:
    """``round(fraction * valid_counts)`` per row, for ``fraction`` in [0, 1] (``ValueError`` otherwise)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fractions must lie in [0, 1], got {fraction}")
    return torch.round(valid_counts.double() * fraction).long()


def top_from_order(order: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``(N, U)`` bool: the first ``counts[i]`` units of row ``i`` of a :func:`rank_order`."""
    n, u = order.shape
    top = torch.zeros(n, u, dtype=torch.bool)
    top.scatter_(1, order.long(), torch.arange(u).expand(n, u) < counts.long().unsqueeze(1))
    return top


def top_counts(scores: torch.Tensor, valid: torch.Tensor, counts: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` bool: per row ``i``, the ``counts[i]`` valid units with the highest ``scores`` (ties in a seeded
    random order per row, :func:`rank_order`)."""
    return top_from_order(rank_order(scores, valid, seed=seed), counts)


def top_units(scores: torch.Tensor, valid: torch.Tensor, fraction: float, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` bool: per row, the ``round(fraction * valid units)`` valid units with the highest ``scores``."""
    return top_counts(scores, valid, fraction_counts(valid.sum(1), fraction), seed=seed)


# --- in the adapter's mask shape ------------------------------------------------------------------------------------


def flat_valid(scores: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """``(B, U)`` bool: which units of ``scores (B, *mask_shape)`` exist (all when ``valid`` is ``None``)."""
    if valid is None:
        return torch.ones(scores.shape[0], scores[0].numel(), dtype=torch.bool, device=scores.device)
    if valid.shape != scores.shape:
        raise ValueError(f"valid has shape {tuple(valid.shape)} but the scores {tuple(scores.shape)}")
    return valid.flatten(1) > 0


def rank_units(scores: torch.Tensor, valid: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Rank of every unit, ``(B, *mask_shape)`` int64: 0 for the highest score; invalid units rank after all valid.

    Ties are broken by a seeded random permutation (so that a constant map ranks its units at random, not in
    reading order).
    """
    if not torch.isfinite(scores).all():
        raise ValueError("attribution scores contain NaN or inf")
    order = rank_order(scores.detach().flatten(1).cpu(), flat_valid(scores, valid).cpu(), seed=seed)
    return order_ranks(order).view(scores.shape).to(scores.device)


def top_k_mask(ranks: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``(B, *mask_shape)`` float, 1 for the ``k[b]`` best-ranked units of sample ``b`` (``ranks`` from
    :func:`rank_units`, ``k`` ``(B,)``)."""
    view = (-1,) + (1,) * (ranks.dim() - 1)
    return (ranks < k.to(ranks.device).view(view)).float()


def count_valid(scores: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Number of valid units per sample, ``(B,)`` int64."""
    return flat_valid(scores, valid).sum(1).cpu()


def units_at(fraction: float, n: torch.Tensor, at_least_one: bool = False) -> torch.Tensor:
    """``round(fraction * n)`` units per sample (at least 1 with ``at_least_one``), ``(B,)`` int64."""
    k = torch.round(fraction * n.double()).long()
    return k.clamp(min=1).minimum(n) if at_least_one else k


__all__ = [
    "count_valid",
    "flat_valid",
    "fraction_counts",
    "order_ranks",
    "rank_order",
    "rank_units",
    "ranking_scores",
    "top_counts",
    "top_from_order",
    "top_k_mask",
    "top_units",
    "units_at",
]
