"""Joint Hide-and-Seek training through Hugging Face Accelerate (one CPU to many GPUs).

``fit`` follows the Accelerate examples: ``Accelerator(...)`` -> ``prepare`` -> ``accelerator.backward`` ->
``gather_for_metrics`` for evaluation. It never pickles: checkpoints are safetensors + JSON
(:mod:`hnsx.training.checkpoint`) in a run folder (:mod:`hnsx.training.run_folder`).

The steps, in order: setup (:func:`fit`: accelerator, seed, loaders, the alpha schedule), start or resume
(:func:`_resume`, and pretraining by :func:`~hnsx.training.pretrain.init_components`, checkpointed per phase), the
optimizer (:func:`_prepare`), the epoch loop (:class:`_Loop`: :meth:`~_Loop.train_epoch` over batches,
:meth:`~_Loop.end_epoch` for evaluation, the history record and checkpointing).
"""

from __future__ import annotations

import copy
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

from hnsx.alpha import AlphaEvent, AlphaSchedule
from hnsx.complement import attach_predictor, complement_terms
from hnsx.constraint import KeptFractionConstraint, target_rank
from hnsx.loss import hns_loss
from hnsx.metrics import Scores, evaluate
from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec, spec_conflicts
from hnsx.training.checkpoint import (
    CheckpointError,
    flatten_optimizer,
    load_model_state,
    read_state,
    unflatten_optimizer,
)
from hnsx.training.config import TrainConfig
from hnsx.training.leak_free import buffers_kept, masking, seeker_backward
from hnsx.training.optim import build_optimizer, build_scheduler
from hnsx.training.pretrain import init_components
from hnsx.training.run_folder import HISTORY_FILE, PRETRAINING, RunFolder, legacy_alpha_state

log = logging.getLogger("hnsx")
__all__ = ["HISTORY_FILE", "FitResult", "fit", "make_accelerator"]


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


def _training_state(optimizer, scheduler=None) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, meta = flatten_optimizer(optimizer.state_dict())
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    tensors["rng.torch"] = torch.get_rng_state()
    return tensors, meta


def _warn_collapse(epoch: int, scores: Scores) -> None:
    kind = "interpretability (hides almost nothing)" if scores.collapsed_interpretability else "fidelity"
    if not scores.collapsed_interpretability and scores.chance_accuracy is not None:
        kind += f"; accuracy {scores.accuracy:.3f}, chance {scores.chance_accuracy:.3f}"
    warnings.warn(
        f"epoch {epoch}: the model collapsed ({kind}): F={scores.fidelity:.3f}, I={scores.interpretability:.3f}",
        RuntimeWarning,
        stacklevel=5,  # the caller of fit (through _Loop.end_epoch and _Loop.run_epochs)
    )


@dataclass
class _RunState:
    """What a run carries from epoch to epoch, and what its checkpoints record besides weights and optimizer."""

    baseline_accuracy: float
    epoch: int = 0  # the last finished epoch
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_scores: Scores | None = None
    stopped: str = "epochs"
    target_kept: float | None = None  # the run's target kept fraction: what "best" means

    def rank(self, scores: Scores) -> tuple:
        """Sort key of an epoch's scores (the larger, the better): no collapse first; then, with a target kept
        fraction, :func:`~hnsx.constraint.target_rank` of fidelity (within the target, the most faithful), else
        FII."""
        if self.target_kept is None:
            return (not scores.collapsed, scores.fii)
        return (not scores.collapsed, *target_rank(scores.kept_fraction, scores.fidelity, self.target_kept))

    def improve(self, scores: Scores) -> bool:
        """Whether ``scores`` beat the best so far (:meth:`rank`); they become the best if so."""
        if self.best_scores is not None and self.rank(scores) <= self.rank(self.best_scores):
            return False
        self.best_scores = scores
        return True


