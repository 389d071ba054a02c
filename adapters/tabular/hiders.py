"""Tabular hider: an MLP giving one mask logit per feature, ``(B, F) -> (B, F)``.

The output bias starts at ``init_keep_logit`` so that a fresh hider keeps every feature (``sigmoid(1) ~ 0.73``)
and the seeker sees whole rows while it learns.
"""

from __future__ import annotations

from collections.abc import Sequence

from hnsx.adapters.tabular.mlp import TabularMLP
from hnsx.registry import HIDERS


@HIDERS.register("tabular-mlp")
def tabular_mlp_hider(
    *,
    input_shape: Sequence[int],
    cardinalities: Sequence[int] | None = None,
    hidden: Sequence[int] = (64, 64),
    init_keep_logit: float = 1.0,
) -> TabularMLP:
    """An MLP hider for ``(B, F)`` tables.

    Parameters
    ----------
    input_shape:
        ``(F,)``.
    cardinalities:
        Per column: 0 numeric, ``K + 1`` categorical; ``None``: every column numeric.
    hidden:
        Hidden layer widths.
    init_keep_logit:
        Initial bias of the output layer.
    """
    (num_features,) = (int(s) for s in input_shape)
    cards = list(cardinalities) if cardinalities is not None else [0] * num_features
    if len(cards) != num_features:
        raise ValueError(f"{len(cards)} cardinalities for {num_features} features")
    return TabularMLP(cards, num_features, hidden=hidden, head_bias=init_keep_logit)
