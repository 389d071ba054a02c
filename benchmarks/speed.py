"""``hnsx bench speed``: what an explanation costs, HnS against Captum's methods, in one process.

This module is the built-in measurement on random images; with ``--checkpoint RUN`` or ``hnsx train``'s data options
the same benchmark times the user's model on the user's data (:mod:`hnsx.benchmarks.speed_data`).

Everything is measured on the same seeker (the paper's small CNN), batch, device and thread count:

* **explain**: predict + explain throughput (samples/s) of each method of :mod:`hnsx.benchmarks.explainers`.
  For Captum methods that is a forward pass to predict, then ``attribute`` for the predicted class; for HnS one
  pass of hider and seeker under ``torch.inference_mode``. Also HnS with the paper's conv-autoencoder hider
  (``hns-paper-hider``), to show what the light default hider buys.
* **train step**: one optimizer step (forward, loss, backward, Adam) of HnS against the seeker alone.
* **scaling**: the same with input sizes 28, 64, 128, 224 (1 channel at 28, else 3) and batch sizes 1-256.

Timing: one warm-up call, then ``repeats`` timed calls; the median is reported. A call slower than
``slow_seconds`` is timed once (its warm-up is the measurement) so that Integrated Gradients at 224x224 stays
affordable; ``repeats`` in the results says how many calls each figure rests on. Peak memory: on CUDA
``torch.cuda.max_memory_allocated``; on the CPU the peak resident-set growth over the call, sampled every
millisecond from ``/proc/self/statm`` after returning freed memory to the OS (Linux only; ``None`` elsewhere).
Weights are random: cost does not depend on what the networks learned. ``integrated-gradients`` is Captum's
default call (all ``n_steps`` scaled copies of the batch in one pass), except where those copies would exceed
:data:`IG_MAX_ELEMENTS` input elements (224x224 at batch 32 would need about 20 GB); ``integrated-gradients-chunked``
always passes them in chunks of one batch (``internal_batch_size``), which is faster on a CPU and needs the memory of
one batch's gradients. Both are reported; ``hns_vs_integrated_gradients`` compares with Captum's default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from hnsx.adapters.image.spec import image_spec
from hnsx.benchmarks.explainers import build_explainer
from hnsx.benchmarks.reports import speed as reports_module
from hnsx.benchmarks.reports.speed import format_report, format_table
from hnsx.benchmarks.runner import Benchmark, check_device
from hnsx.benchmarks.speed_data import run_speed_on_data
from hnsx.benchmarks.timing import Timing, ig_needs_chunks, machine, step_timings, time_call
from hnsx.registry import SEEKERS
from hnsx.spec import build_model
from hnsx.training.checkpoint import write_json_atomic

#: On the built-in data the speed benchmark times image explainers at image sizes (28 to 224 pixels) and refuses
#: other modalities (:meth:`Speed.load_data`); on the user's model and data (``--checkpoint``, the data options:
#: :mod:`hnsx.benchmarks.speed_data`) it times any modality's explainers.
MODALITIES = None
SCOPE = "images"
#: ``hnsx bench speed`` takes ``--checkpoint RUN`` and ``hnsx train``'s data options.
USER_DATA = True
#: Methods of the explain benchmark: label -> (explainer name, explainer options). ``hns`` uses the default
#: (or chosen) hider, ``hns-paper-hider`` the paper's conv-autoencoder; both share the seeker.
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "hns": ("hns", {}),
    "hns-paper-hider": ("hns", {}),
    "layer-gradcam": ("layer-gradcam", {}),
    "saliency": ("saliency", {}),
    "integrated-gradients": ("integrated-gradients", {"n_steps": 50}),
    "integrated-gradients-chunked": ("integrated-gradients", {"n_steps": 50}),
    "occlusion": ("occlusion", {}),
}
PAPER_HIDER = "conv-autoencoder"


@dataclass(frozen=True)
class SpeedConfig:
    """What ``hnsx bench speed`` measures; the defaults are the full run (``--quick``: :data:`QUICK`)."""

    default_shape: tuple[int, int, int] = (1, 28, 28)
    default_batch: int = 256
    sizes: tuple[int, ...] = (28, 64, 128, 224)
    size_batch: int = 32
    batches: tuple[int, ...] = (1, 16, 64, 256)
    methods: tuple[str, ...] = tuple(METHODS)
    scaling_methods: tuple[str, ...] = tuple(m for m in METHODS if m != "integrated-gradients-chunked")
    repeats: int = 5
    train_repeats: int = 10
    slow_seconds: float = 20.0
    threads: int = 2
    device: str = "cpu"
    hider: str = "pyramid"
    seed: int = 0
    #: The explainers timed on the user's model and data (default: the modality's default list); on the built-in
    #: data, which of :data:`METHODS` to time (by explainer name; default all).
    explainers: tuple[str, ...] | None = None


#: ``--quick`` (under 3 minutes on 2 CPU cores): the default configuration, 28 and 224 pixels, two batch sizes.
QUICK: dict[str, Any] = {
    "sizes": (28, 224),
    "batches": (16, 256),
    "scaling_methods": ("hns", "layer-gradcam", "saliency"),
    "repeats": 3,
    "train_repeats": 5,
    "slow_seconds": 5.0,
}


# --- what is timed ------------------------------------------------------------------------------------------------


def _models(shape: Sequence[int], hider: str, device: torch.device, seed: int):
    """One seeker, and HnS models with the chosen hider and with the paper's, sharing that seeker."""
    torch.manual_seed(seed)
    seeker = SEEKERS.build("small-cnn", input_shape=shape, num_classes=10).to(device).eval()
    models = {}
    for label, name in (("hns", hider), ("hns-paper-hider", PAPER_HIDER)):
        model = build_model(image_spec(shape, 10, hider=name), seeker=seeker).to(device).eval()
        models[label] = model
    return seeker, models


