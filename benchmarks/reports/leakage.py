"""Report and plots of ``hnsx bench leakage`` (``report.md``, ``leakage-*.png``) from its results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hnsx.benchmarks.hooks import hooks
from hnsx.benchmarks.reports import pyplot, save_figure
from hnsx.benchmarks.results import figure_table, format_mean_std, markdown_table, timing_line

MODE_COLUMNS = (
    ("fidelity", "F"),
    ("interpretability", "I"),
    ("accuracy", "accuracy (own seeker, own mask)"),
    ("evaluator_accuracy", "evaluator accuracy (own mask)"),
    ("evaluator_random_accuracy", "evaluator accuracy (random mask, same size)"),
    ("evaluator_fidelity", "evaluator F (own mask / unmasked)"),
    ("gap", "gap (own - evaluator)"),
)
EXPLAINER_COLUMNS = (
    ("evaluator_accuracy", "evaluator acc., HnS's kept count per input"),
    ("evaluator_accuracy_mean_k", "evaluator acc., HnS's mean kept fraction"),
    ("hns_seeker_accuracy", "HnS seeker acc. (per input)"),
    ("seeker_accuracy", "plain seeker acc. (per input)"),
)


def format_report(results: dict[str, Any]) -> str:
    """``report.md``: the two modes, the explainers at matched kept fraction, and the reference accuracies."""
    agg = results["results"]
    seeds = results["seeds"]
    cfg = results["config"]
    lines = [
        f"# hnsx leakage benchmark: {results['modality']} ({results['dataset']})",
        "",
        f"{len(seeds)} seed(s) ({', '.join(map(str, seeds))}), mean ± std over seeds; "
        f"{results['test_size']} test inputs; evaluator: {cfg['evaluator_epochs']} epochs on random masks "
        f"(keep rate U{tuple(cfg['keep_range'])}"
        + (f", square blocks of {', '.join(map(str, cfg['blocks']))} px" if tuple(cfg["blocks"]) != (1,) else "")
        + f"); {timing_line(results)}.",
        "",
        "## Hide-and-Seek: own fidelity against an independent evaluator",
        "",
        "F = accuracy of the model's own seeker on its own masks / baseline accuracy (the same baseline for both "
        "modes); the evaluator never trained with any explainer's masks. In the leak-free mode the seeker is a "
        "second, frozen evaluator; the judging evaluator is another one.",
        "",
    ]
    lines += [figure_table("mode", MODE_COLUMNS, agg["modes"]), ""]
    kept = agg["kept_fraction"]
    lines += [
        "## Explainers at HnS's kept fraction",
        "",
        f"Each explainer keeps its top units, as many per input as the HnS mask keeps (mean kept fraction "
        f"{format_mean_std(kept)}); the `hns` row is the HnS mask itself (second column: the top of its keep "
        "probability). Post-hoc methods explain the plain seeker, for the class it predicts.",
        "",
    ]
    lines += [figure_table("explainer", EXPLAINER_COLUMNS, agg["explainers"]), ""]
    ref = agg["reference"]
    lines += [
        "## Reference accuracies (unmasked test inputs)",
        "",
        markdown_table(
            ["model", "accuracy"],
            [
                ["plain seeker", format_mean_std(ref["seeker_accuracy"])],
                ["evaluator", format_mean_std(ref["evaluator_accuracy_unmasked"])],
                ["HnS baseline seeker (denominator of F)", format_mean_std(ref["baseline_accuracy"])],
            ],
        ),
        "",
        "How to read: a large gap between HnS's own accuracy and the evaluator's on the same masks, while the "
        "evaluator does well on other explainers' masks of the same size, is the label-encoding signature (the mask's "
        "shape, not its content, carries the class).",
    ]
    return "\n".join(lines)


def save_plots(results: dict[str, Any], examples: dict[str, torch.Tensor] | None, out: Path) -> list[Path]:
    """``leakage-explainers.png``, ``leakage-modes.png`` and (images) ``leakage-masks.png``."""
    plt = pyplot()

    agg = results["results"]
    paths = []
    names = list(agg["explainers"])
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 3.6))
    width = 0.38
    for j, (key, label) in enumerate((("evaluator_accuracy", "evaluator"), ("hns_seeker_accuracy", "HnS seeker"))):
        means = [agg["explainers"][n][key]["mean"] for n in names]
        stds = [agg["explainers"][n][key]["std"] for n in names]
        ax.bar([i + (j - 0.5) * width for i in range(len(names))], means, width, yerr=stds, label=label, capsize=3)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("accuracy on kept units")
    ax.set_ylim(0, 1)
    ax.set_title(f"kept units matched to HnS (mean {agg['kept_fraction']['mean']:.1%})")
    ax.legend()
    paths.append(save_figure(fig, out / "leakage-explainers.png", dpi=120))

    modes = list(agg["modes"])
    keys = [k for k, _ in MODE_COLUMNS if k not in ("gap", "evaluator_fidelity")]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / max(len(modes), 1)
    for j, mode in enumerate(modes):
        means = [agg["modes"][mode][k]["mean"] for k in keys]
        stds = [agg["modes"][mode][k]["std"] for k in keys]
        ax.bar([i + (j - (len(modes) - 1) / 2) * width for i in range(len(keys))], means, width, yerr=stds, label=mode)
    ax.set_xticks(range(len(keys)), ["F", "I", "own acc.", "evaluator acc.", "evaluator acc.\n(random)"])
    ax.set_ylim(0, max(1.05, max(agg["modes"][m]["fidelity"]["mean"] for m in modes) + 0.05))
    ax.set_title("Hide-and-Seek modes")
    ax.legend()
    paths.append(save_figure(fig, out / "leakage-modes.png", dpi=120))

    if examples is not None and hooks(results["modality"]).SPATIAL_MAPS:
        kinds = [k for k in ("hns", "hns-leak-free") if k in examples]
        images = examples["inputs"]
        n = images.shape[0]
        fig, axes = plt.subplots(1 + len(kinds), n, figsize=(1.3 * n, 1.4 * (1 + len(kinds))), squeeze=False)
        for i in range(n):
            axes[0][i].imshow(images[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
            axes[0][i].set_title(f"y={int(examples['labels'][i])}", fontsize=8)
            for r, kind in enumerate(kinds, start=1):
                mask = examples[kind][i].reshape(images.shape[-2:]).float()
                axes[r][i].imshow((images[i, 0] * mask).numpy(), cmap="gray", vmin=0, vmax=1)
                axes[r][i].set_title(f"{kind}: {float(mask.mean()):.0%}", fontsize=7)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        paths.append(save_figure(fig, out / "leakage-masks.png", dpi=120))
    return paths
