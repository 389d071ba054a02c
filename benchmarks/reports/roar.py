"""Report and plots of ``hnsx bench roar`` / ``kar`` (``report.md``, ``roar.png``, ``kar.png``) from its results."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hnsx.benchmarks.reports import pyplot, save_figure
from hnsx.benchmarks.results import format_mean_std, markdown_table


def fraction_key(fraction: float) -> str:
    """The key of ``fraction`` in the results (``0.5`` -> ``"0.5"``)."""
    return f"{float(fraction):g}"


# --- report and plots ------------------------------------------------------------------------------------------------

_MODE_TEXT = {
    "roar": (
        "ROAR: test accuracy (%) of a seeker retrained from scratch after **removing** the top-ranked fraction of "
        "units (lower is better: the explainer found what the label needs)"
    ),
    "kar": (
        "KAR: test accuracy (%) of a seeker retrained from scratch after **keeping only** the top-ranked fraction of "
        "units (higher is better)"
    ),
}


#: Marks a cell clearly above the unmodified accuracy: its mean exceeds the unmodified mean by more than both
#: standard deviations together, and by at least one percentage point.
ABOVE = "†"
ABOVE_NOTE = (
    f"{ABOVE} clearly above the unmodified accuracy (by more than both standard deviations): the retrained seeker "
    "can read the label from *which* units were hidden (the pattern of filled units depends on the class the "
    "ranking was computed for), not only from what the kept units show; such a cell measures that leak rather than "
    "the ranking's faithfulness."
)


def mode_table(results: Mapping[str, Any], mode: str) -> str:
    """The markdown table of one mode: explainers by fraction, mean ± std over seeds in %, and the row mean.

    Cells clearly above the unmodified accuracy are marked with :data:`ABOVE`.
    """
    fractions = [fraction_key(f) for f in results["fractions"]]
    unmodified = results["unmodified"]

    def above(stats: Mapping[str, float]) -> bool:
        return stats["mean"] - unmodified["mean"] > max(0.01, stats["std"] + unmodified["std"])

    header = ["explainer", *(f"{mode.upper()} {f}" for f in fractions), "mean"]
    rows = []
    for name in results["explainers"]:
        entry = results[mode][name]
        cells = [
            format_mean_std(entry["fractions"][f], percent=True) + (f" {ABOVE}" if above(entry["fractions"][f]) else "")
            for f in fractions
        ]
        rows.append([name, *cells, format_mean_std(entry["mean"], percent=True)])
    return markdown_table(header, rows)


def format_report(results: Mapping[str, Any]) -> str:
    config = results["config"]
    seeds = results["seeds"]
    lines = [
        f"# {' and '.join(m.upper() for m in results['modes'])} on {results['dataset']} ({results['modality']})",
        "",
        f"- explainers: {', '.join(results['explainers'])}",
        f"- seeds: {len(seeds)} ({', '.join(map(str, seeds))}); every figure is mean ± std over the seeds",
        f"- data: {results['train_size']} training and {results['test_size']} test inputs; hidden units take the "
        "adapter's fill value (images: the per-channel training mean)",
        f"- seeker epochs (base and each retrained seeker): {config['seeker_epochs'] or 'recipe default'}; "
        f"explainer options: {json.dumps(config['explainer_options']) if config['explainer_options'] else 'none'}",
        f"- unmodified test accuracy: {format_mean_std(results['unmodified'], percent=True)} %",
    ]
    if "hns_model" in results:
        hns = results["hns_model"]
        lines.append(
            f"- HnS model: accuracy {format_mean_std(hns['accuracy'], percent=True)} % with "
            f"{format_mean_std(hns['kept_fraction'], percent=True)} % of the units kept (ranking: keep probability)"
        )
    if "seconds" in results:
        lines.append(f"- wall time: {results['seconds'] / 60:.1f} min")
    for mode in results["modes"]:
        table = mode_table(results, mode)
        lines += ["", f"## {mode.upper()}", "", _MODE_TEXT[mode] + ".", "", table]
        if ABOVE in table:
            lines += ["", ABOVE_NOTE]
        lines += ["", f"![{mode}]({mode}.png)"]
    return "\n".join(lines) + "\n"


def save_curves(path: str | Path, results: Mapping[str, Any], mode: str) -> Path:
    """Accuracy against fraction per explainer, mean line with a ±1 std band; the unmodified accuracy dashed."""
    plt = pyplot()

    fractions = [float(f) for f in results["fractions"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name in results["explainers"]:
        stats = [results[mode][name]["fractions"][fraction_key(f)] for f in fractions]
        mean = torch.tensor([s["mean"] for s in stats]) * 100
        std = torch.tensor([s["std"] for s in stats]) * 100
        style = {"linestyle": "--", "color": "grey"} if name == "random" else {}
        (line,) = ax.plot(fractions, mean.tolist(), marker="o", label=name, **style)
        ax.fill_between(fractions, (mean - std).tolist(), (mean + std).tolist(), color=line.get_color(), alpha=0.15)
    unmodified = results["unmodified"]["mean"] * 100
    ax.axhline(unmodified, color="black", linestyle=":", linewidth=1, label="unmodified")
    what = "removed (ROAR)" if mode == "roar" else "kept (KAR)"
    ax.set_xlabel(f"fraction of units {what}")
    ax.set_ylabel("test accuracy of the retrained seeker (%)")
    ax.set_title(f"{mode.upper()} on {results['dataset']}, {len(results['seeds'])} seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120)
