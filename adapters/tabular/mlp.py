"""The network shared by the tabular hider and seeker: one-hot categorical codes, then a ReLU MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class FeatureEncoder(nn.Module):
    """``(B, F)`` schema-transformed rows to ``(B, D)`` network inputs.

    Numeric columns pass through; a categorical column with cardinality ``K + 1`` (its categories and the
    missing code) becomes ``K + 1`` one-hot columns. ``D = #numeric + sum of cardinalities``.

    Parameters
    ----------
    cardinalities:
        Per column: 0 for numeric, ``K + 1`` for categorical (:attr:`TabularSchema.cardinalities`).
    """

    def __init__(self, cardinalities: Sequence[int]) -> None:
        super().__init__()
        self.cardinalities = [int(c) for c in cardinalities]
        self.numeric = [i for i, c in enumerate(self.cardinalities) if c == 0]
        self.categorical = [i for i, c in enumerate(self.cardinalities) if c > 0]
        self.out_features = len(self.numeric) + sum(self.cardinalities)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.categorical:
            return x
        parts = [x[:, self.numeric]] if self.numeric else []
        for i in self.categorical:
            k = self.cardinalities[i]
            codes = x[:, i].round().long().clamp(0, k - 1)
            parts.append(F.one_hot(codes, k).to(x.dtype))
        return torch.cat(parts, dim=1)


class TabularMLP(nn.Module):
    """``(B, F) -> (B, out_features)``: :class:`FeatureEncoder`, then Linear-ReLU layers, then a Linear head.

    Parameters
    ----------
    cardinalities:
        Per input column: 0 for numeric, ``K + 1`` for categorical.
    out_features:
        Width of the output (mask logits: ``F``; class logits: ``num_classes``).
    hidden:
        Widths of the hidden layers.
    head_bias:
        Initial bias of the output layer (``None``: PyTorch's default initialisation).
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        out_features: int,
        hidden: Sequence[int] = (64, 64),
        head_bias: float | None = None,
    ) -> None:
        super().__init__()
        self.encoder = FeatureEncoder(cardinalities)
        widths = [self.encoder.out_features, *[int(h) for h in hidden]]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], int(out_features))
        if head_bias is not None:
            nn.init.constant_(self.head.bias, head_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.encoder(x)))
