"""The tabular adapter: one mask unit per feature, ``(B, F)``; a hidden feature takes its fill value.

Inputs are the float32 ``(B, F)`` tables that :meth:`~hnsx.adapters.tabular.schema.TabularSchema.transform`
produces: standardised numeric columns and integer-coded categorical columns. A hidden numeric feature takes its
training mean (0 after standardisation); a hidden categorical feature takes its dedicated "missing" code ``K``
(one past its ``K`` training categories), which the MLPs encode as a category of its own.

Filling in the encoded space
----------------------------
A category code is a label, not a number: ``m * code + (1 - m) * K`` followed by rounding gives the keep decision
of a categorical feature no gradient at all. So :meth:`TabularAdapter.apply_mask` returns a :class:`MaskedRows`
tensor: its values are the filled ``(B, F)`` rows above (what any seeker, yours included, reads), and it also
carries the mask ``keep`` and the unmasked ``rows``. The built-in MLPs
(:class:`~hnsx.adapters.tabular.mlp.FeatureEncoder`) mix a categorical column in the encoded space,
``keep * onehot(code) + (1 - keep) * onehot(K)`` (or the same mixture of embeddings), exactly as the text seeker
mixes token embeddings, so ``dCE/dm`` is the change of the loss between the kept and the missing category. For a
binary mask the forward pass is unchanged: a hidden feature is the missing code's one-hot.
"""

from __future__ import annotations

from typing import Any

import torch

from hnsx.adapter import ADAPTERS, Adapter, InputError
from hnsx.adapters.tabular.schema import CATEGORICAL, TabularSchema


class MaskedRows(torch.Tensor):
    """The seeker's input: the filled ``(B, F)`` rows as a tensor, with the mask and the unmasked rows attached.

    Attributes
    ----------
    keep:
        ``(B, F)`` float mask in {0, 1} (carries the hider's gradient).
    rows:
        ``(B, F)`` the unmasked rows (their category codes are what ``keep`` mixes with the missing code).

    Operations on it return plain tensors (``__torch_function__`` is disabled), so the attributes never travel
    to a slice or a copy where they would no longer match.
    """

    __torch_function__ = torch._C._disabled_torch_function_impl

    keep: torch.Tensor
    rows: torch.Tensor


def masked_parts(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(rows, keep)`` of a :class:`MaskedRows` input; ``(x, None)`` for a plain ``(B, F)`` tensor."""
    keep = getattr(x, "keep", None)
    rows = getattr(x, "rows", None)
    if keep is None or rows is None:
        return x, None
    return rows, keep


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

    def apply_mask(self, x: torch.Tensor, mask: torch.Tensor) -> MaskedRows:
        """``x * m + fill * (1 - m)`` as a :class:`MaskedRows` carrying ``m`` and ``x``: ``x`` and ``mask``
        ``(B, F)``, ``fill`` ``(F,)``."""
        mask = mask.to(x.dtype)
        out = (x * mask + self.fill.to(device=x.device, dtype=x.dtype) * (1 - mask)).as_subclass(MaskedRows)
        out.keep = mask
        out.rows = x
        return out

    def config(self) -> dict[str, Any]:
        return {"schema": self.schema.to_dict(), "target": self.target}
