"""``hnsx bench roar`` and ``hnsx bench kar``: RemOve And Retrain and Keep And Retrain (Hooker et al. 2019).

Protocol (the ROAR thesis, sections 4-5), per seed and explainer:

1. Train a seeker on the unmodified training set (:func:`~hnsx.benchmarks.common.train_seeker`) and, for ``hns``,
   the modality's Hide-and-Seek model (:func:`~hnsx.benchmarks.common.train_hns`). Its test accuracy is the
   *unmodified* accuracy.
2. Attribute every training and test input for its true label, in batches; rank the units of each input by the
   explainer's score (``|score|`` for signed methods such as Integrated Gradients; HnS: the hider's keep
   probability; ties in a seeded random order).
3. For each fraction ``f``: **ROAR** hides the top-ranked ``f`` of the units of every train and test input, **KAR**
   keeps only them and hides the rest. Hidden units are filled as the modality's adapter fills them (images: the
   per-channel training mean; text: the mask token; tables: the training mean or the missing code).
4. Train a fresh seeker from scratch on the modified training set (same architecture, epochs and seed as in 1) and
   report its accuracy on the modified test set.

A good explainer makes ROAR accuracy fall fast (what it ranks first is what the label needs) and keeps KAR accuracy
high; ``random`` is the baseline both must beat. The same seed trains the same model on the same data, so KAR at
fraction 1 reproduces the unmodified accuracy exactly.

``hnsx bench roar`` runs ROAR and KAR (they share the attributions); ``hnsx bench kar`` runs KAR alone.

Your model and data: with the data options of ``hnsx train`` (``--dataset``, ``--data-file``, ...) the benchmark
runs on that data; with ``--checkpoint RUN`` step 1 trains nothing: the post-hoc explainers explain the run's
classifier (its seeker; for a wrapped frozen classifier, exactly the user's model), ``hns`` is the run's hider, and
the unmodified accuracy is that classifier's. Step 4 still trains fresh seekers of the run's architecture (that is
what "retrain" means), so KAR at fraction 1 is a fresh seeker's accuracy, not the run's.

Cost control: attributions are computed once per seed and explainer, and the rankings are cached under
``OUT/cache/<key>/seed-<s>/<explainer>.pt`` (the modified data sets are a masked fill of the inputs by these
rankings); every retrained accuracy is saved to ``OUT/cache/<key>/seed-<s>/accuracy.json`` as soon as it is known. A
rerun with the same settings (``key`` is a hash of everything that changes the numbers) reads both and retrains
only what is missing, so an interrupted run resumes.

Outputs in ``OUT``: ``results.json`` (mean, std and per-seed values), ``report.md`` (a table per mode, explainers by
fraction), ``roar.png`` / ``kar.png`` (accuracy against fraction, mean with a band of one standard deviation).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from hnsx.benchmarks.common import (
    BenchData,
    check_explainers,
    explainer_names,
    load_bench_data,
    subsample,
)
from hnsx.benchmarks.hooks import PerModality, modality_settings
from hnsx.benchmarks.reports import roar as reports_module
from hnsx.benchmarks.reports.roar import format_report, fraction_key, mode_table, save_curves
from hnsx.benchmarks.results import mean_std, write_outputs
from hnsx.benchmarks.roar_seed import ExplainerBuilder, _run_seed_mode, _seed_mode_job, _SeedRun, explainer_builders
from hnsx.benchmarks.runner import Benchmark, seed_list
from hnsx.training.checkpoint import weights_fingerprint

#: Runs on the user's data and model (``--data-file``, ``--dataset``, ``--checkpoint``).
USER_DATA = True

#: Every modality with benchmark hooks.
MODALITIES = None
MODES = ("roar", "kar")
FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: The modalities' defaults (their hooks' ``SETTINGS["roar"]``), by modality name: the explainers compared, the
#: explainer settings and training budgets of the full run (e.g. images: Integrated Gradients with 8 steps,
#: SmoothGrad and VarGrad over 8 noisy copies, seekers of 3 epochs, so that attributing 5,000 images three times and
#: 250 retrained seekers stay affordable on 2 shared CPU cores) and of ``--quick`` (with its data sizes).
DEFAULT_EXPLAINERS = PerModality("roar", False, "explainers")
EXPLAINER_OPTIONS = PerModality("roar", False, "explainer_options")
FULL_BUDGETS = PerModality("roar", False)
QUICK_OPTIONS = PerModality("roar", True, "explainer_options")
QUICK_SIZES = PerModality("roar", True, "sizes")

#: Seeds of a full run (``--quick``: :attr:`RoarConfig.seeds`, 3).
FULL_SEEDS = 5


@dataclass(frozen=True)
class RoarConfig:
    """Settings of a ROAR / KAR run.

    Attributes
    ----------
    explainers:
        Plain explainer names (:func:`~hnsx.benchmarks.common.explainer_names`).
    fractions:
        Fractions of the units removed (ROAR) or kept (KAR), each in [0, 1].
    modes:
        ``("roar", "kar")``, or one of them.
    seeds:
        Repetitions; seed ``s`` trains the base seeker, the HnS model and every retrained seeker of repetition ``s``.
    seeker_epochs:
        Epochs of the base seeker and of every retrained seeker (``None``: the modality's recipe).
    hns_epochs, hns_pretrain_epochs:
        Joint and pretraining epochs of the HnS model (``None``: the recipe).
    batch_size:
        Inputs per attribution batch.
    explainer_options:
        Extra builder arguments per explainer name (default: :data:`EXPLAINER_OPTIONS`).
    """

    explainers: tuple[str, ...]
    fractions: tuple[float, ...] = FRACTIONS
    modes: tuple[str, ...] = MODES
    seeds: int = 3
    seeker_epochs: int | None = None
    hns_epochs: int | None = None
    hns_pretrain_epochs: int | None = None
    batch_size: int = 250
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.explainers:
            raise ValueError("no explainers chosen")
        if not self.fractions:
            raise ValueError("no fractions chosen")
        for f in self.fractions:
            if not 0.0 <= float(f) <= 1.0:
                raise ValueError(f"fractions must lie in [0, 1], got {f}")
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise ValueError(f"modes must be among {', '.join(MODES)}, got {list(self.modes)}")
        seed_list(self.seeds)
        for name in ("seeker_epochs", "hns_epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_config(modality: str, *, quick: bool = False, **overrides: Any) -> RoarConfig:
    """The run ``hnsx bench roar --modality M [--quick]`` makes, before the command line's overrides.

    Full runs: :data:`FULL_SEEDS` seeds, as the ROAR protocol asks, and the modality's budgets and explainer
    options. Quick runs (3 seeds): fractions 0.1, 0.5, 0.9; HnS with 1 pretraining and 2 joint epochs; the
    modality's quick settings (images and text: seekers of 2 epochs, smaller data, cheaper explainers).
    """
    return BENCHMARK.default_config(modality, quick=quick, **overrides)


# --- the run ---------------------------------------------------------------------------------------------------------


def fingerprint(data: BenchData) -> str:
    digest = hashlib.sha1()
    for split in (data.train, data.test):
        for tensor in split.tensors:
            digest.update(tensor.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_key(data: BenchData, config: RoarConfig) -> str:
    """A hash of everything that changes a seed's numbers: the data, the training settings, the explainer options."""
    settings = {
        "modality": data.modality,
        "data": fingerprint(data),
        "spec": data.spec.to_dict(),
        "seeker_epochs": config.seeker_epochs,
        "hns_epochs": config.hns_epochs,
        "hns_pretrain_epochs": config.hns_pretrain_epochs,
        "options": config.explainer_options,
        "trained": weights_fingerprint(data.trained) if data.trained is not None else None,
    }
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_roar(
    data: BenchData,
    config: RoarConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    builders: Mapping[str, ExplainerBuilder] | None = None,
    benchmark: str | None = None,
    jobs: int = 1,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run ROAR and/or KAR (``config.modes``) on ``data``; write ``results.json``, ``report.md`` and plots.

    ``builders`` replaces the registry explainers (name -> ``builder(seeker, hns_model, seed)``; ``hns_model`` is
    trained only for the name ``hns``). ``jobs > 1`` runs that many seeds at once in separate processes (registry
    explainers only), each with ``threads`` torch threads (default: the current count divided by ``jobs``).
    Modes run one after the other (ROAR for every seed first) and the outputs are written after each, so a
    stopped run leaves the whole tables of the finished modes. Returns the results.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs > 1 and builders is not None:
        raise ValueError("jobs > 1 runs the registry explainers only (builders cannot be sent to other processes)")
    builders = dict(builders) if builders is not None else explainer_builders(data, config)
    seeds = seed_list(config.seeds)
    cache = out / "cache" / cache_key(data, config)
    per_task = len(builders) * len(config.fractions)
    bar = tqdm(total=len(seeds) * len(config.modes) * per_task, desc="ROAR/KAR retraining", disable=not progress)

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update()

    runs = {seed: _SeedRun(data, config, cache / f"seed-{seed}", seed, progress) for seed in seeds}
    accuracies: dict[int, dict[str, float]] = {}
    pool = None
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
        per_job = threads or max(1, torch.get_num_threads() // jobs)
    results: dict[str, Any] = {}
    try:
        for done, mode in enumerate(config.modes, start=1):
            if pool is None:
                for seed, run in runs.items():
                    accuracies[seed] = _run_seed_mode(run, builders, mode, step)
            else:
                futures = {
                    pool.submit(_seed_mode_job, data, config, cache / f"seed-{s}", s, mode, per_job): s for s in seeds
                }
                for future in as_completed(futures):
                    accuracies[futures[future]] = future.result()
                    bar.set_postfix_str(f"{mode} seed {futures[future]} done")
                    bar.update(per_task)
            finished = dataclasses.replace(config, modes=config.modes[:done])
            ordered = [accuracies[s] for s in seeds]
            results = summarize(data, finished, ordered, list(builders), seeds, benchmark=benchmark)
            results["seconds"] = time.perf_counter() - start
            results["cache"] = str(cache)
            write_outputs(out, results, format_report(results))
            save_curves(out / f"{mode}.png", results, mode)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return results


def summarize(
    data: BenchData,
    config: RoarConfig,
    accuracies: Sequence[Mapping[str, float]],
    explainers: Sequence[str],
    seeds: Sequence[int],
    benchmark: str | None = None,
) -> dict[str, Any]:
    """The ``results.json`` record from the per-seed accuracy records."""
    results: dict[str, Any] = {
        "benchmark": benchmark or ("roar" if "roar" in config.modes else "kar"),
        "modality": data.modality,
        "dataset": data.name,
        "train_size": len(data.train),
        "test_size": len(data.test),
        "config": config.to_dict(),
        "seeds": list(seeds),
        "explainers": list(explainers),
        "fractions": [float(f) for f in config.fractions],
        "modes": list(config.modes),
        "unmodified": mean_std([a["unmodified"] for a in accuracies]),
    }
    for mode in config.modes:
        table: dict[str, Any] = {}
        for name in explainers:
            per_fraction = {
                fraction_key(f): mean_std([a[f"{mode}/{name}/{fraction_key(f)}"] for a in accuracies])
                for f in config.fractions
            }
            per_seed_mean = [
                sum(a[f"{mode}/{name}/{fraction_key(f)}"] for f in config.fractions) / len(config.fractions)
                for a in accuracies
            ]
            table[name] = {"fractions": per_fraction, "mean": mean_std(per_seed_mean)}
        results[mode] = table
    if "hns" in explainers:
        results["hns_model"] = {
            "accuracy": mean_std([a["hns/accuracy"] for a in accuracies]),
            "kept_fraction": mean_std([a["hns/kept_fraction"] for a in accuracies]),
        }
    return results


# --- command line ----------------------------------------------------------------------------------------------------


class Roar(Benchmark):
    """``hnsx bench roar`` / ``kar`` on the shared runner. ROAR caches finer than a seed (every retrained seeker,
    :func:`run_roar`), so it overrides :meth:`run`."""

    name = "roar"
    reports = reports_module
    config_class = RoarConfig
    defaults = {
        False: {"seeds": FULL_SEEDS},
        True: {"fractions": (0.1, 0.5, 0.9), "hns_epochs": 2, "hns_pretrain_epochs": 1},
    }

    def written(self, results: dict[str, Any]) -> str:
        return ", ".join(f"{mode}.png" for mode in results["modes"])

    def default_config(self, modality: str, *, quick: bool = False, **overrides: Any) -> RoarConfig:
        if "explainers" not in overrides and "explainers" not in modality_settings(modality, self.name, quick):
            overrides["explainers"] = tuple(explainer_names(modality, defaults_only=True))
        return super().default_config(modality, quick=quick, **overrides)

    def cli_overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        """``--epochs`` sets the seekers' epochs (base and retrained); ``hnsx bench kar`` runs KAR alone."""
        overrides: dict[str, Any] = {"device": getattr(args, "device", "cpu")}
        if getattr(args, "seeds", None) is not None:
            overrides["seeds"] = args.seeds
        if getattr(args, "epochs", None) is not None:
            overrides["seeker_epochs"] = args.epochs
        if getattr(args, "explainers", None):
            names = [n.strip() for n in args.explainers.split(",") if n.strip()]
            overrides["explainers"] = tuple(check_explainers(args.modality, names))
        if getattr(args, "benchmark", "roar") == "kar":
            overrides["modes"] = ("kar",)
        return overrides

    def load_data(self, modality: str, config: RoarConfig, *, quick: bool) -> BenchData:
        data = load_bench_data(modality, quick=quick, seed=0)
        if quick:
            data = subsample(data, *modality_settings(modality, self.name, True).get("sizes", (None, None)))
        return data

    def run(self, data, config: RoarConfig, seeds, out_dir, *, progress: bool = True, device: str = "cpu"):
        if list(seeds) != seed_list(len(seeds)):
            raise ValueError(f"ROAR runs seeds 0 .. N-1, got {list(seeds)}")
        config = dataclasses.replace(config, seeds=len(seeds), device=device)
        return run_roar(data, config, out_dir, progress=progress)

    def execute(self, data: BenchData, config: RoarConfig, args: argparse.Namespace) -> dict[str, Any]:
        jobs = int(getattr(args, "jobs", 1) or 1)
        threads = max(1, int(getattr(args, "threads", 2)) // jobs)
        return run_roar(
            data, config, args.out, progress=not args.no_progress, benchmark=args.benchmark, jobs=jobs, threads=threads
        )

    def summary(self, results: dict[str, Any]) -> str:
        return "\n".join(
            f"\n{mode.upper()} (test accuracy %, {len(results['seeds'])} seeds)\n{mode_table(results, mode)}"
            for mode in results["modes"]
        )


BENCHMARK = Roar()
main = BENCHMARK.main


def config_from_args(args: argparse.Namespace) -> RoarConfig:
    """The :class:`RoarConfig` of ``hnsx bench roar|kar`` options."""
    return BENCHMARK.config_from_args(args)


__all__ = [
    "BENCHMARK",
    "DEFAULT_EXPLAINERS",
    "EXPLAINER_OPTIONS",
    "FULL_BUDGETS",
    "FULL_SEEDS",
    "FRACTIONS",
    "MODALITIES",
    "MODES",
    "QUICK_OPTIONS",
    "QUICK_SIZES",
    "RoarConfig",
    "cache_key",
    "config_from_args",
    "default_config",
    "explainer_builders",
    "format_report",
    "main",
    "mode_table",
    "run_roar",
    "save_curves",
    "summarize",
]
