"""The tabular adapter: one mask unit per feature, ``(B, F)``; a hidden feature takes its fill value.

Inputs are the float32 ``(B, F)`` tables that :meth:`~hnsx.adapters.tabular.schema.TabularSchema.transform`
produces: standardised numeric columns and integer-coded categorical columns. A hidden numeric feature takes its
training mean (0 after standardisation); a hidden categorical feature takes its dedicated "missing" code ``K``
(one past its ``K`` training categories), which the MLPs one-hot encode as a category of its own.
"""

from __future__ import annotations

from typing import Any

import torch

from hnsx.adapter import ADAPTERS, Adapter, InputError
from hnsx.adapters.tabular.schema import CATEGORICAL, TabularSchema


@ADAPTERS.register("tabular")
class TabularAdapter(Adapter):
    """Feature masks ``(B, F)`` for tables of a fitted :class:`TabularSchema`.

    Parameters
    ----------
    schema:
        The fitted schema as a dict (:meth:`TabularSchema.to_dict`); stored in the model spec, so checkpoints
        restore the preprocessing with the model.
    target:
        Optional description of the label: ``{"name": column name or None, "classes": [class names]}``, kept for
        display (``hnsx explain``) and to map predictions back to labels.
    """

    name = "tabular"

    def __init__(self, schema: dict[str, Any], target: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.schema = TabularSchema.from_dict(schema)
        self.target = dict(target) if target else None
        self.categorical = [i for i, c in enumerate(self.schema.columns) if c.kind == CATEGORICAL]
        self.register_buffer("fill", torch.tensor(self.schema.fill, dtype=torch.float32))

    @property
    def num_features(self) -> int:
        return self.schema.num_features

    def validate(self, x: torch.Tensor) -> None:
        f = self.num_features
        if not isinstance(x, torch.Tensor):
            raise InputError(f"tables must be a torch.Tensor of shape (B, {f}), got {type(x).__name__}")
        if x.dim() != 2:
            raise InputError(f"tables must have rank 2 (B, F) = (B, {f}); got shape {tuple(x.shape)}")
        if x.shape[1] != f:
            raise InputError(f"the table has {x.shape[1]} feature(s) but the model expects {f}")
        if not x.is_floating_point():
            raise InputError(f"tables must be floating point (the schema's transform), got dtype {x.dtype}")

    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], self.num_features)

    def apply_mask(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x * m + fill * (1 - m)``: ``x`` and ``mask`` ``(B, F)``, ``fill`` ``(F,)``."""
        mask = mask.to(x.dtype)
        return x * mask + self.fill.to(x.dtype) * (1 - mask)

    def config(self) -> dict[str, Any]:
        return {"schema": self.schema.to_dict(), "target": self.target}
