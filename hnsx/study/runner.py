"""Multi-seed studies of the paper's section 6: grids of training runs, each repeated over seeds, resumable.

A *study* is a list of configurations (:class:`RunConfig`); every configuration is trained once per seed
``0 .. seeds-1`` through :func:`hnsx.pipeline.run_training` (the one training loop). The studies (paper 6.3-6.5):

============== ==============================================================================================
``init``       deterministic binarizer; init scratch, pretrained hider, pretrained seeker, both
``estimators`` stochastic binarizer from scratch; estimators st1, st2, sa (rate 0.5), reinforce, hard-concrete
``slope-rates`` stochastic, slope annealing from scratch with rates 0.1, 0.5, 1, 10, 100
``thresholding`` deterministic from scratch against one stochastic estimator from scratch (see
               :func:`choose_stochastic`)
============== ==============================================================================================

Run keys and sharing. A run is identified by its configuration name and seed (``det-scratch/seed-3``) and lives
in ``OUT/runs/<config>/seed-<n>/``. Studies that share an output folder share runs with the same key: the
thresholding study reuses the ``det-scratch`` runs of ``init`` and the stochastic runs of ``estimators``; ``sa0.5``
is both an estimator and a slope rate. All runs of a folder use the same :class:`StudySettings` (data set, epochs,
alpha, ...), recorded in ``OUT/study.json``; another setting in the same folder is refused.

Resume. A finished run writes ``result.json`` (atomically) into its folder as soon as it ends; a run with a
``result.json`` is never trained again. A run folder without one but with an epoch checkpoint continues from that
checkpoint (``run_training(..., resume=True)``); any other unfinished run starts over. ``OUT/results.json`` (every
finished run's per-epoch F, I, FIR, FII, alpha) is rewritten after every run.

Baseline. Fidelity divides by the accuracy of a seeker trained alone on unmasked data for ``pretrain_epochs +
epochs`` epochs (the rule of :class:`~hnsx.training.config.TrainConfig`). A study trains that baseline seeker once
per seed (``OUT/baselines/seed-<n>.json``, same seed, same initial weights and data order as inside ``fit``) and
gives it to every configuration of that seed: F is comparable across configurations, and the baseline is not
retrained for each of them.

Parallel runs (``jobs > 1``) are separate processes (``spawn``), each limited to ``threads`` torch threads.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from hnsx.study.grid import (
    PAPER_STOCHASTIC,
    STOCHASTIC_CHOICES,
    StudySettings,
    expand_studies,
    run_key,
    study_configs,
)
from hnsx.study.run import RESULT_FILE, RunTask, baseline_task, load_study_data, train_run
from hnsx.study.summary import COLLAPSE_RULE, CONVERGENCE_RULE, FINAL_RULE
from hnsx.training.checkpoint import write_json_atomic

log = logging.getLogger("hnsx")

STUDY_FILE = "study.json"
RESULTS_FILE = "results.json"
FORMAT = "hnsx-study"
VERSION = 1


def _read_study(out: Path) -> dict[str, Any] | None:
    path = out / STUDY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _check_settings(saved: dict[str, Any], settings: StudySettings, out: Path) -> None:
    now, default = (
        settings.to_dict(),
        StudySettings().to_dict(),
    )  # a study saved before a setting existed had its default
    diff = [f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in sorted(now) if saved.get(k, default[k]) != now[k]]
    if diff:
        raise ValueError(
            f"{out} holds a study with other settings ({'; '.join(diff)}); use another --out or the same settings"
        )


def finished_runs(out: str | Path) -> dict[str, dict[str, Any]]:
    """Every finished run of a study folder, by run key (read from the runs' ``result.json`` files)."""
    runs = {}
    for path in sorted(Path(out).glob(f"runs/*/seed-*/{RESULT_FILE}")):
        record = json.loads(path.read_text())
        runs[record["key"]] = record
    return runs


def choose_stochastic(out: str | Path, seeds: int) -> tuple[str, str]:
    """Thresholding's stochastic estimator for ``--stochastic auto`` and the reason, for the report.

    The estimator with the highest mean final FII over its runs (collapsed runs included: they are part of its
    stability) when the folder holds all ``seeds`` runs of every configuration of the ``estimators`` study;
    otherwise ST1, the paper's choice (section 6.5).
    """
    runs = finished_runs(out)
    means = {}
    for config in study_configs("estimators"):
        fii = [runs[run_key(config, s)]["final"]["fii"] for s in range(seeds) if run_key(config, s) in runs]
        if len(fii) < seeds:
            return PAPER_STOCHASTIC, "the paper's choice (section 6.5): the estimators study is not complete here"
        means[config.estimator] = sum(fii) / len(fii)
    best = max(means, key=lambda k: means[k])
    detail = ", ".join(f"{k} {v:.3f}" for k, v in means.items())
    return best, f"highest mean final FII in the estimators study of this folder ({detail})"


def _write_results(out: Path, study: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``results.json`` from the folder's finished runs; returns its content."""
    runs = finished_runs(out)
    results = {
        "format": FORMAT,
        "version": VERSION,
        "settings": study["settings"],
        "studies": study["studies"],
        "configs": study["configs"],
        "rules": {"converged values": FINAL_RULE, "collapse": COLLAPSE_RULE, "convergence": CONVERGENCE_RULE},
        "label_encoding": None,
        "runs": [runs[k] for k in sorted(runs)],
    }
    write_json_atomic(out / RESULTS_FILE, results)
    return results


def _default_threads(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))


def run_study(
    studies: Sequence[str],
    out: str | Path,
    settings: StudySettings | None = None,
    *,
    seeds: int = 10,
    stochastic: str = "auto",
    jobs: int = 1,
    threads: int | None = None,
    progress: bool = True,
    runner: Callable[[RunTask], dict[str, Any]] | None = None,
    configs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run (or resume) studies into ``out`` and write ``results.json``, ``report.md`` and the figures.

    Parameters
    ----------
    studies:
        Names of :data:`STUDY_NAMES` or ``"all"``.
    out:
        The study folder; runs already finished there are not trained again.
    settings:
        :class:`StudySettings` (defaults if ``None``); must match those of an existing folder.
    seeds:
        Runs per configuration (seeds ``0 .. seeds-1``); the paper trains 10.
    stochastic:
        The thresholding study's stochastic estimator, or ``"auto"`` (see :func:`choose_stochastic`).
    jobs:
        Runs trained at once, each in its own process (1: in this process). The processes are spawned, so a script
        that calls this with ``jobs > 1`` needs the ``if __name__ == "__main__":`` guard.
    threads:
        Torch threads per run (default: CPU cores // jobs).
    progress:
        A progress bar over the runs.
    runner:
        Trains one :class:`RunTask` in this process (default :func:`train_run`); tests swap it to count or
        interrupt runs. Not used by the worker processes of ``jobs > 1``.
    configs:
        Only these configurations of the studies (names as :attr:`RunConfig.name`, e.g.
        ``objective-hard-concrete``), e.g. to rerun the ones whose code changed into a new folder; ``None``: all.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    names = expand_studies(studies)
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if stochastic not in STOCHASTIC_CHOICES:
        raise ValueError(f"unknown stochastic estimator {stochastic!r}; choose one of: {', '.join(STOCHASTIC_CHOICES)}")
    only = _check_configs(names, configs, stochastic)
    out = Path(out)
    settings = (settings or StudySettings()).resolved()
    load_study_data(settings)  # an unknown data set fails here, before any run
    saved = _read_study(out)
    if saved is not None:
        _check_settings(saved["settings"], settings, out)
    study = saved or {
        "format": FORMAT,
        "version": VERSION,
        "settings": settings.to_dict(),
        "studies": {},
        "configs": {},
    }

    threads = threads if threads is not None else (_default_threads(jobs) if jobs > 1 else None)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) if jobs > 1 else None
    try:
        # One study after the other: thresholding's "auto" pick reads the estimators runs finished just before.
        for name in names:
            tasks = _study_tasks(name, study, out, settings, seeds, stochastic, threads, only)
            write_json_atomic(out / STUDY_FILE, study)
            _train(tasks, out, study, name, pool, runner or train_run, progress)
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown()
    results = _write_results(out, study)
    from hnsx.study.report import write_report

    write_report(out, results)
    return results


def _check_configs(names: Sequence[str], configs: Sequence[str] | None, stochastic: str) -> set[str] | None:
    """``configs`` as a set, or ``ValueError`` naming those that no study of ``names`` has."""
    if configs is None:
        return None
    picks = STOCHASTIC_CHOICES[1:] if stochastic == "auto" else (stochastic,)  # thresholding's possible picks
    known = [c.name for name in names for pick in picks for c in study_configs(name, pick)]
    unknown = [c for c in configs if c not in known]
    if unknown or not configs:
        raise ValueError(
            f"no configuration {', '.join(map(repr, unknown)) or '(none given)'} in the study; choose among: "
            f"{', '.join(dict.fromkeys(known))}"
        )
    return set(configs)


def _study_tasks(
    name: str,
    study: dict[str, Any],
    out: Path,
    settings: StudySettings,
    seeds: int,
    stochastic: str,
    threads: int | None,
    only: set[str] | None = None,
) -> list[RunTask]:
    """Record study ``name`` in ``study`` (its configurations, seeds, thresholding's pick); its runs, in order
    (``only``: the configurations of these names)."""
    entry: dict[str, Any] = {"seeds": max(seeds, study["studies"].get(name, {}).get("seeds", 0))}
    if name == "thresholding":
        if stochastic == "auto":
            pick, reason = choose_stochastic(out, seeds)
        else:
            pick, reason = stochastic, "chosen with --stochastic"
        entry.update(stochastic=pick, stochastic_reason=reason)
    configs = study_configs(name, entry.get("stochastic", PAPER_STOCHASTIC))
    configs = [c for c in configs if only is None or c.name in only]
    entry["configs"] = [c.name for c in configs]
    study["studies"][name] = entry
    for config in configs:
        study["configs"][config.name] = config.to_dict()
    # Seed-major order: an interrupted study has about as many runs of every configuration.
    tasks = []
    for seed in range(seeds):
        for config in configs:
            tasks.append(
                RunTask(
                    settings=settings.to_dict(),
                    config=config.to_dict(),
                    seed=seed,
                    run_dir=str(out / "runs" / config.name / f"seed-{seed}"),
                    baseline_dir=str(out / "baselines"),
                    threads=threads,
                )
            )
    return tasks


def _train(
    tasks: list[RunTask],
    out: Path,
    study: dict[str, Any],
    name: str,
    pool: ProcessPoolExecutor | None,
    runner: Callable[[RunTask], dict[str, Any]],
    progress: bool,
) -> None:
    """Train the unfinished runs of ``tasks`` (in ``pool`` when given), with a progress bar over all of them."""
    from tqdm.auto import tqdm

    done = finished_runs(out)
    todo = [t for t in tasks if t.key not in done]
    log.info("%s: %d runs, %d finished already, %d to train", name, len(tasks), len(tasks) - len(todo), len(todo))
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=f"study {name}", unit="run", disable=not progress)
    try:
        if pool is None or len(todo) <= 1:
            for task in todo:
                bar.set_postfix_str(task.key)
                _after_run(out, study, runner(task), bar)
        else:
            _run_parallel(out, study, todo, pool, bar)
    finally:
        bar.close()


def _after_run(out: Path, study: dict[str, Any], record: dict[str, Any], bar) -> None:
    final = record["final"]
    log.info("%s: F=%.3f I=%.3f FII=%.3f", record["key"], final["fidelity"], final["interpretability"], final["fii"])
    _write_results(out, study)
    bar.update(1)


def _run_parallel(out: Path, study: dict[str, Any], todo: list[RunTask], pool: ProcessPoolExecutor, bar) -> None:
    """Train ``todo`` in the worker processes of ``pool``; baselines first (one per seed), so no two workers race."""
    seeds = sorted({t.seed for t in todo})
    first = {t.seed: t for t in reversed(todo)}
    baselines = [
        pool.submit(baseline_task, first[s].settings, s, first[s].baseline_dir, first[s].threads) for s in seeds
    ]
    for future in baselines:
        future.result()
    pending = {pool.submit(train_run, task) for task in todo}
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            _after_run(out, study, future.result(), bar)
