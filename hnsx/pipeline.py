"""One training run from data to ``metrics.json``: what ``hnsx train`` and ``hnsx demo`` call."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerate.utils import set_seed
from torch import nn

from hnsx.data import SplitData, make_loaders
from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec, build_model
from hnsx.training.checkpoint import write_json_atomic
from hnsx.training.config import TrainConfig
from hnsx.training.fit import FitResult, fit

METRICS_FILE = "metrics.json"


@dataclass
class RunResult:
    model: HideAndSeek
    fit: FitResult
    metrics: dict[str, Any]


def run_training(
    data: SplitData,
    spec: ModelSpec,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    seeker: nn.Module | None = None,
    extra_metrics: dict[str, Any] | None = None,
    baseline_accuracy: float | None = None,
) -> RunResult:
    """Build the model of ``spec``, train it on ``data`` with :func:`~hnsx.training.fit`, write ``metrics.json``.

    ``metrics.json`` holds the evaluation figures after the last epoch (fidelity, interpretability, fir, fii,
    accuracy, baseline_accuracy, kept_fraction, collapsed), the best epoch's figures under ``best``, and
    ``epochs`` (trained), ``seconds`` (wall time of this call), ``stopped``, ``dataset``.

    ``baseline_accuracy`` (the denominator of Fidelity) is passed to :func:`~hnsx.training.fit`; ``None`` lets
    ``fit`` train the baseline seeker per ``config.init``.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    set_seed(config.seed)
    model = build_model(spec, seeker=seeker)
    train_loader, eval_loader = make_loaders(data, config.batch_size, seed=config.seed)
    result = fit(
        model,
        train_loader,
        eval_loader,
        config,
        out_dir=out,
        spec=spec,
        resume=resume,
        baseline_accuracy=baseline_accuracy,
    )
    final = result.scores.as_dict()
    metrics = {
        **final,
        "best": result.best.as_dict() if result.best is not None else None,
        "epochs": len(result.history) and result.history[-1]["epoch"],
        "seconds": time.perf_counter() - start,
        "stopped": result.stopped,
        "dataset": data.name,
        "alpha": result.history[-1]["alpha"] if result.history else None,
        **(extra_metrics or {}),
    }
    if result.is_main_process:
        write_json_atomic(out / METRICS_FILE, metrics)
    return RunResult(model=model, fit=result, metrics=metrics)


def print_summary(metrics: dict) -> None:
    """Print a run's evaluation figures as a small table (what ``hnsx train`` and ``hnsx demo`` end with)."""
    rows = [
        ("accuracy (HnS, masked)", metrics["accuracy"]),
        ("baseline accuracy (seeker alone)", metrics["baseline_accuracy"]),
        ("Fidelity F", metrics["fidelity"]),
        ("Interpretability I", metrics["interpretability"]),
        ("FIR", metrics["fir"]),
        ("FII", metrics["fii"]),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'metric'.ljust(width)}  value")
    print(f"{'-' * width}  ------")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value:.4f}")
    print(f"{'collapsed'.ljust(width)}  {metrics['collapsed']}")
    print(f"{'epochs / seconds'.ljust(width)}  {metrics['epochs']} / {metrics['seconds']:.0f}\n")
