"""Run folders of the contrastive explainers' own models: the generator of ``hnsx train-generator`` and the pair
hider of ``hnsx train-contrastive``.

Such a folder holds one hnsx checkpoint, ``checkpoints/final`` (named latest and best in ``checkpoints/index.json``),
with the module's state dict in ``model.safetensors`` and, in ``state.json``, ``"kind"`` and under the key of that
kind the description that rebuilds the module (its constructor arguments), beside whatever else the caller adds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from hnsx.training.checkpoint import CheckpointDir, CheckpointError, read_state, resolve_checkpoint, save_checkpoint

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


__all__ = ["FINAL", "read_final", "save_final"]
