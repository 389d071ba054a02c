"""Report and plots of ``hnsx bench shortcut`` (``report.md``, ``shortcut-*.png``) from its results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hnsx.benchmarks.hooks import hooks
from hnsx.benchmarks.reports import pyplot, save_figure
from hnsx.benchmarks.results import figure_table, format_mean_std, markdown_table, timing_line

USAGE_COLUMNS = (
    ("accuracy_biased", "accuracy, biased test"),
    ("accuracy_removed", "accuracy, shortcut removed"),
    ("affected_with", "affected rows: with shortcut"),
    ("affected_without", "affected rows: without"),
    ("following_rate", "following rate (shortcut added)"),
)
MASK_COLUMNS = (
    ("kept_fraction", "kept fraction"),
    ("kept_share", "share of kept units on the planted ones"),
    ("keeps_region", "rows keeping >= half the planted units"),
)


def _binarizer_text(results: dict[str, Any]) -> str:
    binarizer = results.get("binarizer")
    if not binarizer:  # results written before the binarizer was recorded
        return "the modality's recipe"
    settings = ", ".join(f"{k} {v}" for k, v in binarizer["kwargs"].items())
    chosen = "`--estimator`" if results["config"].get("estimator") else "the modality's recipe"
    return f"{binarizer['name']}" + (f" ({settings})" if settings else "") + f", from {chosen}"


def format_report(results: dict[str, Any]) -> str:
    """``report.md``: shortcut use, attribution on the planted units, HnS masks."""
    agg = results["results"]
    seeds = results["seeds"]
    area = agg["attribution"]["random"]["area"]
    lines = [
        f"# hnsx shortcut benchmark: {results['modality']} ({results['dataset']})",
        "",
        f"Planted: {results['planted']}. {len(seeds)} seed(s) ({', '.join(map(str, seeds))}), mean ± std over "
        f"seeds; {results['affected']} affected test rows of {results['test_size']}; {timing_line(results)}.",
        "",
        f"Hide-and-Seek binarizer of `hns` and `hns-frozen`: {_binarizer_text(results)}.",
        "",
        "## Does the model use the shortcut?",
        "",
        "`seeker`: the plain classifier trained on the biased data (explained by the post-hoc methods and by "
        "`hns-frozen`); `hns`: Hide-and-Seek trained jointly on the biased data (its own seeker, on its own masks). "
        "Following rate: rows whose class differs from the one the shortcut points to, predicted as that class once "
        "the shortcut is added.",
        "",
    ]
    lines += [figure_table("model", USAGE_COLUMNS, agg["usage"]), ""]
    lines += [
        "## Attribution on the planted units (affected rows, true class)",
        "",
        f"Share: positive attribution (HnS: keep probability) on the planted units over all of it; hit rate: planted "
        f"units among the top-|planted| ranked units. Random expectation of both: the planted area, "
        f"{format_mean_std(area)}.",
        "",
    ]
    order = sorted(agg["attribution"], key=lambda n: -agg["attribution"][n]["share"]["mean"])
    header = ["explainer", "share on planted units", "hit rate"]
    rows = [
        [n, format_mean_std(agg["attribution"][n]["share"]), format_mean_std(agg["attribution"][n]["hit_rate"])]
        for n in order
    ]
    lines += [markdown_table(header, rows), ""]
    lines += ["## Hide-and-Seek masks on affected rows", ""]
    lines += [figure_table("model", MASK_COLUMNS, agg["masks"])]
    return "\n".join(lines)


def save_plots(results: dict[str, Any], examples: dict[str, torch.Tensor] | None, out: Path) -> list[Path]:
    """``shortcut-share.png`` (share per explainer, random expectation dashed) and, for images, ``shortcut-maps.png``
    (each explainer's map of one affected test image, first seed)."""
    plt = pyplot()

    agg = results["results"]["attribution"]
    names = sorted(agg, key=lambda n: -agg[n]["share"]["mean"])
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2, 3.6))
    ax.bar(range(len(names)), [agg[n]["share"]["mean"] for n in names], yerr=[agg[n]["share"]["std"] for n in names])
    ax.axhline(agg["random"]["area"]["mean"], color="k", linestyle="--", label="planted area (random expectation)")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("share on planted units")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{results['modality']}: attribution on the shortcut (affected rows)")
    ax.legend(fontsize=8)
    paths = [save_figure(fig, out / "shortcut-share.png")]
    if examples is not None and hooks(results["modality"]).SPATIAL_MAPS and examples["input"].shape[0]:
        image = examples["input"][0]
        shown = [n for n in names if n in examples]
        fig, axes = plt.subplots(1, len(shown) + 1, figsize=(1.5 * (len(shown) + 1), 1.9))
        axes[0].imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[0].set_title("input", fontsize=8)
        for ax, name in zip(axes[1:], shown):
            ax.imshow(examples[name][0].reshape(image.shape[-2:]).numpy(), cmap="viridis")
            ax.set_title(name, fontsize=7)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        paths.append(save_figure(fig, out / "shortcut-maps.png", dpi=120))
    return paths
