"""Contrastive Hide-and-Seek, modality-free: a hider conditioned on a pair of classes keeps what a frozen classifier
needs to tell them apart ("why A and not B?"), trained once and answering any pair in one forward pass.

A *pair hider* is any module ``hider(x, a, b) -> logits`` over the adapter's mask units (``a`` the class to explain,
``b`` the probe, both ``(B,)``) with a ``description()`` (its constructor arguments, stored with its weights); each
modality builds its own (images: :mod:`hnsx.adapters.image.contrastive.hns`, one-hot planes beside the channels;
text: :mod:`hnsx.adapters.text.contrastive`, a learned pair embedding added to the token masker's input). The
deterministic binarizer (:class:`hnsx.binarizers.DeterministicBinarizer`, ``st1``) makes the mask ``m``; the seeker
sees ``adapter.apply_mask(x, m)``. Instead of the full cross-entropy, the seeker's *pairwise margin* is the fidelity
term, the two-class logistic loss ``softplus(s_b - s_a)`` on its logits ``s``::

    J = alpha * softplus(s_b - s_a) + (1 - alpha) * kept_fraction(m)

so a unit is worth keeping only when it separates ``a`` from ``b``. With ``target_kept = r`` alpha is not used:
``J = softplus(s_b - s_a) + pull * (kept_fraction(m) - r)`` with the multiplier of ``hnsx train --target-kept``
(:class:`hnsx.constraint.KeptFractionConstraint`, its defaults from :class:`~hnsx.training.config.TrainConfig`),
updated after every step; a constant alpha hid everything on most image pairs within two epochs (docs/contrastive.md).

The seeker is a given classifier, frozen (post-hoc, like ``hns-frozen`` of the benchmarks): the mask explains *that*
classifier, and no code can form between hider and seeker. Training pairs: ``a`` the seeker's prediction on the
unmasked input, ``b`` drawn uniformly among the other classes, so every pair is seen. This is a separate small loop
rather than :func:`hnsx.training.fit`: the conditioning and the pairwise objective are not part of the single-class
Hide-and-Seek model that ``fit`` trains.

Storage: ``hnsx train-contrastive --checkpoint RUN`` keeps the pair hider in ``RUN/contrastive/`` (:func:`hider_folder`)
as one hnsx checkpoint, ``checkpoints/final`` (:func:`save_final`; named latest and best in
``checkpoints/index.json``), the hider's weights only and, in ``state.json``, ``"kind"`` and under the key of that kind
the hider's description and a fingerprint of the classifier's weights; ``hnsx explain --contrast`` reads it back
(:func:`load_contrastive_hns`) around the same classifier, which it recognises by that fingerprint. The image
generator of ``hnsx train-generator`` uses the same folder layout.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from hnsx.binarizers import build_binarizer
from hnsx.constraint import check_target_kept
from hnsx.training.checkpoint import (
    STATE_FILE,
    CheckpointDir,
    CheckpointError,
    load_model_state,
    read_state,
    resolve_checkpoint,
    save_checkpoint,
    weights_fingerprint,
    write_json_atomic,
)
from hnsx.training.config import TrainConfig

KIND = "contrastive-hns"
#: The folder of a run of ``hnsx train`` that ``hnsx train-contrastive`` writes the run's pair hider to.
FOLDER = "contrastive"
#: The kept fraction ``hnsx train-contrastive`` aims at unless told otherwise.
DEFAULT_TARGET_KEPT = 0.2
FINAL = "final"


def save_final(
    module: nn.Module, run_dir: str | os.PathLike, kind: str, description: dict[str, Any], info: dict[str, Any]
) -> Path:
    """Write ``run_dir/checkpoints/final`` atomically: ``module``'s weights, ``{"kind": kind, kind: description,
    **info}``; returns its path."""
    checkpoints = CheckpointDir(run_dir)
    path = save_checkpoint(checkpoints.root / FINAL, module.state_dict(), {"kind": kind, kind: description, **info})
    checkpoints.update_index(latest=FINAL, best=FINAL)
    return path


def read_final(path: str | os.PathLike, kind: str, command: str) -> tuple[Path, dict[str, Any]]:
    """The checkpoint folder of a run folder or checkpoint written by :func:`save_final` and its ``state.json``;
    :class:`~hnsx.training.checkpoint.CheckpointError` when it holds no ``kind`` (naming the ``hnsx command`` that
    writes one)."""
    folder = resolve_checkpoint(path)
    state = read_state(folder)
    if state.get("kind") != kind or not isinstance(state.get(kind), dict):
        raise CheckpointError(f"{path} is not a {kind} checkpoint (written by hnsx {command})")
    return folder, state


class ContrastiveHnS(nn.Module):
    """A trained pair hider with its binarizer (default deterministic, ``st1``; thresholded at evaluation whichever
    it is), the frozen ``seeker`` and the ``adapter``."""

    def __init__(self, hider: nn.Module, seeker: nn.Module, adapter, binarizer: nn.Module | None = None) -> None:
        super().__init__()
        self.hider = hider
        self.seeker = seeker
        self.adapter = adapter
        self.binarizer = build_binarizer("deterministic", "st1") if binarizer is None else binarizer

    def keep_probability(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The hider's keep probability for "why ``a`` and not ``b``" (the adapter's mask shape)."""
        return self.binarizer.probability(self.hider(x, a, b))

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Seeker logits on the masked input and the mask (the adapter's mask shape)."""
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
    """Settings of :func:`train_pair_hider` (``width``: the size of the modality's pair hider)."""

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

    @classmethod
    def from_args(cls, args: Any) -> ContrastiveConfig:
        """The config of ``hnsx train-contrastive``'s options: the target kept fraction (default
        :data:`DEFAULT_TARGET_KEPT`) unless ``--alpha`` is given."""
        target = DEFAULT_TARGET_KEPT if args.target_kept is None else args.target_kept
        return cls(
            alpha=cls.alpha if args.alpha is None else args.alpha,
            target_kept=None if args.alpha is not None else target,
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, width=args.width, seed=args.seed,
        )  # fmt: skip


def train_pair_hider(
    hider: nn.Module,
    seeker: nn.Module,
    adapter,
    train: TensorDataset,
    num_classes: int,
    config: ContrastiveConfig | None = None,
    *,
    binarizer: nn.Module | None = None,
    progress: bool = False,
) -> tuple[ContrastiveHnS, list[dict[str, float]]]:
    """Train the pair ``hider`` (freshly built, seeded by the caller) against the frozen ``seeker`` on the inputs of
    ``train`` through ``binarizer`` (default: :class:`ContrastiveHnS`'s); returns the model (evaluation mode;
    ``seeker`` keeps its weights, its parameters are left with ``requires_grad=False``) and one history row per epoch
    (``loss``, ``margin_loss``, ``kept``, ``pair_accuracy``: share of masked inputs on which the seeker still prefers
    ``a`` to ``b``); ``progress``: a tqdm bar per epoch."""
    config = config or ContrastiveConfig()
    seeker.eval()
    for p in seeker.parameters():
        p.requires_grad_(False)
    inputs = train.tensors[0]
    model = ContrastiveHnS(hider, seeker, adapter, binarizer)
    optimizer = torch.optim.Adam(model.hider.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    loader = DataLoader(TensorDataset(inputs), batch_size=config.batch_size, shuffle=True, generator=generator)
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
            hider_logits = model.hider(x, a, b)
            mask = model.binarizer(hider_logits)
            logits = seeker(adapter.apply_mask(x, mask))
            margin = pairwise_margin_loss(logits, a, b)
            valid = adapter.valid_units(x)
            kept = adapter.kept_fraction(model.binarizer.kept_units(hider_logits, mask), valid)
            if constraint is None:
                per_sample = config.alpha * margin + (1 - config.alpha) * kept
            else:
                per_sample = margin + constraint.penalty(kept)
            # the score-function term of a REINFORCE binarizer (zero for the pathwise ones), as in hnsx.loss
            loss = per_sample.mean() + model.binarizer.score_loss(hider_logits, mask, per_sample, valid)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if constraint is not None:  # the pair hiders have no batch norm: their training masks are their answers
                constraint.update(float(kept.detach().mean()))
            n = len(x)
            sums["loss"] += loss.item() * n
            sums["margin_loss"] += float(margin.detach().mean()) * n
            sums["kept"] += float(kept.detach().mean()) * n
            sums["pair_accuracy"] += float((logits.gather(1, a[:, None]) > logits.gather(1, b[:, None])).sum())
        bar.close()
        history.append({"epoch": epoch + 1, **{k: v / len(inputs) for k, v in sums.items()}})
    return model.eval(), history


def evaluate_contrastive_hns(model: ContrastiveHnS, inputs: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Deterministic masks on ``inputs (N, ...)`` for "why the seeker's prediction ``a`` and not ``b``", ``b``
    drawn (seeded) among the other classes: mean ``kept`` fraction and ``pair_accuracy`` (the seeker still prefers
    ``a`` to ``b`` on the masked input)."""
    generator = torch.Generator().manual_seed(seed)
    kept, agree = 0.0, 0.0
    with torch.no_grad():
        for (x,) in DataLoader(TensorDataset(inputs), batch_size=256):
            unmasked = model.seeker(x)
            a = unmasked.argmax(1)
            b = other_classes(a, unmasked.shape[1], generator)
            logits, mask = model(x, a, b)
            kept += float(model.adapter.kept_fraction(mask, model.adapter.valid_units(x)).sum())
            agree += float((logits.gather(1, a[:, None]) > logits.gather(1, b[:, None])).sum())
    return {"kept": kept / len(inputs), "pair_accuracy": agree / len(inputs)}


def hider_folder(checkpoint: str | os.PathLike) -> Path | None:
    """``RUN/contrastive`` for a run folder ``RUN`` or a checkpoint folder inside one (``RUN/checkpoints/NAME``);
    ``None`` for a checkpoint folder outside a run folder."""
    path = Path(checkpoint)
    if (path / STATE_FILE).is_file():
        if path.parent.name != "checkpoints":
            return None
        path = path.parent.parent
    return path / FOLDER


def new_hider_folder(checkpoint: str | os.PathLike, *, overwrite: bool) -> Path:
    """:func:`hider_folder` of ``hnsx train-contrastive --checkpoint``; ``ValueError`` for a checkpoint outside a
    run folder, or a run that already holds a pair hider (without ``overwrite``)."""
    folder = hider_folder(checkpoint)
    if folder is None:
        raise ValueError(
            f"--checkpoint {checkpoint} is a checkpoint outside a run folder; give the run folder of hnsx train"
        )
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ValueError(f"{folder} already holds a contrastive hider: replace it with --overwrite")
    return folder


def stored_hider(checkpoint: str | os.PathLike) -> Path | None:
    """The pair hider's folder of the run of ``checkpoint`` when ``hnsx train-contrastive`` stored one, else None."""
    folder = hider_folder(checkpoint)
    return folder if folder is not None and (folder / "checkpoints").is_dir() else None


def require_stored_hider(checkpoint: str | os.PathLike, option: str) -> Path:
    """:func:`stored_hider`, or a ValueError naming ``option`` (the flag that asked for it) and how to train one."""
    folder = stored_hider(checkpoint)
    if folder is None:
        raise ValueError(
            f"{option}: {checkpoint} holds no contrastive hider; train one with hnsx train-contrastive --checkpoint RUN"
        )
    return folder


def save_contrastive_hns(
    model: ContrastiveHnS, run_dir: str | os.PathLike, *, config: ContrastiveConfig, info: dict[str, Any]
) -> Path:
    """Write the hider of ``model`` (not the seeker, which is the run's) to ``run_dir/checkpoints/final``."""
    description = {**model.hider.description(), "seeker": weights_fingerprint(model.seeker)}
    return save_final(model.hider, run_dir, KIND, description, {"config": asdict(config), **info})


def seeker_classes(seeker: nn.Module, data: Any) -> int:
    """The number of classes of ``seeker``, read from its answer to one training input of ``data`` (a data set
    with ``train``, ``num_classes`` and ``name``); ``ValueError`` when the data set has another number."""
    with torch.no_grad():
        num_classes = int(seeker(data.train.tensors[0][:1]).shape[1])
    if data.num_classes != num_classes:
        raise ValueError(f"--dataset {data.name} has {data.num_classes} classes, the run's model {num_classes}")
    return num_classes


def check_contrast(
    classifier: nn.Module, batch: Any, names: Sequence[str | os.PathLike], contrast: int
) -> torch.Tensor:
    """The classes ``(B,)`` that ``classifier`` predicts for ``batch``; ``ValueError`` when ``contrast`` is not one
    of its classes or is already the prediction of an input (named by ``names``: its path, or the text)."""
    with torch.no_grad():
        classifier.eval()
        logits = classifier(batch)
    if not 0 <= contrast < logits.shape[1]:
        raise ValueError(f"--contrast {contrast} is not a class of this model (0 to {logits.shape[1] - 1})")
    target = logits.argmax(1)
    same = [str(p) for p, t in zip(names, target.tolist()) if t == contrast]
    if same:
        raise ValueError(f"the model already predicts class {contrast} for {', '.join(same)}; --contrast another")
    return target


def store_trained(
    model: ContrastiveHnS,
    history: list[dict[str, float]],
    folder: str | os.PathLike,
    config: ContrastiveConfig,
    eval_inputs: torch.Tensor,
    *,
    dataset: str,
    checkpoint: str,
) -> tuple[Path, dict[str, float]]:
    """What ``hnsx train-contrastive`` keeps of a trained ``model``: its hider (:func:`save_contrastive_hns`) and
    ``folder/metrics.json`` (the ``history`` and, on ``eval_inputs``, :func:`evaluate_contrastive_hns` seeded with
    ``config.seed``); returns the checkpoint path and the evaluation scores."""
    scores = evaluate_contrastive_hns(model, eval_inputs, seed=config.seed)
    info = {"dataset": dataset, "checkpoint": checkpoint, "history": history, "eval": scores}
    path = save_contrastive_hns(model, folder, config=config, info=info)
    write_json_atomic(Path(folder) / "metrics.json", info)
    return path, scores


def load_contrastive_hns(
    path: str | os.PathLike, seeker: nn.Module, adapter, build: Callable[[dict[str, Any]], nn.Module]
) -> ContrastiveHnS:
    """The :class:`ContrastiveHnS` stored in ``path`` by :func:`save_contrastive_hns` around ``seeker`` (evaluation
    mode), its hider rebuilt by ``build(description)``; ``CheckpointError`` when ``seeker`` is not the classifier it
    was trained against or the description does not fit ``build``."""
    folder, state = read_final(path, KIND, "train-contrastive")
    spec = state[KIND]
    if spec.get("seeker") != weights_fingerprint(seeker):
        raise CheckpointError(
            f"the contrastive hider in {path} was trained against another classifier than this checkpoint's "
            f"(trained on {state.get('checkpoint', 'another checkpoint')}); train it again with hnsx train-contrastive"
        )
    try:
        hider = build(spec)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} has an incomplete hider description ({err})") from None
    load_model_state(hider, folder)
    return ContrastiveHnS(hider, seeker, adapter).eval()


__all__ = [
    "DEFAULT_TARGET_KEPT",
    "FINAL",
    "FOLDER",
    "KIND",
    "ContrastiveConfig",
    "ContrastiveHnS",
    "check_contrast",
    "evaluate_contrastive_hns",
    "hider_folder",
    "load_contrastive_hns",
    "new_hider_folder",
    "other_classes",
    "pairwise_margin_loss",
    "read_final",
    "save_contrastive_hns",
    "save_final",
    "seeker_classes",
    "store_trained",
    "require_stored_hider",
    "stored_hider",
    "train_pair_hider",
]
