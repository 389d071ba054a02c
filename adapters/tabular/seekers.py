"""Tabular seeker: an MLP classifier ``(B, F) -> (B, num_classes)``. Any ``nn.Module`` on ``(B, F)`` works too."""

from __future__ import annotations

from collections.abc import Sequence

from hnsx.adapters.tabular.mlp import TabularMLP
from hnsx.registry import SEEKERS


@SEEKERS.register("tabular-mlp")
def tabular_mlp_seeker(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    cardinalities: Sequence[int] | None = None,
    hidden: Sequence[int] = (64, 64),
) -> TabularMLP:
    """An MLP seeker for ``(B, F)`` tables (categorical codes one-hot encoded, the missing code included).

    Parameters
    ----------
    input_shape:
        ``(F,)``.
    num_classes:
        Number of classes.
    cardinalities:
        Per column: 0 numeric, ``K + 1`` categorical; ``None``: every column numeric.
    hidden:
        Hidden layer widths.
    """
    (num_features,) = (int(s) for s in input_shape)
    cards = list(cardinalities) if cardinalities is not None else [0] * num_features
    if len(cards) != num_features:
        raise ValueError(f"{len(cards)} cardinalities for {num_features} features")
    return TabularMLP(cards, num_classes, hidden=hidden)
