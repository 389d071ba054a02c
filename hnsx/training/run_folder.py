"""The run folder of :func:`hnsx.training.fit`: ``history.jsonl`` and ``checkpoints/``, written by the main process.

::

    history.jsonl            one JSON record per epoch (training losses, alpha, eval F / I / FIR / FII, time)
    checkpoints/epoch-0003/  every epoch (the last ``keep_last`` kept), with optimizer and RNG state for resume
    checkpoints/phase-01-alpha-1.00/   weights at the end of each adaptive-alpha phase
    checkpoints/pretraining/ after each pretraining phase, until the first epoch checkpoint
    checkpoints/best/        the best epoch that did not collapse: the highest FII, or with a target kept fraction
                             the most faithful epoch within it (:func:`hnsx.constraint.target_rank`)
    checkpoints/index.json   names of the latest and best checkpoints
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from hnsx.training.checkpoint import (
    TRAINING_FILE,
    CheckpointDir,
    CheckpointError,
    load_model_state,
    read_tensors,
    save_checkpoint,
    write_json_atomic,
)

HISTORY_FILE = "history.jsonl"
#: The checkpoint of the pretraining phases (:data:`hnsx.training.pretrain.PRETRAINING`), the latest until epoch 1.
PRETRAINING = "pretraining"
BEST = "best"


def _lines(records: list[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)


def legacy_alpha_state(state: dict[str, Any]) -> dict[str, Any]:
    """The alpha schedule's state of a checkpoint's ``state.json``.

    Checkpoints written before the schedule owned its smoothing (hnsx up to commit ce1a1a5) keep the moving average
    of the classification loss beside it, as ``smoothed_loss``; it becomes the schedule's ``smoothed``.
    """
    alpha = dict(state["alpha"])
    if "smoothed" not in alpha and state.get("smoothed_loss") is not None:
        alpha["smoothed"] = state["smoothed_loss"]
    return alpha


class RunFolder:
    """``history.jsonl`` and the checkpoints of one run; every write happens on the main process only."""

    def __init__(self, out: str | Path, keep_last: int, main: bool = True) -> None:
        self.out = Path(out)
        self.ckpts = CheckpointDir(self.out, keep_last)
        self.history_path = self.out / HISTORY_FILE
        self.main = main

    def clear(self) -> None:
        """Start a fresh run here: create the folder, forget an old run's history and checkpoints (an old epoch
        checkpoint left beside the new ones would be resumed from, or would push the new run's own out when pruned)."""
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            if self.history_path.exists():
                self.history_path.unlink()
            if self.ckpts.root.is_dir():
                shutil.rmtree(self.ckpts.root)

    def latest(self) -> Path:
        """The latest checkpoint's folder (temporaries of a killed write removed first)."""
        if self.main:
            self.ckpts.remove_stale()
        index = self.ckpts.index()
        if "latest" not in index:
            raise CheckpointError(f"nothing to resume in {self.out}: no checkpoint index")
        return self.ckpts.root / index["latest"]

    def load_latest(self, model: torch.nn.Module) -> tuple[dict[str, Any], Path]:
        """Load the latest checkpoint's weights into ``model``; its ``state.json`` and its folder."""
        latest = self.latest()
        return load_model_state(model, latest), latest

    @staticmethod
    def training_tensors(checkpoint: Path) -> dict[str, torch.Tensor]:
        """Optimizer tensors and RNG state of an epoch checkpoint."""
        return read_tensors(checkpoint, TRAINING_FILE)

    def history(self, upto_epoch: int) -> list[dict]:
        """History records up to ``upto_epoch``; later lines (written after the last checkpoint) are dropped from the
        file too."""
        if not self.history_path.is_file():
            return []
        records = [json.loads(line) for line in self.history_path.read_text().splitlines() if line.strip()]
        records = [r for r in records if r["epoch"] <= upto_epoch]
        if self.main:
            self.history_path.write_text(_lines(records))
        return records

    def save_phase(self, name: str, model_state: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        if self.main:
            save_checkpoint(self.ckpts.root / name, model_state, state)

    def save_pretraining(
        self, model_state: dict[str, torch.Tensor], state: dict[str, Any], training_tensors: dict[str, torch.Tensor]
    ) -> None:
        """Write the pretraining checkpoint (weights, RNG state) and make it the latest."""
        if self.main:
            save_checkpoint(self.ckpts.root / PRETRAINING, model_state, state, training_tensors)
            self.ckpts.update_index(latest=PRETRAINING)

    def save_epoch(
        self,
        epoch: int,
        model_state: dict[str, torch.Tensor],
        state: dict[str, Any],
        training_tensors: dict[str, torch.Tensor],
        record: dict[str, Any],
        best_state: dict[str, Any] | None,
    ) -> str:
        """Write epoch ``epoch``'s checkpoint (and the best one when ``best_state`` is given), append ``record`` to
        the history, update the index and prune old epochs; returns the epoch checkpoint's name."""
        name = f"epoch-{epoch:04d}"
        if not self.main:
            return name
        save_checkpoint(self.ckpts.root / name, model_state, state, training_tensors)
        if best_state is not None:
            save_checkpoint(self.ckpts.root / BEST, model_state, best_state)
        with open(self.history_path, "a") as fh:
            fh.write(_lines([record]))
            fh.flush()
        best = self.ckpts.index().get("best") if best_state is None else BEST
        self.ckpts.update_index(latest=name, best=best or name)
        self.ckpts.prune()
        shutil.rmtree(self.ckpts.root / PRETRAINING, ignore_errors=True)  # the epoch checkpoint supersedes it
        return name

    def mark_converged(self) -> None:
        """Record in the latest checkpoint that the run converged, so a resume does not train on."""
        if not self.main:
            return
        state_file = self.ckpts.root / self.ckpts.index()["latest"] / "state.json"
        state = json.loads(state_file.read_text())
        state["stopped"] = "converged"
        write_json_atomic(state_file, state)
