"""Report and plots of ``hnsx bench faithfulness`` (``report.md``, ``curves.png``, ``eraser.png``) from its results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hnsx.benchmarks.metrics import (
    METRICS,
)
from hnsx.benchmarks.reports import pyplot, save_figure
from hnsx.benchmarks.results import format_mean_std, markdown_table

#: Hide-and-Seek's binary mask taken as a set (its own kept fraction).
HNS_MASK = "hns-mask"
#: The summary columns, the ERASER bin families and the rationale columns (:data:`~hnsx.benchmarks.metrics.METRICS`).
SUMMARY = ("deletion_auc", "insertion_auc", "comprehensiveness", "sufficiency")
ERASER = ("comprehensiveness", "sufficiency")
RATIONALE = ("rationale_f1", "rationale_iou")


def _ms(stats: Any) -> str:
    if stats is None:
        return "n/a"
    if not np.isfinite(stats["mean"]):
        return "n/a"
    return format_mean_std(stats)


def format_report(results: dict[str, Any]) -> str:
    """The Markdown report: one table of the summary metrics, one per ERASER bin family, and the HnS mask."""
    metrics = results["metrics"]
    bins = results["config"]["bins"]
    rationale = any("rationale_f1" in m for m in metrics.values())
    models = results["models"]
    which = (
        "the Hide-and-Seek model's seeker (every explainer explains the same classifier; HnS through its hider)"
        if results["config"]["classifier"] == "hns-seeker"
        else "a classifier of the seeker's architecture trained alone (HnS's hider ranks units for its own seeker)"
    )
    lines = [
        f"# Faithfulness without retraining ({results['modality']}, {results['dataset']})",
        "",
        f"{results['config']['samples']} test inputs, seeds {results['seeds']} (mean ± std over seeds of the "
        f"per-seed mean over inputs). Explained and measured classifier: {which}. Its test accuracy "
        f"{_ms(models['classifier_accuracy'])}; HnS accuracy on its own masked inputs "
        f"{_ms(models['hns_accuracy'])}. Hidden units take the adapter's fill; the tracked probability is "
        "that of the class predicted on the full input. "
        + " ".join(f"{METRICS[k].title[0].upper() + METRICS[k].title[1:]}: {METRICS[k].direction}." for k in SUMMARY)
        + " Bins: "
        + ", ".join(f"{b:.0%}" for b in bins)
        + f"; curves over {results['config']['steps'] + 1} fractions from 0 to 1.",
        "",
        "## Summary",
        "",
    ]
    header = ["explainer", *(f"{'AOPC ' if k in ERASER else ''}{METRICS[k].title} {METRICS[k].arrow}" for k in SUMMARY)]
    if rationale:
        header += [f"{METRICS[k].title} (top-k)" for k in RATIONALE]
    rows = []
    for name, m in metrics.items():
        if name == HNS_MASK:
            continue
        row = [name] + [_ms(m[k]) for k in ("deletion_auc", "insertion_auc")]
        row += [_ms(m["aopc_comprehensiveness"]), _ms(m["aopc_sufficiency"])]
        if rationale:
            row += [_ms(m.get("rationale_f1")), _ms(m.get("rationale_iou"))]
        rows.append(row)
    lines += [markdown_table(header, rows), ""]
    for key in ERASER:
        title = f"{METRICS[key].title.capitalize()} {METRICS[key].arrow}"
        lines += [f"## {title} per bin (top k% of the units)", ""]
        table = []
        for name, m in metrics.items():
            if name == HNS_MASK:
                continue
            table.append([name] + [_ms(s) for s in m[key]] + [_ms(m[f"aopc_{key}"])])
        lines += [markdown_table(["explainer", *[f"{b:.0%}" for b in bins], "AOPC"], table), ""]
    if HNS_MASK in metrics:
        m = metrics[HNS_MASK]
        lines += [
            "## Hide-and-Seek's binary mask as a set",
            "",
            "The units the deterministic mask keeps (keep probability >= 0.5), at the mask's own kept fraction.",
            "",
        ]
        header = ["explainer", "kept fraction", *(f"{METRICS[k].title} {METRICS[k].arrow}" for k in ERASER)]
        row = [HNS_MASK] + [_ms(m[k]) for k in ("kept_fraction", "comprehensiveness", "sufficiency")]
        if "rationale_f1" in m:
            header += ["rationale F1", "rationale IoU"]
            row += [_ms(m["rationale_f1"]), _ms(m["rationale_iou"])]
        lines += [markdown_table(header, [row]), ""]
    if not results.get("complete", True):
        lines += [f"**Incomplete run**: {len(results['seeds'])} of {results['config']['seeds']} seeds finished.", ""]
    lines += [f"Wall time {results['seconds']:.0f} s. Plots: `curves.png`, `eraser.png`."]
    return "\n".join(lines) + "\n"


def save_plots(results: dict[str, Any], examples: dict | None, out_dir: Path) -> list[Path]:
    """``curves.png`` (deletion and insertion, mean ± std over seeds) and ``eraser.png`` (per bin)."""
    plt = pyplot()

    metrics = {k: v for k, v in results["metrics"].items() if k != HNS_MASK}
    fractions = np.asarray(results["fractions"])
    n_seeds = len(results["seeds"])
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in (
        (axes[0], "deletion_curve", f"deletion ({METRICS['deletion_auc'].direction})"),
        (axes[1], "insertion_curve", f"insertion ({METRICS['insertion_auc'].direction})"),
    ):
        for name, m in metrics.items():
            mean = np.array([s["mean"] for s in m[key]])
            std = np.array([s["std"] for s in m[key]])
            auc = m[key.replace("_curve", "_auc")]["mean"]
            (line,) = ax.plot(fractions, mean, label=f"{name} (AUC {auc:.3f})")
            ax.fill_between(fractions, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("fraction of units " + ("removed" if key.startswith("deletion") else "inserted"))
        ax.set_ylabel("probability of the predicted class")
        ax.set_title(title)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{results['modality']}: mean ± std over {n_seeds} seed(s)")
    paths.append(save_figure(fig, out_dir / "curves.png", dpi=110))

    bins = results["config"]["bins"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in (*((ax, key, f"{key} ({METRICS[key].direction})") for ax, key in zip(axes, ERASER)),):
        for name, m in metrics.items():
            mean = [s["mean"] for s in m[key]]
            std = [s["std"] for s in m[key]]
            ax.errorbar([100 * b for b in bins], mean, yerr=std, marker="o", capsize=3, label=name)
        ax.set_xscale("log")
        ax.set_xticks([100 * b for b in bins], [f"{b:.0%}" for b in bins])
        ax.set_xlabel("top k% of the units")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{results['modality']}: ERASER metrics, mean ± std over {n_seeds} seed(s)")
    paths.append(save_figure(fig, out_dir / "eraser.png", dpi=110))
    return paths
