"""One run of a study, in this process or a worker process: data, model spec, the shared baseline, training.

:func:`train_run` calls :func:`hnsx.pipeline.run_training` (the one training loop) and writes the run's
``result.json`` atomically as soon as it ends. A run folder without ``result.json`` but with an epoch checkpoint
continues from that checkpoint; any other unfinished run starts over.

Baseline: Fidelity divides by the accuracy of a seeker trained alone on unmasked data for ``pretrain_epochs +
epochs`` epochs (the rule of :class:`~hnsx.training.config.TrainConfig`). :func:`baseline_accuracy` trains that
seeker once per seed (``baselines/seed-<n>.json``) with the same initial weights, data order and budget as inside
``fit``, and every configuration of that seed divides by it.

Label encoding: a mask whose shape carries the class lets the run's own seeker score well on inputs that explain
nothing (DESIGN.md). :func:`label_evaluator` trains, once per seed (``baselines/evaluator-seed-<n>.safetensors``),
the evaluator of :func:`hnsx.training.evaluator.train_evaluator`: the seeker's architecture trained from scratch on
the training images under random masks (keep rate uniform per image, square blocks of 1-7 pixels), filled as the
runs fill hidden pixels. After a run, :func:`~hnsx.training.evaluator.evaluator_accuracy` is its accuracy on the
run's masked evaluation images (``final.evaluator_accuracy``): far below the run's own masked accuracy means the
mask encodes the label.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from hnsx.study.grid import RunConfig, StudySettings, run_key
from hnsx.training.checkpoint import write_json_atomic

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import TensorDataset

    from hnsx.data import SplitData
    from hnsx.model import HideAndSeek
    from hnsx.spec import ModelSpec

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class RunTask:
    """One run to train: what a worker process receives (plain data, picklable)."""

    settings: dict[str, Any]
    config: dict[str, Any]
    seed: int
    run_dir: str
    baseline_dir: str
    threads: int | None = None

    @property
    def key(self) -> str:
        return run_key(RunConfig(**_config_fields(self.config)), self.seed)


def _config_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in ("binarizer", "estimator", "rate", "init", "objective")}


_DATA_CACHE: dict[tuple, Any] = {}


def _options(settings: StudySettings, **values: Any) -> SimpleNamespace:
    """The options a modality's ``load_data`` / ``build_spec`` read, as ``hnsx train`` would parse them: the
    study modality's own options (:meth:`~hnsx.modality.Modality.add_options`) at their defaults, its hider and
    seeker, then ``values``."""
    import argparse

    from hnsx.modality import get_modality

    modality = get_modality(settings.modality)
    parser = argparse.ArgumentParser(add_help=False)
    modality.add_options(parser)
    base = {"dataset": None, "data_file": None, "data_dir": None, "download": False, "limit": None, "seed": 0}
    builders = {kind: modality.resolve_builder(kind, getattr(settings, kind)) for kind in ("hider", "seeker")}
    return SimpleNamespace(**{**vars(parser.parse_args([])), **base, **builders, **values})


def _subset(dataset, limit: int | None, seed: int):
    """``limit`` inputs of ``dataset`` drawn at random with ``seed`` (all of them for ``None``): a data set may be
    sorted by class (the embedded MNIST is), and its first inputs would hold only a few classes."""
    import torch
    from torch.utils.data import TensorDataset

    tensors = dataset.tensors
    if limit is None or limit >= len(tensors[0]):
        return dataset
    rows = torch.randperm(len(tensors[0]), generator=torch.Generator().manual_seed(seed))[:limit].sort().values
    return TensorDataset(*[t[rows] for t in tensors])


def load_study_data(settings: StudySettings) -> SplitData:
    """The study's data from its modality's loader (``train_limit`` / ``eval_limit`` inputs drawn at random with
    ``data_seed``), cached per process."""
    from hnsx.modality import get_modality

    key = (settings.modality, settings.dataset, settings.data_seed, settings.train_limit, settings.eval_limit,
           settings.data_dir)  # fmt: skip
    if key not in _DATA_CACHE:
        options = _options(
            settings,
            dataset=settings.dataset,
            data_dir=settings.data_dir,
            download=settings.download,
            seed=settings.data_seed,
        )
        data = get_modality(settings.modality).load_data(options)
        if settings.train_limit is not None or settings.eval_limit is not None:
            data = replace(
                data,
                train=_subset(data.train, settings.train_limit, settings.data_seed),
                eval=_subset(data.eval, settings.eval_limit, settings.data_seed),
            )
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = data
    return _DATA_CACHE[key]


def run_spec(settings: StudySettings, config: RunConfig, data: SplitData) -> ModelSpec:
    """The :class:`~hnsx.spec.ModelSpec` of one configuration, from the modality's spec builder."""
    from hnsx.modality import get_modality

    options = _options(
        settings,
        binarizer=config.binarizer,
        estimator=config.estimator,
        slope_rate=config.rate,
        slope_cap=None,
    )
    return get_modality(settings.modality).build_spec(data, options)


