"""``hnsx bench speed`` on a given model and data: what each explainer costs on the user's classifier and inputs.

With ``--checkpoint RUN`` (and ``hnsx train``'s data options) the run's Hide-and-Seek model is timed: every post-hoc
explainer of the modality (:func:`hnsx.benchmarks.common.build_explainers`) explains the run's seeker, ``hns`` is the
run's hider and seeker in one pass. With the data options alone, an untrained model of the modality's default spec
for that data is timed instead (cost does not depend on what the weights learned). Any modality with benchmark
hooks works, as for faithfulness and sanity.

The inputs are the first rows of the data's test split, in order, repeated from the start when a batch is larger
than the split. For every batch size of :attr:`~hnsx.benchmarks.speed.SpeedConfig.batches`: predict + explain
throughput (inputs/s) and peak memory of each explainer (:func:`~hnsx.benchmarks.timing.time_call`: one warm-up
call, the median of ``repeats`` timed calls, the warm-up alone when slower than ``slow_seconds``); at the largest
batch, one Adam step of Hide-and-Seek against its seeker alone (copies of them: the run is not changed). Integrated
Gradients passes its scaled copies in chunks of one batch where all of them at once would exceed
:data:`~hnsx.benchmarks.timing.IG_MAX_ELEMENTS` input elements, as on the built-in data.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from hnsx.benchmarks import common
from hnsx.benchmarks.reports.speed import format_report
from hnsx.benchmarks.timing import Timing, ig_needs_chunks, machine, step_timings, time_call
from hnsx.model import HideAndSeek
from hnsx.spec import build_model
from hnsx.training.checkpoint import write_json_atomic


def batch_key(batch: int) -> str:
    """The key of one batch size in ``results.json`` (``"batch16"``)."""
    return f"batch{batch}"


def timed_model(data: common.BenchData, seed: int, device: torch.device) -> HideAndSeek:
    """The model whose explainers are timed, on ``device`` in eval mode: the run's (``data.trained``), else an
    untrained one of ``data.spec`` with weights drawn from ``seed``."""
    if data.trained is not None:
        return data.trained.to(device).eval()
    torch.manual_seed(seed)
    return build_model(data.spec).to(device).eval()


def batch_of(dataset: torch.utils.data.TensorDataset, batch: int, device: torch.device):
    """``(inputs, labels)`` of ``batch`` rows on ``device``: the split's first rows, repeated from the start when
    ``batch`` exceeds its length."""
    rows = torch.arange(batch) % len(dataset)
    return tuple(t[rows].to(device) for t in dataset.tensors)


def explain_timings(
    data: common.BenchData, model: HideAndSeek, names: list[str], batch: int, config: Any, device: torch.device
) -> dict[str, Timing]:
    """Predict + explain timing of every explainer in ``names`` on one batch of ``data``'s test split."""
    x, _ = batch_of(data.test, batch, device)
    explainers = common.build_explainers(data, model.seeker, model, names, seed=config.seed)
    for explainer in explainers.values():  # Integrated Gradients' scaled copies in chunks where all would be too many
        if getattr(explainer, "internal_batch_size", 0) is None and ig_needs_chunks(explainer.n_steps, x):
            explainer.internal_batch_size = batch
    return {
        name: time_call(lambda e=e: e.predict_and_attribute(x), device, batch, config.repeats, config.slow_seconds)
        for name, e in explainers.items()
    }


def ratios(methods: dict[str, dict[str, Any]], key: str) -> dict[str, float]:
    """HnS's throughput over every other explainer's at batch ``key`` (higher: HnS is faster)."""
    row = methods[key]
    if "hns" not in row:
        return {}
    hns = row["hns"]["samples_per_s"]
    return {f"hns_vs_{name}": hns / t["samples_per_s"] for name, t in row.items() if name != "hns"}


def _described(data: common.BenchData) -> str:
    spec = data.spec
    parts = f"{spec.hider.name} hider, {spec.seeker.name} seeker"
    return f"the run's ({parts})" if data.trained is not None else f"untrained, the default spec ({parts})"


def run_speed_on_data(
    data: common.BenchData, config: Any, out_dir: str | Path, *, progress: bool = True
) -> dict[str, Any]:
    """Time the explainers of ``config.explainers`` (default: the modality's default list) on ``data``'s model and
    test inputs (module docstring); write ``results.json`` and ``report.md`` to ``out_dir``; return the results."""
    start = time.perf_counter()
    device = torch.device(config.device)
    names = common.check_explainers(
        data.modality, list(config.explainers or common.explainer_names(data.modality, defaults_only=True))
    )
    model = timed_model(data, config.seed, device)
    data = dataclasses.replace(data, adapter=model.adapter)
    methods: dict[str, dict[str, Any]] = {}
    for batch in tqdm(config.batches, desc="speed", disable=not progress):
        timings = explain_timings(data, model, names, batch, config, device)
        methods[batch_key(batch)] = {name: t.as_dict() for name, t in timings.items()}

    largest = max(config.batches)
    x, y = batch_of(data.test, largest, device)
    trainable = copy.deepcopy(model).train().requires_grad_(True)  # the run itself is left as it was
    alone = copy.deepcopy(model.seeker).train().requires_grad_(True)
    steps = step_timings(trainable, alone, x, y, config, device)
    results = {
        "benchmark": "speed",
        "modality": data.modality,
        "dataset": data.name,
        "model": _described(data),
        "test_size": len(data.test),
        "input_shape": list(data.input_shape),
        "explainers": names,
        "machine": machine(device, config.threads),
        "config": dataclasses.asdict(config),
        "default": batch_key(largest),
        "methods": methods,
        "train_step": {batch_key(largest): {k: t.as_dict() for k, t in steps.items()}},
        "ratios": ratios(methods, batch_key(largest)),
        "seconds": time.perf_counter() - start,
        "complete": True,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", results)
    tmp = out / "report.md.tmp"
    tmp.write_text(format_report(results))
    tmp.replace(out / "report.md")
    return results


__all__ = ["batch_key", "batch_of", "explain_timings", "ratios", "run_speed_on_data", "timed_model"]
