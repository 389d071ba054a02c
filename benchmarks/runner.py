"""The runner every ``hnsx bench`` benchmark shares: configuration, seeds, per-seed caching, outputs, entry point.

A benchmark is a :class:`Benchmark` subclass that holds its protocol only: the configuration class, how one seed
runs (:meth:`Benchmark.run_seed`), the report and the plots. The runner does the rest the same way for all:

* **configuration** (:meth:`Benchmark.default_config`): the config class's defaults, then the benchmark's own
  defaults for the full or the ``--quick`` run (:attr:`Benchmark.defaults`), then the modality's
  (``SETTINGS[benchmark][quick]`` of its hooks, :mod:`hnsx.benchmarks.hooks`), then the caller's overrides. This is
  the only place ``--quick`` changes settings; a config field ``quick`` (where the class has one) records it.
* **seeds**: ``--seeds N`` runs seeds ``0 .. N-1`` (default: the config's ``seeds`` field, else 3 for a full run and
  :attr:`Benchmark.quick_seeds` under ``--quick``).
* **per-seed run with caching and resume** (:meth:`Benchmark.run`): each seed's figures are kept under
  ``OUT/seeds/`` (:func:`~hnsx.benchmarks.results.cached_seed`) keyed by a fingerprint of the data and the
  configuration, so an interrupted run resumes and seeds may run in separate processes into one folder; the outputs
  are rewritten after every seed.
* **aggregate** (:func:`~hnsx.benchmarks.results.aggregate`: mean, std and per-seed values of every figure),
  **report** (``report.md``), **results** (``results.json``) and **plots**.
* **entry point**: :meth:`Benchmark.main` is ``hnsx bench <name>``; each benchmark module exposes ``main(args)``
  and ``MODALITIES`` (``None``: every modality with benchmark hooks).

Adding a benchmark: subclass :class:`Benchmark`, set :attr:`~Benchmark.name` and :attr:`~Benchmark.config_class`,
implement :meth:`~Benchmark.run_seed`, point :attr:`~Benchmark.reports` at a module with ``format_report(results)``
(and ``save_plots(results, examples, out)``), and register the module in ``hnsx.cli``'s
``BENCH_MODULES`` (see ``docs/benchmarks-runner.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import torch
from tqdm.auto import tqdm

from hnsx.benchmarks import common
from hnsx.benchmarks.hooks import modality_settings
from hnsx.benchmarks.html import Section, write_report_html
from hnsx.benchmarks.results import aggregate, cached_seed, fingerprint, write_outputs


def seed_list(seeds: int) -> list[int]:
    """Seeds ``0 .. seeds - 1``; ``ValueError`` for fewer than one."""
    if isinstance(seeds, bool) or int(seeds) < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    return list(range(int(seeds)))


def cli_options(args: Any) -> dict[str, Any]:
    """Config fields every benchmark takes from ``hnsx bench``: ``--explainers a,b`` (plain names) and
    ``--epochs`` (joint epochs of the Hide-and-Seek models, ``hns_epochs``); absent options are left out."""
    options: dict[str, Any] = {}
    if getattr(args, "explainers", None):
        options["explainers"] = tuple(n.strip() for n in args.explainers.split(",") if n.strip())
    if getattr(args, "epochs", None) is not None:
        options["hns_epochs"] = int(args.epochs)
    return options


def cli_run_settings(args: Any, *, quick_seeds: int = 3) -> tuple[list[int], str]:
    """Seeds and device of a ``hnsx bench`` run (``--seeds``: default 3, ``quick_seeds`` under ``--quick``);
    sets torch's thread count from ``--threads``; ``ValueError`` for CUDA without a CUDA device."""
    default = quick_seeds if getattr(args, "quick", False) else 3
    seeds = seed_list(args.seeds if getattr(args, "seeds", None) is not None else default)
    threads = getattr(args, "threads", None)
    if threads is not None:
        torch.set_num_threads(int(threads))
    device = getattr(args, "device", "cpu") or "cpu"
    check_device(device)
    return seeds, device


