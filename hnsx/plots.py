"""Figures of any run: Fidelity and Interpretability per epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_curves(path: str | Path, history: list[dict]) -> Path:
    """Fidelity and Interpretability (and alpha) per epoch, from ``history.jsonl`` records."""
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(epochs, [r["fidelity"] for r in history], marker="o", label="Fidelity F")
    ax.plot(epochs, [r["interpretability"] for r in history], marker="s", label="Interpretability I")
    ax.plot(epochs, [r["alpha"] for r in history], linestyle="--", color="gray", label="alpha")
    ax.set_xlabel("epoch")
    ax.set_ylim(0, 1.1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Hide-and-Seek on the evaluation split")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
