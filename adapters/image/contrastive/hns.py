"""Contrastive Hide-and-Seek: a hider conditioned on a pair of classes keeps what a classifier needs to tell them
apart ("why A and not B?"), trained once and answering any pair in one forward pass.

The hider sees the image and the pair ``(a, b)`` (``a`` the class to explain, ``b`` the probe) as ``2K`` constant
one-hot planes concatenated to the channels, and gives one logit per pixel. The deterministic binarizer
(:class:`hnsx.binarizers.DeterministicBinarizer`, ``st1``) makes the mask ``m``; the seeker sees
``adapter.apply_mask(x, m)``. Instead of the full cross-entropy, the seeker's *pairwise margin* is the fidelity
term, the two-class logistic loss ``softplus(s_b - s_a)`` on its logits ``s``::

    J = alpha * softplus(s_b - s_a) + (1 - alpha) * kept_fraction(m)

so a pixel is worth keeping only when it separates ``a`` from ``b``. With ``target_kept = r`` alpha is not used:
``J = softplus(s_b - s_a) + pull * (kept_fraction(m) - r)`` with the multiplier of ``hnsx train --target-kept``
(:class:`hnsx.constraint.KeptFractionConstraint`, its defaults from :class:`~hnsx.training.config.TrainConfig`),
updated after every step; a constant alpha hid everything on most pairs within two epochs (docs/contrastive.md).

The seeker is a given classifier, frozen (post-hoc, like ``hns-frozen`` of the benchmarks): the mask explains *that*
classifier, and no code can form between hider and seeker. Training pairs: ``a`` the seeker's prediction on the unmasked
image, ``b`` drawn uniformly among the other classes, so every pair is seen. This is a separate small loop rather than
:func:`hnsx.training.fit`: the conditioning and the pairwise objective are not part of the single-class Hide-and-Seek
model that ``fit`` trains.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hnsx.binarizers import build_binarizer
from hnsx.constraint import check_target_kept
from hnsx.training.config import TrainConfig


class PairHider(nn.Module):
    """Per-pixel keep logits ``(B, 1, H, W)`` of images ``(B, C, H, W)`` for class pairs ``a, b (B,)``."""

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.num_classes = num_classes
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


class ContrastiveHnS(nn.Module):
    """A trained :class:`PairHider` with its binarizer, the frozen ``seeker`` and the image ``adapter``."""

    def __init__(self, hider: PairHider, seeker: nn.Module, adapter) -> None:
        super().__init__()
        self.hider = hider
        self.seeker = seeker
        self.adapter = adapter
        self.binarizer = build_binarizer("deterministic", "st1")

    def keep_probability(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)``: the hider's keep probability for "why ``a`` and not ``b``"."""
        return self.binarizer.probability(self.hider(x, a, b))

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeker logits on the masked input and the mask ``(B, 1, H, W)``."""
        mask = self.binarizer(self.hider(x, a, b))
        return self.seeker(self.adapter.apply_mask(x, mask)), mask


def pairwise_margin_loss(logits: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``softplus(s_b - s_a) (B,)``: the two-class cross-entropy of ``a`` against ``b``."""
    return F.softplus(logits.gather(1, b[:, None]) - logits.gather(1, a[:, None]))[:, 0]


def other_classes(a: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A class drawn uniformly among those other than ``a`` for each row ``(B,)``."""
    shift = torch.randint(1, num_classes, a.shape, generator=generator)
    return (a + shift) % num_classes


@dataclass(frozen=True)
class ContrastiveConfig:
    """Settings of :func:`train_contrastive_hns`."""

    alpha: float = 0.6
    target_kept: float | None = None
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        for name in ("epochs", "batch_size", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.target_kept is not None:
            check_target_kept(self.target_kept)


def train_contrastive_hns(
    seeker: nn.Module, adapter, train: TensorDataset, num_classes: int, config: ContrastiveConfig | None = None
) -> tuple[ContrastiveHnS, list[dict[str, float]]]:
    """Train a pair-conditioned hider against the frozen ``seeker`` on the images of ``train``; returns the model
    (evaluation mode; ``seeker`` keeps its weights, its parameters are left with ``requires_grad=False``) and one
    history row per epoch (``loss``, ``margin_loss``, ``kept``, ``pair_accuracy``: share of masked inputs on which
    the seeker still prefers ``a`` to ``b``)."""
    config = config or ContrastiveConfig()
    torch.manual_seed(config.seed)
    seeker.eval()
    for p in seeker.parameters():
        p.requires_grad_(False)
    images = train.tensors[0]
    model = ContrastiveHnS(PairHider(images.shape[1], num_classes, config.width), seeker, adapter)
    optimizer = torch.optim.Adam(model.hider.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    loader = DataLoader(TensorDataset(images), batch_size=config.batch_size, shuffle=True, generator=generator)
    constraint = TrainConfig(target_kept=config.target_kept).constraint()  # None without a target
    history = []
    for epoch in range(config.epochs):
        model.hider.train()
        sums = {"loss": 0.0, "margin_loss": 0.0, "kept": 0.0, "pair_accuracy": 0.0}
        for (x,) in loader:
            with torch.no_grad():
                a = seeker(x).argmax(1)
            b = other_classes(a, num_classes, generator)
            logits, mask = model(x, a, b)
            margin = pairwise_margin_loss(logits, a, b)
            kept = adapter.kept_fraction(mask, adapter.valid_units(x))
            if constraint is None:
                loss = (config.alpha * margin + (1 - config.alpha) * kept).mean()
            else:
                loss = (margin + constraint.penalty(kept)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if constraint is not None:  # the hider has no batch norm: its training masks are its explanations
                constraint.update(float(kept.detach().mean()))
            n = len(x)
            sums["loss"] += loss.item() * n
            sums["margin_loss"] += float(margin.detach().mean()) * n
            sums["kept"] += float(kept.detach().mean()) * n
            sums["pair_accuracy"] += float((logits.gather(1, a[:, None]) > logits.gather(1, b[:, None])).sum())
        history.append({"epoch": epoch + 1, **{k: v / len(images) for k, v in sums.items()}})
    return model.eval(), history


__all__ = [
    "ContrastiveConfig",
    "ContrastiveHnS",
    "PairHider",
    "other_classes",
    "pairwise_margin_loss",
    "train_contrastive_hns",
]
