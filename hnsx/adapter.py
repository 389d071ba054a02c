"""The modality contract: what a mask covers, how hidden units are filled, and which units count.

An :class:`Adapter` sits between the binarizer and the seeker in the one-directional flow

    x --hider--> logits --binarizer--> m --adapter.apply_mask(x, m)--> x_masked --seeker--> class logits

Concrete adapters live in :mod:`hnsx.adapters` (image, ...).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from hnsx.registry import BUILTIN_MODALITIES, Registry

ADAPTERS: Registry[Adapter] = Registry("adapter", builtins=BUILTIN_MODALITIES)


class InputError(ValueError):
    """Raised when an input tensor does not fit the model (rank, channels, size, NaN or inf)."""


def check_finite(x: torch.Tensor, name: str = "input") -> None:
    """Raise :class:`InputError` if a floating tensor holds NaN or inf."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise InputError(f"{name} contains {bad} NaN or inf value(s); clean or impute the data first")


class Adapter(nn.Module, ABC):
    """Base class of a modality adapter.

    Subclasses must implement :meth:`validate`, :meth:`mask_shape`, :meth:`apply_mask` and :meth:`config`;
    they may override :meth:`valid_units` (default: every unit counts).
    """

    name: str = ""
    #: Side lengths of the square blocks that random masks over this adapter's units are drawn in (the leak-free
    #: seeker's and the label-encoding evaluator's masks, :func:`hnsx.training.evaluator.random_masks`); ``(1,)``:
    #: unit by unit.
    mask_blocks: tuple[int, ...] = (1,)

    @abstractmethod
    def validate(self, x: torch.Tensor) -> None:
        """Raise :class:`InputError` naming the problem if ``x`` does not fit this adapter."""

    @abstractmethod
    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        """Shape of the mask for ``x``, including the batch dimension."""

    @abstractmethod
    def apply_mask(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The seeker's input: ``x`` where ``mask == 1``, the fill value where ``mask == 0``."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this adapter (JSON-serialisable; tensors go in the state dict)."""

    def pretrain_target(self, x: torch.Tensor) -> torch.Tensor:
        """What the hider reconstructs when pretrained as an autoencoder (``init="pretrained-hider"`` / ``"both"``):
        ``(B, *mask_shape)`` in [0, 1]. Adapters without one (the default) raise ``ValueError``."""
        raise ValueError(
            f"the {self.name or type(self).__name__} adapter has no hider pretraining target: "
            "use init 'scratch' or 'pretrained-seeker'"
        )

    def valid_units(self, x: torch.Tensor) -> torch.Tensor | None:
        """``(B, *mask_shape)`` {0, 1} of units that count towards the kept fraction, or ``None`` for all."""
        return None

    def kept_fraction(self, mask: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        """Per-sample fraction of valid units kept, shape ``(B,)``."""
        flat = mask.float().flatten(1)
        if valid is None:
            return flat.mean(1)
        v = valid.float().flatten(1)
        return (flat * v).sum(1) / v.sum(1).clamp_min(1.0)

    def num_units(self, x: torch.Tensor) -> int:
        return math.prod(self.mask_shape(x)[1:])
