"""Contrastive Hide-and-Seek for images: the pixel pair hider ("why A and not B?").

The objective, the training loop against a frozen classifier and the run-folder storage are the modality-free ones
of :mod:`hnsx.contrastive` (re-exported here); this module adds the image hider. :class:`PairHider` sees the image
and the pair ``(a, b)`` (``a`` the class to explain, ``b`` the probe) as ``2K`` constant one-hot planes concatenated
to the channels, and gives one logit per pixel.

``hnsx train-contrastive --checkpoint RUN`` trains one against the classifier of an image run of ``hnsx train`` and
stores it in ``RUN/contrastive/``; ``hnsx explain --checkpoint RUN --contrast CLASS`` reads it back
(:func:`load_contrastive_hns`).
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from hnsx import contrastive
from hnsx.contrastive import (
    DEFAULT_TARGET_KEPT,
    FOLDER,
    KIND,
    ContrastiveConfig,
    ContrastiveHnS,
    evaluate_contrastive_hns,
    hider_folder,
    other_classes,
    pairwise_margin_loss,
    save_contrastive_hns,
)


class PairHider(nn.Module):
    """Per-pixel keep logits ``(B, 1, H, W)`` of images ``(B, C, H, W)`` for class pairs ``a, b (B,)``."""

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.channels = channels
        self.num_classes = num_classes
        self.width = width
        self.net = nn.Sequential(
            nn.Conv2d(channels + 2 * num_classes, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.ReLU(),
            nn.Conv2d(width, 1, 1),
        )

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        planes = torch.cat([F.one_hot(a, self.num_classes), F.one_hot(b, self.num_classes)], 1).to(x.dtype)
        planes = planes[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return self.net(torch.cat([x, planes], 1))

    def description(self) -> dict[str, Any]:
        """The constructor arguments, stored with the weights."""
        return {"channels": self.channels, "num_classes": self.num_classes, "width": self.width}


def build_pair_hider(description: dict[str, Any]) -> PairHider:
    """The :class:`PairHider` of a stored description."""
    return PairHider(int(description["channels"]), int(description["num_classes"]), int(description["width"]))


def train_contrastive_hns(
    seeker: nn.Module,
    adapter,
    train: TensorDataset,
    num_classes: int,
    config: ContrastiveConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[ContrastiveHnS, list[dict[str, float]]]:
    """A :class:`PairHider` trained against the frozen ``seeker`` on the images of ``train``
    (:func:`hnsx.contrastive.train_pair_hider`)."""
    config = config or ContrastiveConfig()
    torch.manual_seed(config.seed)
    hider = PairHider(train.tensors[0].shape[1], num_classes, config.width)
    return contrastive.train_pair_hider(hider, seeker, adapter, train, num_classes, config, progress=progress)


def load_contrastive_hns(path: str | os.PathLike, seeker: nn.Module, adapter) -> ContrastiveHnS:
    """The image :class:`ContrastiveHnS` stored in ``path`` around ``seeker`` (evaluation mode)."""
    return contrastive.load_contrastive_hns(path, seeker, adapter, build_pair_hider)


__all__ = [
    "DEFAULT_TARGET_KEPT",
    "FOLDER",
    "KIND",
    "ContrastiveConfig",
    "ContrastiveHnS",
    "PairHider",
    "build_pair_hider",
    "evaluate_contrastive_hns",
    "hider_folder",
    "load_contrastive_hns",
    "other_classes",
    "pairwise_margin_loss",
    "save_contrastive_hns",
    "train_contrastive_hns",
]
