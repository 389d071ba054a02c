"""Report and plots of ``hnsx bench sanity`` (``report.md``, ``sanity_*.png``) from its results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hnsx.benchmarks.metrics import METRICS
from hnsx.benchmarks.reports import pyplot, save_figure
from hnsx.benchmarks.results import format_mean_std, markdown_table

#: Rows of Hide-and-Seek: which of its parts is randomised (the explanation is always the hider's keep probability).
HNS_SEEKER = "hns (seeker randomised)"
HNS_HIDER = "hns (hider randomised)"
#: The similarity metrics (:data:`~hnsx.benchmarks.metrics.METRICS`; lower is better after randomisation).
SIMILARITIES = ("spearman_abs", "spearman", "ssim")
METRIC_TITLES = {m: METRICS[m].title for m in SIMILARITIES}


def _metrics_of(results: dict[str, Any]) -> list[str]:
    """The similarity metrics the results hold (SSIM for images of at least 11 x 11 pixels only)."""
    first = next(iter(results["cascading"]["seeker"]["rows"].values()))
    return [m for m in SIMILARITIES if m in first]


def _ms(stats: Any) -> str:
    return format_mean_std(stats)


def _step_tables(result: dict[str, Any], metrics: Sequence[str]) -> list[str]:
    lines = []
    for metric in metrics:
        header = ["explainer", *result["steps"]]
        rows = [[name] + [_ms(s) for s in row[metric]] for name, row in result["rows"].items() if metric in row]
        lines += [f"{METRIC_TITLES[metric]}:", "", markdown_table(header, rows), ""]
    return lines


def format_report(results: dict[str, Any]) -> str:
    """The Markdown report: a table per test, part and similarity metric."""
    metrics = _metrics_of(results)
    cfg = results["config"]
    lines = [
        f"# Sanity checks ({results['modality']}, {results['dataset']})",
        "",
        f"Adebayo et al. (2018). {cfg['samples']} test inputs, seeds {results['seeds']}; every figure is the "
        "similarity between the attributions of the trained model and of the changed one (mean over inputs), "
        "mean ± std over seeds. Targets: the classes the trained seeker predicts. High similarity after "
        "randomisation means the explanation does not depend on what was randomised. Seeker accuracy "
        f"{_ms(results['accuracy'])}.",
        "",
        f"The Captum explainers explain the Hide-and-Seek model's seeker; `{HNS_SEEKER}`: the seeker is randomised, "
        "the hider untouched (HnS's explanation is the hider's keep probability, so it cannot change: the row "
        f"shows that the check says nothing about the hider); `{HNS_HIDER}`: the hider is randomised from its "
        "output layer down, the seeker untouched. Column `none`: the unchanged model explained again (below 1 "
        "only for the noisy methods). Layers are re-initialised with their own `reset_parameters()`.",
        "",
    ]
    for test, title in (("cascading", "Cascading randomisation"), ("independent", "Independent randomisation")):
        if test not in results:
            continue
        how = (
            "each column re-initialises that layer group and every group above it (top down)"
            if test == "cascading"
            else "each column re-initialises that layer group only"
        )
        lines += [f"## {title} of the seeker", "", f"Columns: {how}.", ""]
        lines += _step_tables(results[test]["seeker"], metrics)
        lines += [f"## {title} of the hider", "", f"Columns: {how}.", ""]
        lines += _step_tables(results[test]["hider"], metrics)
    if "data" in results:
        lines += [
            "## Data randomisation",
            "",
            "A Hide-and-Seek model (hider and seeker) trained with the same recipe on shuffled training labels; its "
            f"seeker's test accuracy {_ms(results['shuffled_accuracy'])}. Each explainer explains the shuffled "
            "model (HnS: its hider) and is compared with its explanation of the normally trained one.",
            "",
        ]
        rows = [[name] + [_ms(row[m]) for m in metrics] for name, row in results["data"]["rows"].items()]
        lines += [markdown_table(["explainer", *metrics], rows), ""]
    if not results.get("complete", True):
        lines += [f"**Incomplete run**: {len(results['seeds'])} of {cfg['seeds']} seeds finished.", ""]
    plots = [f"`sanity_{t}.png`" for t in ("cascading", "independent", "data") if t in results]
    lines += [f"Wall time {results['seconds']:.0f} s. Plots: {', '.join(plots)}."]
    return "\n".join(lines) + "\n"


def save_plots(results: dict[str, Any], examples: dict | None, out_dir: Path) -> list[Path]:
    """Similarity vs randomised layer group per explainer (one figure per test), and the data randomisation bars."""
    plt = pyplot()

    metrics = _metrics_of(results)
    n_seeds = len(results["seeds"])
    paths = []
    for test in ("cascading", "independent"):
        if test not in results:
            continue
        fig, axes = plt.subplots(2, len(metrics), figsize=(4.6 * len(metrics), 7.5), squeeze=False)
        for r, part in enumerate(("seeker", "hider")):
            result = results[test][part]
            steps = result["steps"]
            for c, metric in enumerate(metrics):
                ax = axes[r][c]
                for name, row in result["rows"].items():
                    if metric not in row:
                        continue
                    mean = [s["mean"] for s in row[metric]]
                    std = [s["std"] for s in row[metric]]
                    ax.errorbar(range(len(steps)), mean, yerr=std, marker="o", capsize=3, label=name)
                ax.set_xticks(range(len(steps)), steps, rotation=45, ha="right", fontsize=7)
                ax.set_ylim(-0.5 if metric == "spearman" else -0.1, 1.05)
                ax.axhline(0, color="gray", lw=0.5)
                ax.set_title(f"{part}: {metric}", fontsize=9)
                ax.grid(alpha=0.3)
                if c == 0:
                    ax.set_ylabel("similarity to the trained model's map")
                    ax.legend(fontsize=6)
        fig.suptitle(
            f"{test} randomisation ({results['modality']}), "
            + ("top-down, cumulative" if test == "cascading" else "one group at a time")
            + f"; mean ± std over {n_seeds} seed(s)"
        )
        paths.append(save_figure(fig, out_dir / f"sanity_{test}.png", dpi=110))
    if "data" in results:
        rows = results["data"]["rows"]
        fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(rows), 3.8))
        width = 0.8 / len(metrics)
        for i, metric in enumerate(metrics):
            means = [row[metric]["mean"] for row in rows.values()]
            stds = [row[metric]["std"] for row in rows.values()]
            ax.bar(np.arange(len(rows)) + i * width, means, width, yerr=stds, capsize=3, label=metric)
        ax.set_xticks(np.arange(len(rows)) + width * (len(metrics) - 1) / 2, list(rows), rotation=30, ha="right")
        ax.set_ylabel("similarity: trained vs shuffled labels")
        ax.set_title(f"data randomisation ({results['modality']}), mean ± std over {n_seeds} seed(s)", fontsize=9)
        ax.axhline(0, color="gray", lw=0.5)
        ax.legend(fontsize=7)
        paths.append(save_figure(fig, out_dir / "sanity_data.png", dpi=110))
    return paths