def _resume(
    model: HideAndSeek,
    folder: RunFolder,
    config: TrainConfig,
    spec: ModelSpec | None,
    schedule: AlphaSchedule,
    constraint: KeptFractionConstraint | None = None,
) -> tuple[_RunState | None, dict[str, torch.Tensor] | None, dict | None, tuple | None]:
    """Load the latest checkpoint of ``folder`` into ``model`` and ``schedule``; the run's state, training tensors and
    optimizer metadata. Settings that may not change (:meth:`TrainConfig.resume_conflicts`) must match.

    From a pretraining checkpoint: ``None`` for those three and what :func:`init_components` continues from, the
    phases done, the baseline accuracy if known and a copy of the untrained seeker (``None`` otherwise)."""
    latest = folder.latest()
    state = read_state(latest)
    pretraining = state.get("kind") == PRETRAINING
    conflicts = config.resume_conflicts(state["config"])
    if spec is not None and state.get("spec") is not None:
        conflicts += spec_conflicts(state["spec"], spec.to_dict())
    if conflicts:  # checked before the weights, which would only say that they do not fit
        raise CheckpointError(f"cannot resume {folder.out} with different settings: {'; '.join(conflicts)}")
    untrained = None
    if pretraining and state.get("baseline_accuracy") is None:
        untrained = copy.deepcopy(model.seeker)  # as built: where the baseline seeker starts
    load_model_state(model, latest)
    tensors = folder.training_tensors(latest)
    schedule.load_state_dict(legacy_alpha_state(state))
    if constraint is not None and state.get("constraint") is not None:
        constraint.load_state_dict(state["constraint"])
    if pretraining:  # killed before the first epoch: pretraining goes on after its last finished phase
        torch.set_rng_state(tensors["rng.torch"])
        return None, None, None, (state["pretraining"], state.get("baseline_accuracy"), untrained)
    run = _RunState(
        baseline_accuracy=state["baseline_accuracy"],
        epoch=state["epoch"],
        step=state["step"],
        best_scores=Scores(**state["best_scores"]) if state.get("best_scores") else None,
        stopped="converged" if state.get("stopped") == "converged" else "epochs",
        target_kept=config.target_kept,
    )
    run.history = folder.history(run.epoch)
    if run.stopped == "converged":
        log.info("the run in %s had already converged", folder.out)
    return run, tensors, state["optimizer"], None


def _prepare(model: HideAndSeek, config: TrainConfig, accelerator: Accelerator, tensors, meta, steps: int):
    """The optimizer and the learning-rate scheduler (:mod:`hnsx.training.optim`) over ``steps`` optimizer steps,
    restored from ``tensors`` and ``meta`` on resume (with the torch RNG); model and optimizer prepared by
    ``accelerator``."""
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config.lr_schedule, steps)
    if meta is not None:  # after the scheduler, which sets the rates of a fresh start
        optimizer.load_state_dict(unflatten_optimizer(tensors, meta))
        if scheduler is not None and meta.get("scheduler") is not None:
            scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    return wrapped, optimizer, scheduler


