"""Report and console table of ``hnsx bench speed`` from its results."""

from __future__ import annotations

from typing import Any


def format_report(results: dict[str, Any]) -> str:
    """A Markdown report: machine, ratios, and one throughput table per configuration (on the user's model and
    data: :func:`format_data_report`)."""
    if "dataset" in results:
        return format_data_report(results)
    m = results["machine"]
    lines = [
        "# hnsx speed benchmark",
        "",
        f"Device {m['device']} ({m.get('gpu') or m['processor']}), {m['threads']} threads, torch {m['torch']}. "
        "Throughput is predict + explain, samples per second, median of the timed calls; memory is the peak "
        "growth over the call (CPU: resident set; CUDA: allocator).",
        "",
        "## Ratios",
        "",
        "| ratio | value |",
        "|---|---|",
    ]
    for name, value in results["ratios"].items():
        lines.append(f"| {name} | {'n/a' if value is None else f'{value:.2f}'} |")
    lines += ["", "## Training step (seconds, median)", "", "| input / batch | HnS | seeker alone | ratio |"]
    lines.append("|---|---|---|---|")
    for key, row in results["train_step"].items():
        h, s = row["hns"]["seconds"], row["seeker"]["seconds"]
        lines.append(f"| {key} | {h:.4f} | {s:.4f} | {h / s:.2f} |")
    lines += ["", "## Predict + explain throughput", ""]
    names = list(dict.fromkeys(n for row in results["methods"].values() for n in row))
    lines.append("| input / batch | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for key, row in results["methods"].items():
        cells = []
        for name in names:
            if name not in row:
                cells.append("")
                continue
            cells.append(_cell(row[name]))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(t: dict[str, Any]) -> str:
    mem = "" if t["peak_memory_mb"] is None else f", {t['peak_memory_mb']:.0f} MiB"
    return f"{t['samples_per_s']:.1f}/s{mem}" + (" (1 call)" if t["repeats"] == 1 else "")


def format_data_report(results: dict[str, Any]) -> str:
    """The report of ``hnsx bench speed`` on the user's model and data: one row per explainer, one column per batch
    size (inputs/s and peak memory), HnS's throughput ratios and the training step."""
    m = results["machine"]
    batches = list(results["methods"])
    lines = [
        "# hnsx speed benchmark on your model and data",
        "",
        f"Data: {results['dataset']} ({results['test_size']} test inputs of shape {tuple(results['input_shape'])}); "
        f"model: {results['model']}. Device {m['device']} ({m.get('gpu') or m['processor']}), {m['threads']} "
        f"threads, torch {m['torch']}.",
        "",
        "Predict + explain throughput in inputs per second (median of the timed calls) and the peak memory growth "
        "over the call (CPU: resident set; CUDA: allocator); the inputs are the test split's first rows, repeated "
        "when a batch is larger than the split.",
        "",
        "| explainer | " + " | ".join(b.replace("batch", "batch ") for b in batches) + " |",
        "|:---|" + "---:|" * len(batches),
    ]
    for name in results["explainers"]:
        cells = [_cell(results["methods"][b][name]) if name in results["methods"][b] else "" for b in batches]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if results["ratios"]:
        lines += ["", f"HnS's throughput over each explainer's at {results['default']}:", ""]
        lines += ["| ratio | value |", "|:---|---:|"]
        lines += [f"| {name} | {value:.2f} |" for name, value in results["ratios"].items()]
    lines += ["", "## Training step (seconds, median)", "", "| batch | HnS | seeker alone | ratio |"]
    lines.append("|:---|---:|---:|---:|")
    for key, row in results["train_step"].items():
        h, s = row["hns"]["seconds"], row["seeker"]["seconds"]
        lines.append(f"| {key} | {h:.4f} | {s:.4f} | {h / s:.2f} |")
    return "\n".join(lines) + "\n"


def format_table(results: dict[str, Any]) -> str:
    """The console table: default configuration and ratios."""
    row = results["methods"][results["default"]]
    width = max(len(n) for n in row)
    lines = [f"predict + explain at {results['default']} ({results['machine']['device']})"]
    for name, t in sorted(row.items(), key=lambda kv: -kv[1]["samples_per_s"]):
        lines.append(f"  {name.ljust(width)}  {t['samples_per_s']:10.1f} samples/s  ({t['repeats']} calls)")
    lines.append("ratios")
    for name, value in results["ratios"].items():
        lines.append(f"  {name}: {'n/a' if value is None else f'{value:.2f}'}")
    return "\n".join(lines)
