"""Joint Hide-and-Seek training through Hugging Face Accelerate (one CPU to many GPUs).

``fit`` follows the Accelerate examples: ``Accelerator(...)`` -> ``prepare`` -> ``accelerator.backward`` ->
``gather_for_metrics`` for evaluation. It never pickles: checkpoints are safetensors + JSON
(:mod:`hnsx.training.checkpoint`). A run folder holds::

    history.jsonl            one JSON record per epoch (training losses, alpha, eval F / I / FIR / FII, time)
    checkpoints/epoch-0003/  every epoch (the last ``keep_last`` kept), with optimizer and RNG state for resume
    checkpoints/phase-01-alpha-1.00/   weights at the end of each adaptive-alpha phase
    checkpoints/best/        highest FII among the epochs that did not collapse
    checkpoints/index.json   names of the latest and best checkpoints
"""

from __future__ import annotations

import copy
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from tqdm.auto import tqdm

from hnsx.alpha import AlphaEvent, build_alpha
from hnsx.loss import hns_loss
from hnsx.metrics import Scores, accuracy, evaluate
from hnsx.modality import modality_of
from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec
from hnsx.training.checkpoint import (
    TRAINING_FILE,
    CheckpointDir,
    CheckpointError,
    flatten_optimizer,
    load_model_state,
    read_tensors,
    save_checkpoint,
    unflatten_optimizer,
    write_json_atomic,
)
from hnsx.training.config import TrainConfig
from hnsx.training.pretrain import pretrain_hider, train_classifier

log = logging.getLogger("hnsx")
HISTORY_FILE = "history.jsonl"


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    scores: Scores  # evaluation scores after the last epoch
    best: Scores | None  # scores of the best checkpoint
    baseline_accuracy: float
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = "epochs"  # "epochs" (budget spent) or "converged" (adaptive alpha floor plateaued)
    out_dir: Path | None = None
    is_main_process: bool = True  # False on the other processes of a distributed run: they write nothing


