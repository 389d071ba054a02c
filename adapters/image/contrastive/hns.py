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

``hnsx train-contrastive --checkpoint RUN`` trains one against the classifier of a run of ``hnsx train`` and stores
it in ``RUN/contrastive/`` (:func:`save_contrastive_hns`, the run folder layout of :mod:`~.store`, the hider's
weights only); ``hnsx explain --checkpoint RUN --contrast CLASS`` reads it back (:func:`load_contrastive_hns`)
around the same classifier, which it recognises by a fingerprint of its weights.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from hnsx.adapters.image.contrastive.store import read_final, save_final
from hnsx.binarizers import build_binarizer
from hnsx.constraint import check_target_kept
from hnsx.training.checkpoint import STATE_FILE, CheckpointError, load_model_state
from hnsx.training.config import TrainConfig

KIND = "contrastive-hns"
#: The folder of a run of ``hnsx train`` that ``hnsx train-contrastive`` writes the run's pair hider to.
FOLDER = "contrastive"
#: The kept fraction ``hnsx train-contrastive`` aims at unless told otherwise.
DEFAULT_TARGET_KEPT = 0.2


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
    seeker: nn.Module,
    adapter,
    train: TensorDataset,
    num_classes: int,
    config: ContrastiveConfig | None = None,
    *,
    progress: bool = False,
) -> tuple[ContrastiveHnS, list[dict[str, float]]]:
    """Train a pair-conditioned hider against the frozen ``seeker`` on the images of ``train``; returns the model
    (evaluation mode; ``seeker`` keeps its weights, its parameters are left with ``requires_grad=False``) and one
    history row per epoch (``loss``, ``margin_loss``, ``kept``, ``pair_accuracy``: share of masked inputs on which
    the seeker still prefers ``a`` to ``b``); ``progress``: a tqdm bar per epoch."""
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
        bar = tqdm(total=len(loader), desc=f"contrastive hider {epoch + 1}/{config.epochs}", disable=not progress)
        for (x,) in loader:
            bar.update()
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
        bar.close()
        history.append({"epoch": epoch + 1, **{k: v / len(images) for k, v in sums.items()}})
    return model.eval(), history


def evaluate_contrastive_hns(model: ContrastiveHnS, images: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Deterministic masks on ``images (N, C, H, W)`` for "why the seeker's prediction ``a`` and not ``b``", ``b``
    drawn (seeded) among the other classes: mean ``kept`` fraction and ``pair_accuracy`` (the seeker still prefers
    ``a`` to ``b`` on the masked input)."""
    generator = torch.Generator().manual_seed(seed)
    kept, agree = 0.0, 0.0
    with torch.no_grad():
        for (x,) in DataLoader(TensorDataset(images), batch_size=256):
            a = model.seeker(x).argmax(1)
            b = other_classes(a, model.hider.num_classes, generator)
            logits, mask = model(x, a, b)
            kept += float(model.adapter.kept_fraction(mask, model.adapter.valid_units(x)).sum())
            agree += float((logits.gather(1, a[:, None]) > logits.gather(1, b[:, None])).sum())
    return {"kept": kept / len(images), "pair_accuracy": agree / len(images)}


def seeker_fingerprint(seeker: nn.Module) -> str:
    """SHA-256 of ``seeker``'s state dict (names, shapes and values): which classifier a stored hider explains."""
    digest = hashlib.sha256()
    for name, tensor in sorted(seeker.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def hider_folder(checkpoint: str | os.PathLike) -> Path | None:
    """``RUN/contrastive`` for a run folder ``RUN`` or a checkpoint folder inside one (``RUN/checkpoints/NAME``);
    ``None`` for a checkpoint folder outside a run folder."""
    path = Path(checkpoint)
    if (path / STATE_FILE).is_file():
        if path.parent.name != "checkpoints":
            return None
        path = path.parent.parent
    return path / FOLDER


def save_contrastive_hns(
    model: ContrastiveHnS, run_dir: str | os.PathLike, *, config: ContrastiveConfig, info: dict[str, Any]
) -> Path:
    """Write the hider of ``model`` (not the seeker, which is the run's) to ``run_dir/checkpoints/final``."""
    hider = model.hider
    description = {"channels": hider.channels, "num_classes": hider.num_classes, "width": hider.width,
                   "seeker": seeker_fingerprint(model.seeker)}  # fmt: skip
    return save_final(hider, run_dir, KIND, description, {"config": asdict(config), **info})


def load_contrastive_hns(path: str | os.PathLike, seeker: nn.Module, adapter) -> ContrastiveHnS:
    """The :class:`ContrastiveHnS` stored in ``path`` by :func:`save_contrastive_hns` around ``seeker`` (evaluation
    mode); ``CheckpointError`` when ``seeker`` is not the classifier it was trained against."""
    folder, state = read_final(path, KIND, "train-contrastive")
    spec = state[KIND]
    try:
        hider = PairHider(int(spec["channels"]), int(spec["num_classes"]), int(spec["width"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} has an incomplete hider description ({err})") from None
    if spec.get("seeker") != seeker_fingerprint(seeker):
        raise CheckpointError(
            f"the contrastive hider in {path} was trained against another classifier than this checkpoint's "
            f"(trained on {state.get('checkpoint', 'another checkpoint')}); train it again with hnsx train-contrastive"
        )
    load_model_state(hider, folder)
    return ContrastiveHnS(hider, seeker, adapter).eval()


__all__ = [
    "DEFAULT_TARGET_KEPT",
    "FOLDER",
    "KIND",
    "ContrastiveConfig",
    "ContrastiveHnS",
    "PairHider",
    "evaluate_contrastive_hns",
    "hider_folder",
    "load_contrastive_hns",
    "other_classes",
    "pairwise_margin_loss",
    "save_contrastive_hns",
    "seeker_fingerprint",
    "train_contrastive_hns",
]