def command_line(args: Any) -> str | None:
    """The ``hnsx`` command that made ``args`` (``args.argv``, set by ``hnsx.cli.main``), shell-quoted; ``None``
    when unknown."""
    argv = getattr(args, "argv", None)
    return None if argv is None else shlex.join(["hnsx", *argv])


def check_device(device: str) -> None:
    """``ValueError`` for a device other than ``cpu`` / ``cuda``, or ``cuda`` without a CUDA device."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")


class Benchmark(ABC):
    """One benchmark protocol on the shared runner (module docstring)."""

    #: The ``hnsx bench`` name, the ``benchmark`` key of ``results.json`` and the key of the modality settings.
    name: ClassVar[str] = ""
    #: The frozen dataclass of the benchmark's settings.
    config_class: ClassVar[type]
    #: The benchmark's own defaults over the config class's: ``{quick: {field: value}}``.
    defaults: ClassVar[dict[bool, dict[str, Any]]] = {}
    #: Seeds under ``--quick`` when ``--seeds`` is not given (configs without a ``seeds`` field).
    quick_seeds: ClassVar[int] = 3
    #: The module that writes the report and the plots (:mod:`hnsx.benchmarks.reports`).
    reports: ClassVar[ModuleType | None] = None
    #: What :meth:`main` says it wrote besides ``results.json`` and ``report.md`` (``""``: nothing else).
    outputs: ClassVar[str] = ""

    # -- configuration --------------------------------------------------------------------------------------------
    def fields(self) -> set[str]:
        return {f.name for f in dataclasses.fields(self.config_class)}

    def default_config(self, modality: str, *, quick: bool = False, **overrides: Any) -> Any:
        """The configuration of ``hnsx bench NAME --modality M [--quick]`` before ``overrides`` (module docstring)."""
        common.check_modality(modality)
        fields = self.fields()
        settings: dict[str, Any] = {**self.defaults.get(bool(quick), {})}
        settings.update(modality_settings(modality, self.name, quick))
        settings.update({k: v for k, v in (("modality", modality), ("quick", bool(quick))) if k in fields})
        settings.update(overrides)
        return self.config_class(**{k: v for k, v in settings.items() if k in fields})

    def cli_overrides(self, args: Any) -> dict[str, Any]:
        """Config fields from the ``hnsx bench`` options: :func:`cli_options`, and ``seeds``, ``device``,
        ``threads`` and ``progress`` where the config class has such a field."""
        fields = self.fields()
        options = dict(cli_options(args))
        if getattr(args, "seeds", None) is not None:
            options["seeds"] = args.seeds
        options["device"] = getattr(args, "device", "cpu") or "cpu"
        options["threads"] = getattr(args, "threads", 2)
        options["progress"] = not getattr(args, "no_progress", False)
        return {k: v for k, v in options.items() if k in fields}

    def config_from_args(self, args: Any) -> Any:
        """The configuration of a ``hnsx bench`` call."""
        return self.default_config(args.modality, quick=bool(getattr(args, "quick", False)), **self.cli_overrides(args))

    # -- data and seeds -------------------------------------------------------------------------------------------
    def load_data(self, modality: str, config: Any, *, quick: bool) -> Any:
        """The data the benchmark runs on (default: :func:`~hnsx.benchmarks.common.load_bench_data`)."""
        return common.load_bench_data(modality, quick=quick, seed=0)

    def data_for(self, args: Any, config: Any) -> Any:
        """The data of a ``hnsx bench`` call: the user's (``args.data_settings``, the data options of ``hnsx train``,
        and ``args.checkpoint``; :func:`~hnsx.benchmarks.common.load_user_data`) when given, else
        :meth:`load_data`."""
        settings = getattr(args, "data_settings", None)
        if settings is None:
            return self.load_data(args.modality, config, quick=bool(getattr(args, "quick", False)))
        checkpoint, which = getattr(args, "checkpoint", None), getattr(args, "which", "best")
        return common.load_user_data(args.modality, settings, checkpoint, which)

    def run_seed(self, data: Any, config: Any, seed: int, *, progress: bool, device: str) -> tuple[dict, dict]:
        """One seed: ``(figures, examples)``; ``figures`` is JSON, ``examples`` named tensors for the plots.

        Every benchmark implements it, or overrides :meth:`run` where its unit of caching is finer than a seed
        (ROAR caches every retrained seeker)."""
        raise NotImplementedError(f"the {self.name} benchmark implements neither run_seed nor run")

    def key(self, data: Any, config: Any) -> str:
        """The fingerprint of everything that changes a seed's figures (cached seeds with another one rerun)."""
        return fingerprint(benchmark=self.name, data=data.name, test=len(data.test), config=dataclasses.asdict(config))

    # -- results --------------------------------------------------------------------------------------------------
    def shared_keys(self, data: Any, config: Any, seeds: Sequence[int], explainers: list[str]) -> dict[str, Any]:
        """What every ``results.json`` holds: ``benchmark``, ``modality``, ``dataset``, ``config``, ``seeds``,
        ``explainers``."""
        return {
            "benchmark": self.name,
            "modality": data.modality,
            "dataset": data.name,
            "config": dataclasses.asdict(config),
            "seeds": list(seeds),
            "explainers": explainers,
        }

    def record(self, data: Any, config: Any, seeds: Sequence[int], per_seed: list[dict]) -> dict[str, Any]:
        """The ``results.json`` record: the shared keys and ``results`` (:func:`aggregate` of the seeds)."""
        return {
            **self.shared_keys(data, config, seeds, self.explainers_of(per_seed)),
            "test_size": len(data.test),
            "results": aggregate(per_seed),
        }

    def explainers_of(self, per_seed: list[dict]) -> list[str]:
        """The explainer rows of the results (default: the keys of a seed's ``explainers``)."""
        return list(per_seed[0].get("explainers", {}))

    def report(self, results: dict[str, Any]) -> str:
        """``report.md`` from the results: :attr:`reports`' ``format_report`` (override without a module)."""
        if self.reports is None:
            raise NotImplementedError(f"the {self.name} benchmark has neither a reports module nor report()")
        return self.reports.format_report(results)

    def plots(self, results: dict[str, Any], examples: dict | None, out: Path) -> list[Path]:
        """The plots written beside the report: :attr:`reports`' ``save_plots`` (none without one)."""
        save = getattr(self.reports, "save_plots", None)
        return save(results, examples, out) if save is not None else []

    def sections(self, data: Any, config: Any, results: dict[str, Any], out_dir: Path) -> list[Section]:
        """Extra parts of ``report.html`` beyond the report and the plots (default: none); ``out_dir`` holds the
        run's files (the cached seeds' plot examples under ``seeds/``)."""
        return []

    def write_html(self, out_dir: str | Path, data: Any, config: Any, results: dict[str, Any], command: str | None):
        """``report.html`` from the results, the ``report.md`` and the plots in ``out_dir`` and :meth:`sections`
        (nothing where the run wrote no ``report.md``); its path or ``None``."""
        path = Path(out_dir) / "report.md"
        if not path.is_file():
            return None
        report = path.read_text()
        sections = self.sections(data, config, results, Path(out_dir))
        return write_report_html(out_dir, results, report, command=command, sections=sections)

    def summary(self, results: dict[str, Any]) -> str:
        """What :meth:`main` prints (default: the report)."""
        return self.report(results)

    def written(self, results: dict[str, Any]) -> str:
        """The files :meth:`main` says it wrote besides ``results.json`` and ``report.md``."""
        return self.outputs

    # -- running --------------------------------------------------------------------------------------------------
    def run(
        self,
        data: Any,
        config: Any,
        seeds: Sequence[int],
        out_dir: str | Path,
        *,
        progress: bool = True,
        device: str = "cpu",
    ) -> dict[str, Any]:
        """Every seed (cached per seed), then ``results.json``, ``report.md`` and the plots; returns the results.

        The outputs are rewritten after every seed, so an interrupted run keeps the seeds it finished
        (``complete`` is false until the last).
        """
        seeds = list(seeds)
        if not seeds:
            raise ValueError("no seeds given")
        start = time.perf_counter()
        key = self.key(data, config)
        per_seed: list[dict] = []
        examples: dict | None = None
        results: dict[str, Any] = {}
        for seed in tqdm(seeds, desc=f"{self.name} seeds", disable=not progress or len(seeds) == 1):
            compute = functools.partial(self.run_seed, data, config, seed, progress=progress, device=device)
            figures, shown = cached_seed(out_dir, seed, key, compute)
            per_seed.append(figures)
            examples = examples or shown
            results = self.record(data, config, seeds[: len(per_seed)], per_seed)
            results["seconds"] = time.perf_counter() - start
            results["complete"] = len(per_seed) == len(seeds)
            out = write_outputs(out_dir, results, self.report(results))
            self.plots(results, examples, out)
        return results

    def execute(self, data: Any, config: Any, args: Any) -> dict[str, Any]:
        """:meth:`run` with the seeds and device of the ``hnsx bench`` options (``--seeds``: the config's ``seeds``
        field where it has one)."""
        seeds, device = cli_run_settings(args, quick_seeds=self.quick_seeds)
        if "seeds" in self.fields():
            seeds = seed_list(config.seeds)
        return self.run(data, config, seeds, args.out, progress=not getattr(args, "no_progress", False), device=device)

    def main(self, args: Any) -> int:
        """``hnsx bench NAME`` (``args``: modality, quick, seeds, out, threads, device, no_progress, and optionally
        epochs, explainers, estimator, jobs); prints the summary and the files written; the exit code."""
        config = self.config_from_args(args)
        data = self.data_for(args, config)
        results = self.execute(data, config, args)
        self.write_html(args.out, data, config, results, command_line(args))
        print(self.summary(results))
        extra = self.written(results)
        print(f"wrote {Path(args.out) / 'results.json'}, report.md, report.html" + (f" and {extra}" if extra else ""))
        return 0


