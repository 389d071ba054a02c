"""What each benchmark writes for people: ``report.md`` and its plots, one module per benchmark, computed from the
benchmark's ``results.json`` record alone (so a report can be rebuilt from a finished run). Every module has
``format_report(results) -> str``; the ones with figures ``save_plots(results, examples, out) -> [paths]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Lay out ``fig``, write it to ``path`` (folders created) and close it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


__all__ = ["pyplot", "save_figure"]
