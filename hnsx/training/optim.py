"""The optimizer and learning-rate schedule of joint training: per-part learning rates, a torch scheduler.

Adam over the trainable parameters. With ``hider_lr`` or ``seeker_lr`` set the hider's and the seeker's parameters
form their own parameter groups at those rates (a pretrained transformer seeker wants a far lower rate than a fresh
hider); everything else (and a part whose rate is not set) trains at ``lr``. Without them there is one group, as
before, so that old checkpoints' optimizer states still load.

``lr_schedule`` names a torch scheduler stepped once per optimizer step over the run's whole budget
(``epochs * steps per epoch``): ``constant`` (none), ``cosine`` (``CosineAnnealingLR`` to 0), ``linear``
(``LinearLR`` from the full rate to 0). Its state is JSON and is saved in checkpoints.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

LR_SCHEDULES = ("constant", "cosine", "linear")


def parameter_groups(model: nn.Module, lr: float, hider_lr: float | None, seeker_lr: float | None) -> list[dict]:
    """Adam parameter groups of ``model`` (a :class:`~hnsx.model.HideAndSeek`): trainable parameters only."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters")
    if hider_lr is None and seeker_lr is None:
        return [{"params": trainable, "lr": lr}]
    groups, taken = [], set()
    for part, rate in (("hider", hider_lr), ("seeker", seeker_lr)):
        params = [p for p in getattr(model, part).parameters() if p.requires_grad]
        taken.update(id(p) for p in params)
        if params:
            groups.append({"params": params, "lr": rate if rate is not None else lr})
    rest = [p for p in trainable if id(p) not in taken]
    if rest:
        groups.append({"params": rest, "lr": lr})
    return groups


def build_optimizer(model: nn.Module, config: Any) -> torch.optim.Optimizer:
    """Adam with the groups of :func:`parameter_groups` for ``config`` (a TrainConfig)."""
    return torch.optim.Adam(parameter_groups(model, config.lr, config.hider_lr, config.seeker_lr), lr=config.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, name: str, total_steps: int):
    """The torch scheduler ``name`` (one of :data:`LR_SCHEDULES`) over ``total_steps``; ``None`` for constant."""
    if name == "constant":
        return None
    steps = max(1, int(total_steps))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=0.0)
    if name == "linear":
        return torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=steps)
    raise ValueError(f"unknown lr_schedule {name!r}; choose one of: {', '.join(LR_SCHEDULES)}")
