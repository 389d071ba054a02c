"""Results and reports shared by the ``hnsx bench`` benchmarks.

Every benchmark's ``results.json`` holds :data:`RESULT_KEYS` (``benchmark``, ``modality``, ``config``, ``seeds``,
``explainers``) and its own results, each figure as :func:`mean_std` (``{"mean", "std", "values"}``, ``values`` per
seed); :func:`aggregate` turns nested per-seed figures into that form. :func:`write_outputs` writes ``results.json``
(atomically) and ``report.md``; :func:`markdown_table` and :func:`format_mean_std` build the report.
:func:`cached_seed` keeps each seed's figures on disk under a :func:`fingerprint` of the settings, so a long run
resumes where it stopped and seeds can run in separate processes into one folder.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hnsx.training.checkpoint import write_json_atomic

RESULT_KEYS = ("benchmark", "modality", "config", "seeds", "explainers")


def mean_std(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std", "values"}`` of per-seed ``values`` (sample standard deviation; 0 for a single value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "values": values}


def format_mean_std(stats: Mapping[str, Any], digits: int = 3, percent: bool = False) -> str:
    """``"0.912 ± 0.004"`` (or ``"91.2 ± 0.4"`` with ``percent``) from a :func:`mean_std` record."""
    scale = 100.0 if percent else 1.0
    d = max(0, digits - 2) if percent else digits
    return f"{stats['mean'] * scale:.{d}f} ± {stats['std'] * scale:.{d}f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def figure_table(first: str, columns: Sequence[tuple[str, str]], rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A :func:`markdown_table` of :func:`mean_std` records: one row per ``rows`` entry (its name in the column
    ``first``), one column per ``(key, label)`` of ``columns``."""
    header = [first, *(label for _, label in columns)]
    return markdown_table(header, [[name, *(format_mean_std(f[k]) for k, _ in columns)] for name, f in rows.items()])


def write_outputs(out_dir: str | Path, results: Mapping[str, Any], report_md: str) -> Path:
    """Write ``results.json`` (atomically) and ``report.md`` into ``out_dir``; returns the folder.

    ``results`` must hold :data:`RESULT_KEYS` (``benchmark``, ``modality``, ``config``, ``seeds``, ``explainers``).
    """
    missing = [k for k in RESULT_KEYS if k not in results]
    if missing:
        raise ValueError(f"results lack {', '.join(missing)}: every benchmark writes {', '.join(RESULT_KEYS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", dict(results))
    fd, tmp = tempfile.mkstemp(prefix=".report.md.", dir=out)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(report_md.rstrip() + "\n")
        os.replace(tmp, out / "report.md")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def aggregate(per_seed: Sequence[Any]) -> Any:
    """Per-seed figures -> their :func:`mean_std`: nested dicts keep their keys, lists are aggregated elementwise
    (e.g. a curve per seed -> a curve of mean-std records), scalars become one record."""
    first = per_seed[0]
    if isinstance(first, dict):
        return {key: aggregate([s[key] for s in per_seed]) for key in first}
    if isinstance(first, (list, tuple)):
        return [aggregate(list(column)) for column in zip(*per_seed)]
    return mean_std(per_seed)


def timing_line(results: dict[str, Any]) -> str:
    """``"training and scoring took 590 ± 3 s per seed; this call 12 s"``."""
    per_seed = results["results"].get("seconds")
    text = f"training and scoring took {format_mean_std(per_seed, digits=0)} s per seed; " if per_seed else ""
    return f"{text}this call {results['seconds']:.0f} s"


def fingerprint(**parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def cached_seed(
    out_dir: str | Path, seed: int, fingerprint: str, compute: Callable[[], tuple[dict, dict[str, torch.Tensor]]]
) -> tuple[dict, dict[str, torch.Tensor] | None]:
    """``compute()`` for one seed, kept in ``out_dir/seeds/seed-<n>.json`` (and its plot examples in
    ``examples-seed-<n>.safetensors``): a later run with the same ``fingerprint`` (benchmark, data, settings) reads
    them instead of training again, so a long run resumes where it stopped and seeds can run in separate processes
    into one folder."""
    from safetensors.torch import load_file, save_file

    folder = Path(out_dir) / "seeds"
    path, tensors = folder / f"seed-{seed}.json", folder / f"examples-seed-{seed}.safetensors"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("fingerprint") == fingerprint:
            return saved["result"], load_file(tensors) if tensors.is_file() else None
    result, examples = compute()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = tensors.with_name(f".{tensors.name}.tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in examples.items()}, tmp)
    tmp.replace(tensors)
    write_json_atomic(path, {"fingerprint": fingerprint, "seed": seed, "result": result})
    return result, examples


__all__ = [
    "RESULT_KEYS",
    "aggregate",
    "cached_seed",
    "fingerprint",
    "figure_table",
    "format_mean_std",
    "markdown_table",
    "mean_std",
    "timing_line",
    "write_outputs",
]