def explain_timings(
    shape: Sequence[int], batch: int, methods: Sequence[str], config: SpeedConfig, device: torch.device
) -> dict[str, Timing]:
    """Predict + explain timing of each method on one ``(batch, *shape)`` input."""
    seeker, models = _models(shape, config.hider, device, config.seed)
    x = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(config.seed)).to(device)
    out = {}
    for label in methods:
        name, options = METHODS[label]
        if label == "integrated-gradients-chunked" or (
            name == "integrated-gradients" and ig_needs_chunks(options["n_steps"], x)
        ):
            options = {**options, "internal_batch_size": batch}  # the scaled copies in chunks of one batch
        target_model = models[label] if name == "hns" else seeker
        explainer = build_explainer(name, target_model, **options)
        out[label] = time_call(
            lambda e=explainer: e.predict_and_attribute(x), device, batch, config.repeats, config.slow_seconds
        )
    return out


def train_step_timings(shape: Sequence[int], batch: int, config: SpeedConfig, device: torch.device) -> dict:
    """One Adam step of HnS (hider + binarizer + seeker, the loss of :func:`hnsx.hns_loss`) and of the seeker alone."""
    _, models = _models(shape, config.hider, device, config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    x = torch.rand(batch, *shape, generator=gen).to(device)
    y = torch.randint(0, 10, (batch,), generator=gen).to(device)
    alone = SEEKERS.build("small-cnn", input_shape=shape, num_classes=10).to(device).train()
    return step_timings(models["hns"].train(), alone, x, y, config, device)


# --- the benchmark ------------------------------------------------------------------------------------------------


def _shape_for(size: int) -> tuple[int, int, int]:
    return (1 if size == 28 else 3, size, size)


def _key(shape: Sequence[int], batch: int) -> str:
    return f"{shape[0]}x{shape[1]}x{shape[2]}/batch{batch}"


def _only_explainers(config: SpeedConfig, names: Sequence[str]) -> SpeedConfig:
    """``config`` timing only the :data:`METHODS` whose explainer is one of ``names`` (``ValueError`` for others)."""
    known = {explainer for explainer, _ in METHODS.values()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown speed explainer(s) {', '.join(unknown)}; choose from: {', '.join(sorted(known))}")
    keep = [label for label, (explainer, _) in METHODS.items() if explainer in names]
    return dataclasses.replace(
        config,
        methods=tuple(m for m in config.methods if m in keep),
        scaling_methods=tuple(m for m in config.scaling_methods if m in keep),
    )


def run_speed(config: SpeedConfig, out_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run the speed benchmark and write ``results.json`` and ``report.md`` to ``out_dir``; returns the results."""
    check_device(config.device)
    unknown = sorted((set(config.methods) | set(config.scaling_methods)) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {sorted(METHODS)}")
    if config.explainers:
        config = _only_explainers(config, config.explainers)
    device = torch.device(config.device)
    torch.set_num_threads(config.threads)

    jobs: list[tuple[str, tuple[int, int, int], int, tuple[str, ...]]] = [
        ("default", config.default_shape, config.default_batch, config.methods)
    ]
    jobs += [("size", _shape_for(s), config.size_batch, config.scaling_methods) for s in config.sizes]
    jobs += [("batch", config.default_shape, b, config.scaling_methods) for b in config.batches]
    methods: dict[str, dict[str, Any]] = {}
    for _, shape, batch, names in tqdm(jobs, desc="speed", disable=not progress):
        key = _key(shape, batch)
        todo = [m for m in names if m not in methods.get(key, {})]
        timings = explain_timings(shape, batch, todo, config, device)
        methods.setdefault(key, {}).update({m: t.as_dict() for m, t in timings.items()})

    train = {}
    for shape in dict.fromkeys([config.default_shape, _shape_for(max(config.sizes))]):
        batch = config.default_batch if shape == config.default_shape else config.size_batch
        timings = train_step_timings(shape, batch, config, device)
        train[_key(shape, batch)] = {k: t.as_dict() for k, t in timings.items()}

    results = {
        "machine": machine(device, config.threads),
        "config": asdict(config),
        "default": _key(config.default_shape, config.default_batch),
        "methods": methods,
        "train_step": train,
        "ratios": ratios(methods, train, config),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", results)
    report = format_report(results)
    tmp = out / "report.md.tmp"
    tmp.write_text(report)
    tmp.replace(out / "report.md")
    return results


def _ratio(methods: dict, key: str, a: str, b: str) -> float | None:
    row = methods.get(key, {})
    if a in row and b in row:
        return row[a]["samples_per_s"] / row[b]["samples_per_s"]
    return None


def ratios(methods: dict, train: dict, config: SpeedConfig) -> dict[str, float | None]:
    """Throughput ratios (higher is better for HnS) and the train-step time ratio (lower is better)."""
    default = _key(config.default_shape, config.default_batch)
    large = _key(_shape_for(max(config.sizes)), config.size_batch)
    step = train[default]
    return {
        "hns_vs_integrated_gradients": _ratio(methods, default, "hns", "integrated-gradients"),
        "hns_vs_integrated_gradients_chunked": _ratio(methods, default, "hns", "integrated-gradients-chunked"),
        "hns_vs_layer_gradcam": _ratio(methods, default, "hns", "layer-gradcam"),
        "hns_vs_saliency": _ratio(methods, default, "hns", "saliency"),
        "hns_vs_occlusion": _ratio(methods, default, "hns", "occlusion"),
        "hns_paper_hider_vs_layer_gradcam": _ratio(methods, default, "hns-paper-hider", "layer-gradcam"),
        f"hns_vs_layer_gradcam_{max(config.sizes)}": _ratio(methods, large, "hns", "layer-gradcam"),
        "train_step_hns_vs_seeker": step["hns"]["seconds"] / step["seeker"]["seconds"],
    }


class Speed(Benchmark):
    """``hnsx bench speed`` on the shared runner: one measurement (no seeds, no data set), so it overrides
    :meth:`run`."""

    name = "speed"
    reports = reports_module
    config_class = SpeedConfig
    defaults = {True: QUICK}

    def load_data(self, modality: str, config: SpeedConfig, *, quick: bool) -> None:
        """``None``: the built-in inputs are random tensors of each measured shape (images only)."""
        if modality != "image":
            raise ValueError(
                f"the speed benchmark supports --modality image, not {modality!r} (it runs on images only on the "
                "built-in data; give --checkpoint RUN or the data options to time another modality)"
            )
        return None

    def run(self, data, config: SpeedConfig, seeds, out_dir, *, progress: bool = True, device: str = "cpu"):
        """The built-in measurement (:func:`run_speed`) when ``data`` is ``None``, else the user's model and data
        (:func:`hnsx.benchmarks.speed_data.run_speed_on_data`)."""
        if data is None:
            return run_speed(config, out_dir, progress=progress)
        check_device(config.device)
        torch.set_num_threads(config.threads)
        return run_speed_on_data(data, config, out_dir, progress=progress)

    def execute(self, data, config: SpeedConfig, args: Any) -> dict[str, Any]:
        return self.run(data, config, [config.seed], args.out, progress=not getattr(args, "no_progress", False))

    def summary(self, results: dict[str, Any]) -> str:
        return format_table(results)

    def written(self, results: dict[str, Any]) -> str:
        return ""


BENCHMARK = Speed()
main = BENCHMARK.main


__all__ = [
    "BENCHMARK",
    "METHODS",
    "MODALITIES",
    "QUICK",
    "SpeedConfig",
    "Timing",
    "format_report",
    "main",
    "ratios",
    "run_speed",
    "time_call",
]
