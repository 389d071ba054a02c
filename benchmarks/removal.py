"""Removing mask units from inputs, and what models predict with only some units kept.

A removed unit takes the fill its modality's adapter gives a hidden unit (images: the per-channel training mean;
text: the mask token; tables: the training mean or the missing code), as the modality's ``remove_units`` hook
writes it into an input that any classifier can train on (:mod:`hnsx.benchmarks.hooks`). Unit masks are either in
the adapter's mask shape or flattened per input ``(B, U)``, as :func:`flatten_units` numbers them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hnsx.benchmarks.hooks import hooks
from hnsx.model import HideAndSeek


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def unit_shape(data: Any, inputs: torch.Tensor) -> tuple[int, ...]:
    """The mask shape of ``inputs`` (image ``(B, 1, H, W)``, text ``(B, L)``, tabular ``(B, F)``)."""
    return tuple(data.adapter.mask_shape(inputs))


def flatten_units(data: Any, inputs: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of one batch as ``(B, U)`` and which of the ``U`` unit slots exist ``(B, U)`` bool.

    Image ``(B, 1, H, W)`` -> ``U = H * W``; text ``(B, L)`` (slots without a word are not valid); tabular ``(B, F)``.
    """
    flat = scores.reshape(scores.shape[0], -1)
    valid = data.adapter.valid_units(inputs)
    valid = torch.ones_like(flat, dtype=torch.bool) if valid is None else valid.reshape(flat.shape).bool()
    return flat, valid


def remove_units(data: Any, inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``inputs`` with the units where ``keep`` is 0 filled as the modality's adapter fills hidden units.

    ``keep`` is the unit mask, in the adapter's mask shape or flattened ``(B, U)``. Image and tabular: exactly
    ``adapter.apply_mask``. Text: the token ids of hidden words become the fill token (the text hooks'
    ``remove_units``).
    """
    keep = keep.reshape(unit_shape(data, inputs)).to(inputs.device)
    return hooks(data.modality).remove_units(data.adapter, inputs, keep)


@torch.no_grad()
def masked_predictions(
    model: nn.Module, data: Any, inputs: torch.Tensor, keep: torch.Tensor | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Predicted classes ``(N,)`` of ``model`` on ``inputs`` with only the units where ``keep (N, U)`` is 1 kept
    (hidden units filled by :func:`remove_units`); all units when ``keep`` is ``None``."""
    device = device_of(model)
    out = []
    for start in range(0, inputs.shape[0], batch_size):
        x = inputs[start : start + batch_size].to(device)
        if keep is not None:
            x = remove_units(data, x, keep[start : start + batch_size])
        out.append(model(x).argmax(1).cpu())
    return torch.cat(out)


@torch.no_grad()
def hns_masks(model: HideAndSeek, data: Any, inputs: torch.Tensor, batch_size: int = 256):
    """HnS predictions ``(N,)``, masks ``(N, U)`` bool and valid units ``(N, U)`` bool (deterministic masks)."""
    device = device_of(model)
    classes, masks, valid = [], [], []
    for start in range(0, inputs.shape[0], batch_size):
        x = inputs[start : start + batch_size].to(device)
        predicted, mask, _ = model.predict_explain(x)
        flat, ok = flatten_units(data, x, mask)
        classes.append(predicted.cpu())
        masks.append((flat > 0.5).cpu() & ok.cpu())
        valid.append(ok.cpu())
    return torch.cat(classes), torch.cat(masks), torch.cat(valid)


__all__ = ["device_of", "flatten_units", "hns_masks", "masked_predictions", "remove_units", "unit_shape"]
