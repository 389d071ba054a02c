"""The network shared by the tabular hider and seeker: categorical columns one-hot or embedded, then a ReLU MLP.

Masked rows (:class:`~hnsx.adapters.tabular.adapter.MaskedRows`) are encoded in the encoded space: a categorical
column with keep value ``m`` becomes ``m * onehot(code) + (1 - m) * onehot(K)`` (with embeddings,
``m * E[code] + (1 - m) * E[K]``), ``K`` its missing code, so the keep decision gets the gradient of the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from hnsx.adapters.tabular.adapter import masked_parts

#: Largest embedding width of a categorical column.
MAX_EMBEDDING = 16
#: Multiplier of the wide path's logits (:class:`TabularMLP`, ``wide=True``). Adam moves each weight by about the
#: learning rate per step, so at the seeker's rate (5e-4) and early-stopped budget (a few hundred steps) an
#: unscaled linear path reached coefficients of about 0.15, where logistic regression on HMDA and Wage has 1.5 to
#: 2.3: the path was there but barely used. Scaled by 10 it reaches them (1 to 2 on the same runs).
WIDE_SCALE = 10.0


def embedding_size(cardinality: int) -> int:
    """Width of a categorical column's embedding: ``round(1.6 * n ** 0.56)`` (fastai's rule of thumb) for ``n``
    codes (categories and the missing code), at least 2, at most :data:`MAX_EMBEDDING` and at most ``n``."""
    n = int(cardinality)
    return max(2, min(MAX_EMBEDDING, n, round(1.6 * n**0.56)))


class FeatureEncoder(nn.Module):
    """``(B, F)`` schema-transformed rows to ``(B, D)`` network inputs.

    Numeric columns pass through; a categorical column with cardinality ``K + 1`` (its categories and the missing
    code) becomes ``K + 1`` one-hot columns, or its learned embedding (``embed=True``, width
    :func:`embedding_size`). Numeric columns come first, then the categorical ones in column order. A
    :class:`~hnsx.adapters.tabular.adapter.MaskedRows` input is mixed per column with its keep values (see the
    module docstring); a plain tensor is encoded as it is (a missing code is its own category).

    Parameters
    ----------
    cardinalities:
        Per column: 0 for numeric, ``K + 1`` for categorical (:attr:`TabularSchema.cardinalities`).
    embed:
        Learned embeddings instead of one-hot columns.
    """

    def __init__(self, cardinalities: Sequence[int], embed: bool = False) -> None:
        super().__init__()
        self.cardinalities = [int(c) for c in cardinalities]
        self.numeric = [i for i, c in enumerate(self.cardinalities) if c == 0]
        self.categorical = [i for i, c in enumerate(self.cardinalities) if c > 0]
        cards = [self.cardinalities[i] for i in self.categorical]
        self.embeddings = nn.ModuleList(nn.Embedding(k, embedding_size(k)) for k in cards) if embed else None
        widths = [embedding_size(k) for k in cards] if embed else cards
        self.out_features = len(self.numeric) + sum(widths)

    def _encode(self, j: int, codes: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``(N,)`` codes of the ``j``-th categorical column to ``(N, width)``."""
        if self.embeddings is not None:
            return self.embeddings[j](codes).to(dtype)
        return F.one_hot(codes, self.cardinalities[self.categorical[j]]).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, keep = masked_parts(x)
        x = x.as_subclass(torch.Tensor) if keep is not None else x  # the filled values, as a plain tensor
        if not self.categorical:
            return x
        parts = [x[:, self.numeric]] if self.numeric else []
        for j, i in enumerate(self.categorical):
            k = self.cardinalities[i]
            codes = rows[:, i].detach().round().long().clamp(0, k - 1)
            encoded = self._encode(j, codes, x.dtype)
            if keep is not None:
                m = keep[:, i : i + 1].to(x.dtype)
                missing = self._encode(j, torch.full_like(codes[:1], k - 1), x.dtype)
                encoded = m * encoded + (1 - m) * missing
            parts.append(encoded)
        return torch.cat(parts, dim=1)


class TabularMLP(nn.Module):
    """``(B, F) -> (B, out_features)``: :class:`FeatureEncoder`, then Linear(-LayerNorm)-ReLU(-Dropout) layers,
    then a Linear head; with ``wide=True`` plus a linear model of the one-hot encoded rows ("wide & deep").

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
    embed:
        Learned embeddings for categorical columns instead of one-hot columns.
    layer_norm:
        A ``LayerNorm`` after each hidden Linear layer.
    dropout:
        Dropout probability after each hidden layer (0: none).
    wide:
        Add a linear path to the output: ``Linear(onehot(x))`` on the one-hot encoded rows (standardised numeric
        columns, one column per category and the missing code, mixed with the mask as in :class:`FeatureEncoder`),
        initialised to zero and multiplied by :data:`WIDE_SCALE`. The network then contains logistic regression on
        the same encoding, so the deep path only has to learn what a linear model misses.

    The defaults (one-hot, no normalisation, no dropout) are the original architecture, which the specs of older
    checkpoints describe; :func:`~hnsx.adapters.tabular.spec.tabular_spec` chooses the current seeker defaults.
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        out_features: int,
        hidden: Sequence[int] = (64, 64),
        head_bias: float | None = None,
        embed: bool = False,
        layer_norm: bool = False,
        dropout: float = 0.0,
        wide: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.encoder = FeatureEncoder(cardinalities, embed=embed)
        widths = [self.encoder.out_features, *[int(h) for h in hidden]]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers.append(nn.Linear(a, b))
            if layer_norm:
                layers.append(nn.LayerNorm(b))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], int(out_features))
        if head_bias is not None:
            nn.init.constant_(self.head.bias, head_bias)
        self.wide: nn.Sequential | None = None
        if wide:
            linear = FeatureEncoder(cardinalities)
            self.wide = nn.Sequential(linear, nn.Linear(linear.out_features, int(out_features)))
            nn.init.zeros_(self.wide[1].weight)
            nn.init.zeros_(self.wide[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.body(self.encoder(x)))
        return out if self.wide is None else out + WIDE_SCALE * self.wide(x)