def make_accelerator(config: TrainConfig) -> Accelerator:
    """An Accelerator with seedable data order (the same epoch order after a resume)."""
    return Accelerator(
        cpu=config.cpu,
        mixed_precision=config.mixed_precision,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


def _init_components(model, train_loader, eval_loader, config, accelerator, baseline_accuracy):
    """Pretraining per ``config.init`` and the baseline accuracy (seeker alone, unmasked)."""
    progress = config.progress and accelerator.is_main_process
    untrained_seeker = copy.deepcopy(model.seeker) if baseline_accuracy is None else None
    if config.init in ("pretrained-hider", "both"):
        target = modality_of(model.adapter).pretrain_target
        model.hider = pretrain_hider(
            model.hider, train_loader, config.pretrain_epochs, config.lr, accelerator, progress, target=target
        )
    if config.init in ("pretrained-seeker", "both"):
        model.seeker = train_classifier(
            model.seeker, train_loader, config.pretrain_epochs, config.lr, accelerator, progress
        )
        if baseline_accuracy is None and config.pretrain_epochs == 0:
            # An already trained seeker (a wrapped, deployed model): its own accuracy is the baseline.
            baseline_accuracy = accuracy(model.seeker, eval_loader, accelerator)
    if baseline_accuracy is None:
        # A copy of the untrained seeker trained alone on unmasked data for the same budget.
        reference = train_classifier(
            untrained_seeker, train_loader, config.baseline_budget, config.lr, accelerator, progress
        )
        baseline_accuracy = accuracy(reference, eval_loader, accelerator)
    return baseline_accuracy


def _training_state(optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, meta = flatten_optimizer(optimizer.state_dict())
    tensors["rng.torch"] = torch.get_rng_state()
    return tensors, meta


def _append_history(path: Path, record: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
        fh.flush()


def _read_history(path: Path, upto_epoch: int) -> list[dict]:
    """History records up to ``upto_epoch``; later lines (written after the last checkpoint) are dropped."""
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["epoch"] <= upto_epoch]


def fit(
    model: HideAndSeek,
    train_loader,
    eval_loader,
    config: TrainConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    spec: ModelSpec | None = None,
    baseline_accuracy: float | None = None,
    resume: bool = False,
    accelerator: Accelerator | None = None,
) -> FitResult:
    """Train a :class:`~hnsx.model.HideAndSeek` model jointly (paper section 5).

    Parameters
    ----------
    model:
        The model; trained in place (its weights are the last epoch's when ``fit`` returns).
    train_loader, eval_loader:
        ``DataLoader`` of ``(inputs, labels)``; evaluation metrics use ``eval_loader`` only.
    config:
        :class:`TrainConfig` (defaults if ``None``).
    out_dir:
        Run folder for ``history.jsonl`` and checkpoints; ``None`` keeps nothing on disk.
    spec:
        The model's :class:`~hnsx.spec.ModelSpec`, stored in checkpoints so they can be rebuilt and checked.
    baseline_accuracy:
        Accuracy of the seeker alone on unmasked eval data; computed per ``config.init`` when ``None``.
    resume:
        Continue the run in ``out_dir`` from its latest checkpoint (settings must match, see
        :meth:`TrainConfig.resume_conflicts`).
    accelerator:
        An existing ``Accelerator``; one is made from ``config`` otherwise.
    """
    config = config or TrainConfig()
    accelerator = accelerator or make_accelerator(config)
    set_seed(config.seed)
    out = Path(out_dir) if out_dir is not None else None
    if resume and out is None:
        raise ValueError("resume=True needs the out_dir of the run to continue")
    ckpts = CheckpointDir(out, config.keep_last) if out is not None else None
    history_path = out / HISTORY_FILE if out is not None else None
    main = accelerator.is_main_process

    train_loader, eval_loader = accelerator.prepare(train_loader, eval_loader)
    schedule = build_alpha(config.alpha, **(config.alpha_kwargs() if config.adaptive else {}))
    start_epoch = global_step = 0
    history: list[dict] = []
    best_name, best_scores, best_key = None, None, None
    training_tensors: dict[str, torch.Tensor] | None = None
    optimizer_meta: dict | None = None

    if resume:
        index = ckpts.index()
        if "latest" not in index:
            raise CheckpointError(f"nothing to resume in {out}: no checkpoint index")
        latest = ckpts.root / index["latest"]
        state = load_model_state(model, latest)
        conflicts = config.resume_conflicts(state["config"])
        if spec is not None and state.get("spec") not in (None, spec.to_dict()):
            conflicts.append("model spec differs")
        if conflicts:
            raise CheckpointError(f"cannot resume {out} with different settings: {'; '.join(conflicts)}")
        training_tensors = read_tensors(latest, TRAINING_FILE)
        optimizer_meta = state["optimizer"]
        schedule.load_state_dict(state["alpha"])
        start_epoch, global_step = state["epoch"], state["step"]
        baseline_accuracy = state["baseline_accuracy"]
        best_name = index.get("best")
        best_key = tuple(state["best_key"]) if state.get("best_key") else None
        if state.get("best_scores"):
            best_scores = Scores(**state["best_scores"])
        if history_path is not None:
            history = _read_history(history_path, start_epoch)
            if main:
                history_path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in history))
        if state.get("stopped") == "converged":
            log.info("the run in %s had already converged", out)
    else:
        if out is not None and main:
            out.mkdir(parents=True, exist_ok=True)
            if history_path.exists():
                history_path.unlink()
        baseline_accuracy = _init_components(model, train_loader, eval_loader, config, accelerator, baseline_accuracy)

    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = torch.optim.Adam(params, lr=config.lr)
    if optimizer_meta is not None:
        optimizer.load_state_dict(unflatten_optimizer(training_tensors, optimizer_meta))
        torch.set_rng_state(training_tensors["rng.torch"])
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    core: HideAndSeek = accelerator.unwrap_model(wrapped)
    steps_per_epoch = len(train_loader)
    stopped = "converged" if resume and state.get("stopped") == "converged" else "epochs"

    def checkpoint_state(epoch: int, scores: Scores | None, extra: dict | None = None) -> dict:
        return {
            "kind": "training",
            "spec": spec.to_dict() if spec is not None else None,
            "config": config.to_dict(),
            "epoch": epoch,
            "step": global_step,
            "alpha": schedule.state_dict(),
            "baseline_accuracy": baseline_accuracy,
            "scores": scores.as_dict() if scores is not None else None,
            "best_key": list(best_key) if best_key else None,
            "best_scores": {k: v for k, v in best_scores.as_dict().items() if k != "collapsed"}
            if best_scores
            else None,
            "stopped": stopped,
            "smoothed_loss": smoothed,
            **(extra or {}),
        }

    scores = None
    smoothed = state.get("smoothed_loss") if resume else None
    epoch = start_epoch
    for epoch in range(start_epoch + 1, config.epochs + 1):
        if stopped == "converged":
            break
        t0 = time.perf_counter()
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        wrapped.train()
        sums = torch.zeros(3)
        batches = 0
        bar = tqdm(
            train_loader,
            desc=f"epoch {epoch}/{config.epochs}",
            disable=not (config.progress and main),
            leave=False,
        )
        for i, (inputs, targets) in enumerate(bar):
            core.binarizer.set_progress(epoch - 1 + i / steps_per_epoch)
            alpha = schedule.alpha
            out_batch = wrapped(inputs)
            parts = hns_loss(out_batch, targets, alpha, core.binarizer, core.adapter.kept_fraction)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(parts.loss)
            optimizer.step()
            global_step += 1
            clf = float(accelerator.reduce(parts.classification.float(), reduction="mean"))
            kept = float(accelerator.reduce(parts.kept_fraction.float(), reduction="mean"))
            sums += torch.tensor([float(parts.loss.detach()), clf, kept])
            batches += 1
            smoothed = (
                clf if smoothed is None else config.alpha_smoothing * smoothed + (1 - config.alpha_smoothing) * clf
            )
            event = schedule.update(smoothed)
            if event is AlphaEvent.LOWERED and ckpts is not None:
                ended = schedule.alpha + config.alpha_step
                name = f"phase-{schedule.phase:02d}-alpha-{ended:.2f}"
                if main:
                    save_checkpoint(
                        ckpts.root / name,
                        core.state_dict(),
                        checkpoint_state(epoch - 1, None, {"kind": "phase", "phase_alpha": ended}),
                    )
            elif event is AlphaEvent.CONVERGED and config.stop_on_converge:
                stopped = "converged"
                break
            bar.set_postfix(alpha=f"{schedule.alpha:.2f}", clf=f"{clf:.3f}", kept=f"{kept:.2f}")

        scores = evaluate(core, eval_loader, baseline_accuracy, accelerator)
        mean = (sums / max(batches, 1)).tolist()
        record = {
            "epoch": epoch,
            "step": global_step,
            "alpha": schedule.alpha,
            "phase": schedule.phase,
            "slope": float(core.binarizer.slope),
            "train_loss": mean[0],
            "train_classification": mean[1],
            "train_kept_fraction": mean[2],
            "seconds": time.perf_counter() - t0,
            **scores.as_dict(),
        }
        history.append(record)
        if scores.collapsed and main:
            kind = "interpretability (hides almost nothing)" if scores.collapsed_interpretability else "fidelity"
            if not scores.collapsed_interpretability and scores.chance_accuracy is not None:
                kind += f"; accuracy {scores.accuracy:.3f}, chance {scores.chance_accuracy:.3f}"
            warnings.warn(
                f"epoch {epoch}: the model collapsed ({kind}): "
                f"F={scores.fidelity:.3f}, I={scores.interpretability:.3f}",
                RuntimeWarning,
                stacklevel=2,
            )
        key = (not scores.collapsed, scores.fii)
        improved = best_key is None or key > best_key
        if improved:
            best_key, best_scores = key, scores
        if ckpts is not None:
            name = f"epoch-{epoch:04d}"
            if main:
                tensors, meta = _training_state(optimizer)
                save_checkpoint(
                    ckpts.root / name,
                    core.state_dict(),
                    checkpoint_state(epoch, scores, {"optimizer": meta}),
                    tensors,
                )
                if improved:
                    save_checkpoint(
                        ckpts.root / "best",
                        core.state_dict(),
                        checkpoint_state(epoch, scores, {"kind": "best"}),
                    )
                    best_name = "best"
                _append_history(history_path, record)
                ckpts.update_index(latest=name, best=best_name or name)
                ckpts.prune()
            accelerator.wait_for_everyone()
        if main:
            log.info(
                "epoch %d: alpha=%.2f F=%.4f I=%.4f FII=%.4f",
                epoch,
                schedule.alpha,
                scores.fidelity,
                scores.interpretability,
                scores.fii,
            )

    if scores is None:  # nothing left to train (a finished run was resumed)
        scores = evaluate(core, eval_loader, baseline_accuracy, accelerator)
    if ckpts is not None and main and stopped == "converged":
        latest = ckpts.root / ckpts.index()["latest"]
        state_file = latest / "state.json"
        state = json.loads(state_file.read_text())
        state["stopped"] = "converged"
        write_json_atomic(state_file, state)
    accelerator.wait_for_everyone()
    return FitResult(
        scores=scores,
        best=best_scores,
        baseline_accuracy=baseline_accuracy,
        history=history,
        stopped=stopped,
        out_dir=out,
        is_main_process=main,
    )