class ConfiguredBenchmark(Benchmark):
    """A benchmark whose configuration holds the whole run (``modality``, ``seeds``, ``samples``, ``device``,
    ``threads``, ``progress``; sanity and faithfulness): :meth:`run_config` runs it from the config alone, and a
    seed is :meth:`evaluate_seed` (its figures; no plot examples)."""

    def run_config(self, config: Any, out_dir: str | Path, *, data: Any = None) -> dict[str, Any]:
        """Check the config, load the data (unless given), use a small test split whole, run every seed."""
        common.check_modality(config.modality)
        check_device(config.device)
        torch.set_num_threads(config.threads)
        seeds = seed_list(config.seeds)
        data = data if data is not None else self.load_data(config.modality, config, quick=False)
        if config.samples > len(data.test):  # a small test split (breast cancer: 114 rows) is used whole
            config = dataclasses.replace(config, samples=len(data.test))
        self.explainer_names(config)
        return self.run(data, config, seeds, out_dir, progress=config.progress, device=config.device)

    def execute(self, data: Any, config: Any, args: Any) -> dict[str, Any]:
        return self.run_config(config, args.out, data=data)

    def run_seed(self, data: Any, config: Any, seed: int, *, progress: bool, device: str) -> tuple[dict, dict]:
        return self.evaluate_seed(data, config, seed), {}

    @abstractmethod
    def evaluate_seed(self, data: Any, config: Any, seed: int) -> dict[str, Any]:
        """One seed's figures (progress and device come from the config)."""

    @abstractmethod
    def explainer_names(self, config: Any) -> list[str]:
        """The explainers of ``config`` (``ValueError`` for unknown ones)."""

    def record(self, data: Any, config: Any, seeds: Sequence[int], per_seed: list[dict]) -> dict[str, Any]:
        """The shared keys, :meth:`summarise` of the seeds at the top level, and every seed's figures."""
        return {
            **self.shared_keys(data, config, seeds, self.explainer_names(config)),
            **self.summarise(list(seeds), per_seed),
            "per_seed": per_seed,
        }

    @abstractmethod
    def summarise(self, seeds: list[int], per_seed: list[dict]) -> dict[str, Any]:
        """Mean and std over the seeds of every figure, as top-level results keys."""


__all__ = ["Benchmark", "ConfiguredBenchmark", "check_device", "cli_options", "cli_run_settings", "seed_list"]
