"""Early stopping on the held-out rows, the two places :class:`~hnsx.HnSClassifier` uses it.

* :func:`pretrain_seeker`: the seeker is trained as a plain classifier (Adam, cross-entropy, unmasked rows) for at
  most ``max_epochs``; after each epoch its cross-entropy on the held-out rows is measured, and training stops when
  it has not improved for ``patience`` epochs. The weights of the best epoch are restored, and that epoch's
  held-out accuracy is the baseline of Fidelity (the seeker alone, unmasked).
* :func:`restore_best_epoch`: after the joint training, the epoch whose weights give the lowest training objective
  ``J = alpha * CE + (1 - alpha) * kept_fraction`` on the held-out rows (deterministic masks) is restored. The
  deterministic masks of neighbouring epochs can differ on many rows at once, so the last epoch is often not the
  best one. With a target kept fraction ``R`` (``target_kept``, where alpha is 1 and ``J`` would be the
  cross-entropy alone, lowest for the epoch that keeps the most) the restored epoch is the one with the lowest
  held-out cross-entropy among the epochs whose held-out kept fraction is at most ``R``; when none is, the epoch
  that keeps the least.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from hnsx.constraint import target_rank


@dataclass(frozen=True)
class Pretrained:
    """What :func:`pretrain_seeker` returns besides the seeker."""

    accuracy: float  # held-out accuracy of the restored (best) epoch
    loss: float  # its held-out cross-entropy
    best_epoch: int  # 1-based
    epochs_run: int


@torch.no_grad()
def _held_out(seeker: nn.Module, rows: torch.Tensor, labels: torch.Tensor, batch: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``seeker`` on ``rows (N, F)``."""
    seeker.eval()
    device = next(seeker.parameters()).device
    loss = correct = 0.0
    for start in range(0, len(rows), batch):
        x, y = rows[start : start + batch].to(device), labels[start : start + batch].to(device)
        logits = seeker(x).float()
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += float((logits.argmax(1) == y).sum())
    return loss / len(rows), correct / len(rows)


def pretrain_seeker(
    seeker: nn.Module,
    train: TensorDataset,
    held_out: TensorDataset,
    *,
    max_epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    patience: int | None = 5,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, Pretrained]:
    """Train ``seeker`` on ``train`` and keep the epoch with the lowest cross-entropy on ``held_out``.

    Parameters
    ----------
    seeker:
        The classifier ``(B, F) -> (B, num_classes)``; trained in place and returned with the best epoch's
        weights, in eval mode.
    train, held_out:
        ``TensorDataset(rows (N, F), labels (N,))``.
    max_epochs:
        Epoch budget (at least 1).
    lr, batch_size:
        Adam learning rate and mini-batch size.
    seed:
        Seed of the data order.
    patience:
        Stop after this many epochs without a lower held-out loss; ``None`` trains ``max_epochs`` and still
        restores the best epoch.
    device:
        Where to train.
    """
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 (or None), got {patience}")
    seeker = seeker.to(device)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    rows, labels = held_out.tensors
    optimizer = torch.optim.Adam([p for p in seeker.parameters() if p.requires_grad], lr=lr)
    best_state, best, best_epoch, epoch = None, (float("inf"), 0.0), 0, 0
    for epoch in range(1, max_epochs + 1):
        seeker.train()
        for x, y in loader:
            loss = F.cross_entropy(seeker(x.to(device)).float(), y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scores = _held_out(seeker, rows, labels, 4 * batch_size)
        if best_state is None or scores[0] < best[0]:  # (a NaN loss never improves, but epoch 1 is kept)
            best, best_epoch, best_state = scores, epoch, copy.deepcopy(seeker.state_dict())
        elif patience is not None and epoch - best_epoch >= patience:
            break
    seeker.load_state_dict(best_state)
    return seeker.eval(), Pretrained(accuracy=best[1], loss=best[0], best_epoch=best_epoch, epochs_run=epoch)


@torch.no_grad()
def held_out_scores(model: nn.Module, rows: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and mean kept fraction of a Hide-and-Seek model on held-out rows, with the deterministic
    masks of evaluation."""
    was_training = model.training
    model.eval()
    ce = kept = 0.0
    for start in range(0, len(rows), 4096):
        out = model(rows[start : start + 4096])
        ce += float(F.cross_entropy(out.logits.float(), labels[start : start + 4096], reduction="sum"))
        kept += float(model.adapter.kept_fraction(out.mask, out.valid).sum())
    model.train(was_training)
    return ce / len(rows), kept / len(rows)


def choose_epoch(scores: list[tuple[float, float]], alpha: float, target_kept: float | None = None) -> int:
    """Index of the epoch to restore from its held-out ``(CE, kept fraction)`` pairs: the lowest
    ``alpha * CE + (1 - alpha) * kept``; with ``target_kept`` the lowest CE among those that keep at most the
    target, else the one that keeps the least (:func:`hnsx.constraint.target_rank`)."""
    if target_kept is None:
        return int(np.argmin([alpha * ce + (1 - alpha) * kept for ce, kept in scores]))
    return max(range(len(scores)), key=lambda i: target_rank(scores[i][1], -scores[i][0], target_kept))


def restore_best_epoch(
    model: nn.Module,
    run_dir: str | Path,
    epochs: list[int],
    held_out: TensorDataset,
    alpha: float,
    target_kept: float | None = None,
) -> tuple[int, list[tuple[float, float]]]:
    """Load into ``model`` the epoch checkpoint of ``run_dir`` that :func:`choose_epoch` picks.

    ``epochs`` are the epochs whose checkpoints (``checkpoints/epoch-NNNN``) exist. Returns the chosen epoch and
    the held-out ``(CE, kept fraction)`` of every epoch. The model ends on the CPU, in eval mode.
    """
    from hnsx.training.checkpoint import load_model_state

    if not epochs:
        raise ValueError("no epoch checkpoint to choose from")
    model = model.cpu()
    rows, labels = held_out.tensors
    folder = Path(run_dir) / "checkpoints"
    scores = []
    for epoch in epochs:
        load_model_state(model, folder / f"epoch-{epoch:04d}")
        scores.append(held_out_scores(model, rows, labels))
    best = epochs[choose_epoch(scores, alpha, target_kept)]
    load_model_state(model, folder / f"epoch-{best:04d}")
    return best, scores
