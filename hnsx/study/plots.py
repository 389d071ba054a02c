"""Figures of a multi-seed study: F and I per epoch (mean +- std over seeds), the F-I scatter of all runs, FIR.

Each function takes ``columns = [(label, run records), ...]`` as built by :func:`hnsx.study.report.study_columns`,
a run record being an entry of ``results.json`` (``history`` holds per-epoch ``F``, ``I``, ``FIR``, ``FII``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from hnsx.metrics import COLLAPSE_THRESHOLD  # noqa: E402
from hnsx.study.summary import CONVERGED_F, CONVERGED_I, run_summary  # noqa: E402

Columns = Sequence[tuple[str, Sequence[dict[str, Any]]]]


def _curves(records: Sequence[dict[str, Any]], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and std of ``metric`` over the runs (epochs that every run reached)."""
    length = min(len(r["history"]) for r in records)
    values = np.array([[h[metric] for h in r["history"][:length]] for r in records], dtype=float)
    epochs = np.array([h["epoch"] for h in records[0]["history"][:length]])
    std = values.std(axis=0, ddof=1) if len(records) > 1 else np.zeros(length)
    return epochs, values.mean(axis=0), std


def _band(ax, columns: Columns, metric: str, title: str) -> None:
    for label, records in columns:
        if not records:
            continue
        epochs, mean, std = _curves(records, metric)
        (line,) = ax.plot(epochs, mean, marker="o", markersize=3, label=f"{label} (n={len(records)})")
        ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def save_curves(path: str | Path, columns: Columns, study: str) -> Path:
    """F and I per epoch, one line per configuration: mean over seeds with a +- std band."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    _band(axes[0], columns, "F", "Fidelity F")
    _band(axes[1], columns, "I", "Interpretability I")
    axes[0].set_ylim(0, 1.1)
    axes[0].set_ylabel("evaluation split (mean +- std over seeds)")
    axes[1].legend(loc="lower right", fontsize=7)
    fig.suptitle(f"{study}: Fidelity and Interpretability per epoch")
    return _save(fig, path)


def save_scatter(path: str | Path, columns: Columns, study: str) -> Path:
    """Converged F (y) against I (x) of every run, one colour per configuration; collapse and convergence lines."""
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    for label, records in columns:
        runs = [run_summary(r) for r in records]
        if runs:
            ax.scatter([r["I"] for r in runs], [r["F"] for r in runs], label=label, alpha=0.75, s=28)
    ax.axvline(COLLAPSE_THRESHOLD, color="red", linestyle=":", linewidth=1)
    ax.axhline(COLLAPSE_THRESHOLD, color="red", linestyle=":", linewidth=1, label="collapse (< 0.2)")
    ax.axvline(CONVERGED_I, color="green", linestyle="--", linewidth=1)
    ax.axhline(CONVERGED_F, color="green", linestyle="--", linewidth=1, label="converged (>= 0.9)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("Interpretability I")
    ax.set_ylabel("Fidelity F")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{study}: every run after its last epoch")
    return _save(fig, path)


def save_fir(path: str | Path, columns: Columns, study: str) -> Path:
    """FIR = F / (F + I) per epoch (mean +- std over seeds); 0.5 is the balance line."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    _band(ax, columns, "FIR", f"{study}: FIR over training")
    ax.axhline(0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("FIR")
    ax.legend(fontsize=7)
    return _save(fig, path)


def save_study_figures(out: str | Path, study: str, columns: Columns) -> dict[str, Path]:
    """``<study>-curves.png``, ``<study>-scatter.png`` and ``<study>-fir.png`` in ``out``; returns title -> path."""
    out = Path(out)
    return {
        "F and I per epoch": save_curves(out / f"{study}-curves.png", columns, study),
        "F-I scatter of all runs": save_scatter(out / f"{study}-scatter.png", columns, study),
        "FIR over training": save_fir(out / f"{study}-fir.png", columns, study),
    }


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