def baseline_accuracy(settings: StudySettings, seed: int, baseline_dir: str | Path) -> float:
    """Accuracy of the seed's baseline seeker (trained alone, unmasked); computed once and kept as JSON.

    The seeker gets the same initial weights, data order and budget (``pretrain_epochs + epochs``) as the
    baseline that :func:`hnsx.training.fit` trains for a deterministic run from scratch with this seed.
    """
    path = Path(baseline_dir) / f"seed-{seed}.json"
    if path.is_file():
        return float(json.loads(path.read_text())["baseline_accuracy"])
    from accelerate.utils import set_seed

    from hnsx.data import make_loaders
    from hnsx.metrics import accuracy
    from hnsx.spec import build_model
    from hnsx.training.fit import make_accelerator
    from hnsx.training.pretrain import train_classifier

    start = time.perf_counter()
    data = load_study_data(settings)
    config = settings.train_config(RunConfig("deterministic"), seed)
    set_seed(seed)
    seeker = build_model(run_spec(settings, RunConfig("deterministic"), data)).seeker
    train_loader, eval_loader = make_loaders(data, config.batch_size, seed=seed)
    accelerator = make_accelerator(config)
    set_seed(seed)
    train_loader, eval_loader = accelerator.prepare(train_loader, eval_loader)
    seeker = train_classifier(seeker, train_loader, config.baseline_budget, config.lr, accelerator, False)
    value = accuracy(seeker, eval_loader, accelerator)
    write_json_atomic(
        path,
        {
            "seed": seed,
            "baseline_accuracy": value,
            "epochs": config.baseline_budget,
            "seconds": time.perf_counter() - start,
        },
    )
    return value


def label_evaluator(settings: StudySettings, seed: int, baseline_dir: str | Path) -> nn.Module | None:
    """The seed's label-encoding evaluator (``None`` when ``settings.evaluator_epochs`` is 0); trained once and kept
    as ``evaluator-seed-<n>.safetensors`` beside the baselines (written atomically)."""
    if not settings.evaluator_epochs:
        return None
    from safetensors.torch import load_file, save_file

    from hnsx.modality import get_modality
    from hnsx.training.evaluator import EVALUATOR_SEED_OFFSET, evaluator_data, new_classifier, train_evaluator

    data = load_study_data(settings)
    spec = run_spec(settings, RunConfig("deterministic"), data)
    config = settings.train_config(RunConfig("deterministic"), seed)
    experiment = evaluator_data(data, spec, config, get_modality(settings.modality).mask_blocks)
    path = Path(baseline_dir) / f"evaluator-seed-{seed}.safetensors"
    if path.is_file():
        evaluator = new_classifier(spec, seed=seed)
        evaluator.load_state_dict(load_file(path))
        return evaluator.eval()
    evaluator = train_evaluator(experiment, seed=seed + EVALUATOR_SEED_OFFSET, epochs=settings.evaluator_epochs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.contiguous() for k, v in evaluator.state_dict().items()}, tmp)
    os.replace(tmp, path)
    return evaluator


def evaluator_accuracy(
    evaluator: nn.Module, model: HideAndSeek, dataset: TensorDataset, batch_size: int = 256
) -> float:
    """:func:`hnsx.training.evaluator.evaluator_accuracy` (imported when called, so that ``hnsx.study`` loads without
    torch)."""
    from hnsx.training.evaluator import evaluator_accuracy as accuracy

    return accuracy(evaluator, model, dataset, batch_size)


def train_run(task: RunTask) -> dict[str, Any]:
    """Train one run (or continue its checkpoint), write ``result.json`` into its folder and return the record.

    Runs in the calling process or in a worker process; ``task.threads`` limits torch's threads there.
    """
    import torch

    from hnsx.pipeline import run_training

    if task.threads:
        torch.set_num_threads(task.threads)
    settings = StudySettings.from_dict(task.settings)
    config = RunConfig(**_config_fields(task.config))
    data = load_study_data(settings)
    baseline = baseline_accuracy(settings, task.seed, task.baseline_dir)
    spec = run_spec(settings, config, data)
    out = Path(task.run_dir)
    index = out / "checkpoints" / "index.json"
    resume = index.is_file() and "latest" in json.loads(index.read_text())
    with warnings.catch_warnings():
        # Collapses are counted in the report; a warning per epoch and run would bury the progress bar.
        warnings.filterwarnings("ignore", message="epoch .* the model collapsed", category=RuntimeWarning)
        result = run_training(
            data,
            spec,
            settings.train_config(config, task.seed),
            out,
            resume=resume,
            baseline_accuracy=baseline,
        )
    history = [
        {
            "epoch": r["epoch"],
            "F": r["fidelity"],
            "I": r["interpretability"],
            "FIR": r["fir"],
            "FII": r["fii"],
            "alpha": r["alpha"],
            "accuracy": r["accuracy"],
            "seconds": r["seconds"],
        }
        for r in result.fit.history
    ]
    final = {k: v for k, v in result.metrics.items() if k != "best"}
    evaluator = label_evaluator(settings, task.seed, task.baseline_dir)
    if evaluator is not None:
        final["evaluator_accuracy"] = evaluator_accuracy(evaluator, result.model, data.eval)
    record = {
        "key": task.key,
        "config": config.name,
        "seed": task.seed,
        "resumed": resume,
        "baseline_accuracy": baseline,
        "seconds": result.metrics["seconds"],  # wall time of this call (pretraining included; a resume: its part)
        "history": history,
        "final": final,
    }
    write_json_atomic(out / RESULT_FILE, record)
    return record


def baseline_task(settings: dict[str, Any], seed: int, baseline_dir: str, threads: int | None) -> float:
    import torch

    if threads:
        torch.set_num_threads(threads)
    study_settings = StudySettings.from_dict(settings)
    value = baseline_accuracy(study_settings, seed, baseline_dir)
    label_evaluator(study_settings, seed, baseline_dir)  # here too, so that no two workers train it at once
    return value