@dataclass
class _Loop:
    """The epoch loop: training steps, alpha's schedule, evaluation, the history and checkpoints."""

    wrapped: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: AlphaSchedule
    run: _RunState
    config: TrainConfig
    accelerator: Accelerator
    folder: RunFolder | None
    spec: ModelSpec | None
    constraint: KeptFractionConstraint | None = None
    scheduler: Any = None  # a torch LR scheduler, stepped once per optimizer step

    def __post_init__(self) -> None:
        self.core: HideAndSeek = self.accelerator.unwrap_model(self.wrapped)
        self.main = self.accelerator.is_main_process
        self.random_masking = masking(self.core.adapter) if self.config.leak_free else None

    def state(self, epoch: int, scores: Scores | None, **extra: Any) -> dict[str, Any]:
        """A checkpoint's ``state.json`` content."""
        run = self.run
        return {
            "kind": "training",
            "spec": self.spec.to_dict() if self.spec is not None else None,
            "config": self.config.to_dict(),
            "epoch": epoch,
            "step": run.step,
            "alpha": self.schedule.state_dict(),
            **({"constraint": self.constraint.state_dict()} if self.constraint is not None else {}),
            "baseline_accuracy": run.baseline_accuracy,
            "scores": scores.as_dict() if scores is not None else None,
            "best_scores": {k: v for k, v in run.best_scores.as_dict().items() if k != "collapsed"}
            if run.best_scores
            else None,
            "stopped": run.stopped,
            **extra,
        }

    def run_epochs(self, train_loader, eval_loader) -> Scores | None:
        """Train the epochs left in the budget; the last epoch's scores (``None`` when none was left)."""
        scores = None
        for epoch in range(self.run.epoch + 1, self.config.epochs + 1):
            if self.run.stopped == "converged":
                break
            t0 = time.perf_counter()
            means = self.train_epoch(epoch, train_loader)
            scores = self.end_epoch(epoch, eval_loader, means, t0)
        return scores

    def train_epoch(self, epoch: int, loader) -> list[float]:
        """One pass over ``loader`` (cut short when alpha converges); mean loss, classification loss, kept fraction."""
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        self.wrapped.train()
        sums, batches, steps = torch.zeros(3), 0, len(loader)
        bar = tqdm(
            loader,
            desc=f"epoch {epoch}/{self.config.epochs}",
            disable=not (self.config.progress and self.main),
            leave=False,
        )
        for i, (inputs, targets) in enumerate(bar):
            self.core.binarizer.set_progress(epoch - 1 + i / steps)
            loss, clf, kept = self.step(inputs, targets)
            sums += torch.tensor([loss, clf, kept])
            batches += 1
            if self.update_alpha(epoch, clf):
                break
            bar.set_postfix(alpha=f"{self.schedule.alpha:.2f}", clf=f"{clf:.3f}", kept=f"{kept:.2f}")
        return (sums / max(batches, 1)).tolist()

    def step(self, inputs, targets) -> tuple[float, float, float]:
        """One optimizer step; the batch's loss and its classification loss and kept fraction (mean over processes).

        With ``complement_weight`` the complement terms join the loss (:mod:`hnsx.complement`); with ``leak_free``
        the seeker's gradient is replaced by that of its random-mask loss (:mod:`hnsx.training.leak_free`)."""
        core = self.core
        with buffers_kept(core.seeker, self.random_masking is not None):  # leak-free: nothing learnt from m
            output = self.wrapped(inputs)
        alpha, constraint, weight = self.schedule.alpha, self.constraint, self.config.complement_weight
        extra, predictor_loss = complement_terms(core, inputs, output, targets, weight) if weight else (None, 0.0)
        parts = hns_loss(output, targets, alpha, core.binarizer, core.adapter.kept_fraction, constraint, extra)
        self.optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(parts.loss + predictor_loss)
        if self.random_masking is not None:  # leak-free: the seeker learns from random masks only
            seeker_backward(core, inputs, targets, self.random_masking, self.accelerator)
        if self.config.grad_clip is not None:
            self.accelerator.clip_grad_norm_(self.wrapped.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.run.step += 1
        clf = float(self.accelerator.reduce(parts.classification.float(), reduction="mean"))
        kept = float(self.accelerator.reduce(parts.kept_fraction.float(), reduction="mean"))
        if self.constraint is not None:  # the same update on every process: the explanations' kept fraction of all
            self.constraint.update(self.explained_kept(inputs))
        return float(parts.loss.detach()), clf, kept

    def explained_kept(self, inputs) -> float:
        """Mean kept fraction of the explanations of ``inputs`` (the model in evaluation mode), over all processes:
        what the target kept fraction is about (a BatchNorm hider keeps more in training mode)."""
        core = self.core
        mask = core.explain(inputs)
        with torch.no_grad():
            kept = core.adapter.kept_fraction(mask, core.adapter.valid_units(inputs)).float().mean()
        return float(self.accelerator.reduce(kept, reduction="mean"))

    def update_alpha(self, epoch: int, clf: float) -> bool:
        """Tell the schedule the step's classification loss; a phase checkpoint when alpha drops. True: stop now
        (the floor phase plateaued and ``stop_on_converge``)."""
        event = self.schedule.update(clf)
        if event is AlphaEvent.LOWERED and self.folder is not None:
            ended = self.schedule.alpha + self.config.alpha_step
            name = f"phase-{self.schedule.phase:02d}-alpha-{ended:.2f}"
            state = self.state(epoch - 1, None, kind="phase", phase_alpha=ended)
            self.folder.save_phase(name, self.core.state_dict(), state)
        elif event is AlphaEvent.CONVERGED and self.config.stop_on_converge:
            self.run.stopped = "converged"
            return True
        return False

    def end_epoch(self, epoch: int, eval_loader, means: list[float], t0: float) -> Scores:
        """Evaluate, record the epoch in the history, keep the best, write the checkpoints; the epoch's scores."""
        run = self.run
        scores = evaluate(self.core, eval_loader, run.baseline_accuracy, self.accelerator)
        record = {
            "epoch": epoch,
            "step": run.step,
            "alpha": self.schedule.alpha,
            "phase": self.schedule.phase,
            "slope": float(self.core.binarizer.slope),
            **({"lambda": self.constraint.lam} if self.constraint is not None else {}),
            "train_loss": means[0],
            "train_classification": means[1],
            "train_kept_fraction": means[2],
            "seconds": time.perf_counter() - t0,
            **scores.as_dict(),
        }
        run.history.append(record)
        run.epoch = epoch
        if scores.collapsed and self.main:
            _warn_collapse(epoch, scores)
        improved = run.improve(scores)
        if self.folder is not None:
            if self.main:
                tensors, meta = _training_state(self.optimizer, self.scheduler)
                state = self.state(epoch, scores, optimizer=meta)
                best = self.state(epoch, scores, kind="best") if improved else None
                self.folder.save_epoch(epoch, self.core.state_dict(), state, tensors, record, best)
            self.accelerator.wait_for_everyone()
        if self.main:
            log.info(
                "epoch %d: alpha=%.2f F=%.4f I=%.4f FII=%.4f",
                *(epoch, self.schedule.alpha, scores.fidelity, scores.interpretability, scores.fii),
            )
        return scores


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
        :meth:`TrainConfig.resume_conflicts`); a run stopped before its first epoch continues its pretraining after
        the last finished phase. Without ``resume`` an old run in ``out_dir`` is removed first.
    accelerator:
        An existing ``Accelerator``; one is made from ``config`` otherwise.
    """
    config = config or TrainConfig()
    if config.leak_free and not any(p.requires_grad for p in model.seeker.parameters()):
        raise ValueError("leak_free trains the seeker on random masks, but this model's seeker is frozen")
    accelerator = accelerator or make_accelerator(config)
    set_seed(config.seed)
    if config.complement_weight:  # before any checkpoint is read or written: they hold the predictor's weights
        attach_predictor(model)
    if resume and out_dir is None:
        raise ValueError("resume=True needs the out_dir of the run to continue")
    folder = RunFolder(out_dir, config.keep_last, accelerator.is_main_process) if out_dir is not None else None
    train_loader, eval_loader = accelerator.prepare(train_loader, eval_loader)
    schedule = config.alpha_schedule()
    constraint = config.constraint()
    if resume:
        run, tensors, meta, pending = _resume(model, folder, config, spec, schedule, constraint)
    else:
        if folder is not None:
            folder.clear()
        untrained = copy.deepcopy(model.seeker) if baseline_accuracy is None else None
        run, tensors, meta, pending = None, None, None, ([], baseline_accuracy, untrained)
    if pending is not None:
        done, baseline, untrained = pending

        def save(phases: list[str], baseline: float | None) -> None:
            if folder is not None:
                state = {
                    "kind": PRETRAINING,
                    "spec": spec.to_dict() if spec is not None else None,
                    "config": config.to_dict(),
                    "epoch": 0,
                    "step": 0,
                    "alpha": schedule.state_dict(),
                    "baseline_accuracy": baseline,
                    "pretraining": phases,
                }
                folder.save_pretraining(model.state_dict(), state, {"rng.torch": torch.get_rng_state()})

        baseline = init_components(
            model, train_loader, eval_loader, config, accelerator, baseline, untrained, done=done, save=save
        )
        run = _RunState(baseline, target_kept=config.target_kept)
    steps = config.epochs * len(train_loader)
    wrapped, optimizer, scheduler = _prepare(model, config, accelerator, tensors, meta, steps)
    loop = _Loop(wrapped, optimizer, schedule, run, config, accelerator, folder, spec, constraint, scheduler)
    scores = loop.run_epochs(train_loader, eval_loader)
    if scores is None:  # nothing left to train (a finished run was resumed)
        scores = evaluate(loop.core, eval_loader, run.baseline_accuracy, accelerator)
    if folder is not None and run.stopped == "converged":
        folder.mark_converged()
    accelerator.wait_for_everyone()
    return FitResult(
        scores=scores,
        best=run.best_scores,
        baseline_accuracy=run.baseline_accuracy,
        history=run.history,
        stopped=run.stopped,
        out_dir=folder.out if folder is not None else None,
        is_main_process=accelerator.is_main_process,
    )
