"""``hnsx bench faithfulness``: how much the classifier's output depends on the units an explainer ranks first,
measured without retraining.

Every explainer gives one score per mask unit (pixel, word, feature); units are ranked by score (ties broken at
random, seeded; units that are not valid, such as the empty word slots of a short sentence, are never ranked). A
*hidden* unit takes the adapter's fill (the per-channel training mean for images, the mask token's embedding for
text, the training mean or a "missing" code for tables), exactly as in Hide-and-Seek training. What is tracked is
the softmax probability, under the explained classifier, of the class it predicts on the full input.

Metrics (per sample, then mean over samples; the report gives mean +- std over seeds):

* **deletion AUC** (lower is better): hide the top ``f`` of the units for ``f`` on a grid of ``steps + 1`` points
  from 0 to 1 (``k = round(f * n)`` of the sample's ``n`` valid units) and take the area under the probability curve
  by the trapezoid rule over the fraction axis, so that the AUC lies in [0, 1].
* **insertion AUC** (higher is better): the same with only the top ``f`` kept (the rest filled).
* **comprehensiveness** at ``f`` (ERASER, DeYoung et al. 2020; higher is better): ``p(x) - p(x without the top
  f)``; **sufficiency** at ``f`` (lower is better): ``p(x) - p(only the top f of x)``; with ``k = max(1, round(f *
  n))`` units at ``f`` in :data:`BINS` = {1, 5, 10, 20, 50} %. **AOPC** (comprehensiveness and sufficiency) is their
  mean over the bins.
* For Hide-and-Seek also its **binary mask as a set** (``hns-mask``): comprehensiveness and sufficiency of the
  units the mask keeps, at its own kept fraction (reported beside them).
* **rationale F1 / IoU** where the ground truth is known (text: the generated corpus's sentiment word and negator;
  tabular: the switch table's relevant features, the switch column left out as in
  :func:`hnsx.adapters.tabular.synthetic.selection_scores`): the top ``k`` units with ``k`` the sample's number of
  true units (then precision = recall = F1), and HnS's own mask as a set; per sample, averaged over the samples that
  have a true unit.

Which classifier is explained: see :func:`run_faithfulness`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hnsx.benchmarks import common
from hnsx.benchmarks.results import (
    aggregate as aggregate_seeds,
)
from hnsx.benchmarks.results import (
    format_mean_std,
    markdown_table,
    mean_std,
    write_outputs,
)

#: ERASER's bins: fractions of the units for comprehensiveness and sufficiency.
BINS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)

#: ``prob_fn(x, mask) -> (B, K)`` class probabilities of the classifier on ``x`` with the units where ``mask == 0``
#: filled; ``mask`` has the adapter's mask shape.
ProbFn = Callable[[Any, torch.Tensor], torch.Tensor]


# --- ranking units ------------------------------------------------------------------------------------------------


def _flat_valid(scores: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    if valid is None:
        return torch.ones(scores.shape[0], scores[0].numel(), dtype=torch.bool, device=scores.device)
    if valid.shape != scores.shape:
        raise ValueError(f"valid has shape {tuple(valid.shape)} but the scores {tuple(scores.shape)}")
    return valid.flatten(1) > 0


def rank_units(scores: torch.Tensor, valid: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Rank of every unit, ``(B, *mask_shape)`` int64: 0 for the highest score; invalid units rank after all valid.

    Ties are broken by a seeded random permutation (so that a constant map ranks its units at random, not in
    reading order).
    """
    if not torch.isfinite(scores).all():
        raise ValueError("attribution scores contain NaN or inf")
    order = common.rank_order(scores.detach().flatten(1).cpu(), _flat_valid(scores, valid).cpu(), seed=seed)
    ranks = common.order_ranks(order)
    return ranks.view(scores.shape).to(scores.device)


def top_k_mask(ranks: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``(B, *mask_shape)`` float, 1 for the ``k[b]`` best-ranked units of sample ``b`` (``ranks`` from
    :func:`rank_units`, ``k`` ``(B,)``)."""
    view = (-1,) + (1,) * (ranks.dim() - 1)
    return (ranks < k.to(ranks.device).view(view)).float()


def count_valid(scores: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Number of valid units per sample, ``(B,)`` int64."""
    return _flat_valid(scores, valid).sum(1).cpu()


def units_at(fraction: float, n: torch.Tensor, at_least_one: bool = False) -> torch.Tensor:
    """``round(fraction * n)`` units per sample (at least 1 with ``at_least_one``), ``(B,)`` int64."""
    k = torch.round(fraction * n.double()).long()
    return k.clamp(min=1).minimum(n) if at_least_one else k


# --- the metrics --------------------------------------------------------------------------------------------------


def trapezoid_auc(fractions: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Area under ``values`` ``(..., S)`` over ``fractions`` ``(S,)`` from 0 to 1, by the trapezoid rule."""
    f = np.asarray(fractions, dtype=np.float64)
    if f[0] != 0.0 or f[-1] != 1.0 or np.any(np.diff(f) <= 0):
        raise ValueError("the fraction grid must rise strictly from 0 to 1")
    v = np.asarray(values, dtype=np.float64)
    return ((v[..., 1:] + v[..., :-1]) / 2 * np.diff(f)).sum(-1)


def _class_prob(prob_fn: ProbFn, x: Any, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        probs = prob_fn(x, mask)
    return probs.gather(1, target.view(-1, 1).to(probs.device)).squeeze(1).float().cpu()


def perturbation_curves(
    prob_fn: ProbFn,
    x: Any,
    scores: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    steps: int = 20,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Deletion and insertion curves of one batch: ``deletion`` and ``insertion`` ``(B, steps + 1)`` probabilities of
    ``target`` at the fractions ``fractions`` ``(steps + 1,)``."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    ranks = rank_units(scores, valid, seed)
    n = count_valid(scores, valid)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    deletion, insertion = [], []
    for f in fractions:
        top = top_k_mask(ranks, units_at(float(f), n))
        deletion.append(_class_prob(prob_fn, x, 1.0 - top, target))
        insertion.append(_class_prob(prob_fn, x, top, target))
    return {
        "fractions": fractions,
        "deletion": torch.stack(deletion, 1).numpy(),
        "insertion": torch.stack(insertion, 1).numpy(),
    }


def eraser_scores(
    prob_fn: ProbFn,
    x: Any,
    scores: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    bins: Sequence[float] = BINS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-sample comprehensiveness and sufficiency ``(B, len(bins))`` (see the module docstring)."""
    ranks = rank_units(scores, valid, seed)
    n = count_valid(scores, valid)
    full = _class_prob(prob_fn, x, torch.ones_like(scores), target)
    comp, suff = [], []
    for f in bins:
        top = top_k_mask(ranks, units_at(float(f), n, at_least_one=True))
        comp.append(full - _class_prob(prob_fn, x, 1.0 - top, target))
        suff.append(full - _class_prob(prob_fn, x, top, target))
    return {"comprehensiveness": torch.stack(comp, 1).numpy(), "sufficiency": torch.stack(suff, 1).numpy()}


def mask_scores(
    prob_fn: ProbFn, x: Any, mask: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
) -> dict[str, np.ndarray]:
    """Comprehensiveness, sufficiency and kept fraction ``(B,)`` of a binary mask taken as the set of kept units."""
    mask = (mask > 0.5).float()
    full = _class_prob(prob_fn, x, torch.ones_like(mask), target)
    ok = _flat_valid(mask, valid).float()
    kept = ((mask.flatten(1).cpu() * ok).sum(1) / ok.sum(1).clamp_min(1)).numpy()
    return {
        "comprehensiveness": (full - _class_prob(prob_fn, x, 1.0 - mask, target)).numpy(),
        "sufficiency": (full - _class_prob(prob_fn, x, mask, target)).numpy(),
        "kept_fraction": kept,
    }


def set_overlap(selected: torch.Tensor, gold: torch.Tensor, valid: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Per-sample F1 and IoU of selected units against gold units (both ``(B, *mask_shape)`` {0, 1}).

    ``F1 = 2 |S ∩ G| / (|S| + |G|)``, ``IoU = |S ∩ G| / |S ∪ G|``; samples without a gold unit get NaN.
    """
    ok = _flat_valid(gold, valid).float().cpu()
    s = (selected.flatten(1).float().cpu() > 0.5).float() * ok
    g = (gold.flatten(1).float().cpu() > 0.5).float() * ok
    hit = (s * g).sum(1)
    size_s, size_g = s.sum(1), g.sum(1)
    union = size_s + size_g - hit
    has_gold = size_g > 0
    f1 = torch.where(has_gold, 2 * hit / (size_s + size_g).clamp_min(1), torch.full_like(hit, float("nan")))
    iou = torch.where(has_gold, hit / union.clamp_min(1), torch.full_like(hit, float("nan")))
    return {"f1": f1.numpy(), "iou": iou.numpy()}


def rationale_top_k(
    scores: torch.Tensor, gold: torch.Tensor, valid: torch.Tensor | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    """F1 and IoU of the top ``k`` units, ``k`` = the sample's number of gold units (see :func:`set_overlap`)."""
    ok = _flat_valid(scores, valid).cpu()
    k = ((gold.flatten(1).cpu() > 0.5) & ok).sum(1)
    return set_overlap(top_k_mask(rank_units(scores, valid, seed).cpu(), k), gold, valid)


# --- the benchmark ------------------------------------------------------------------------------------------------

#: The modalities this benchmark runs on (``hnsx bench --modality``).
MODALITIES = common.MODALITIES

#: The row of the ground-truth ranking (text and tabular switch only): its scores are the true units.
ORACLE = "oracle"
#: Hide-and-Seek's binary mask taken as a set (its own kept fraction).
HNS_MASK = "hns-mask"
#: Which classifier is explained and measured: the Hide-and-Seek model's seeker (default) or a plain classifier of
#: the same architecture trained alone (``independent``).
CLASSIFIERS = ("hns-seeker", "independent")
#: Data set per modality (``None``: the modality's default of :func:`hnsx.benchmarks.common.load_bench_data`); the
#: tabular benchmark runs on the switch table, whose relevant features are known.
DATASETS: dict[str, str | None] = {"image": None, "text": None, "tabular": "switch"}


@dataclass(frozen=True)
class FaithfulnessConfig:
    """What ``hnsx bench faithfulness`` measures; the defaults are the full run, :meth:`quick` the short one.

    ``samples`` test inputs (the first of the fixed test split, the same for every seed) are explained; each seed
    trains a new Hide-and-Seek model (and, with ``classifier="independent"``, a new classifier). ``explainers``:
    plain names of :func:`hnsx.benchmarks.common.explainer_names` (``None``: all of the modality);
    ``explainer_options``: extra builder arguments per name. ``hns_epochs``: joint epochs (``None``: the recipe).
    """

    modality: str = "image"
    seeds: int = 3
    samples: int = 250
    steps: int = 20
    bins: tuple[float, ...] = BINS
    explainers: tuple[str, ...] | None = None
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    hns_epochs: int | None = None
    classifier: str = "hns-seeker"
    quick_data: bool = False
    batch_size: int = 100
    device: str = "cpu"
    threads: int = 2
    progress: bool = True

    @classmethod
    def quick(cls, **overrides: Any) -> FaithfulnessConfig:
        """A short run (a few minutes on 2 cores): the quick data subsets, fewer samples, steps and epochs, cheaper
        Integrated Gradients and SmoothGrad."""
        modality = overrides.get("modality", "image")
        base: dict[str, Any] = {
            "samples": {"image": 100, "text": 200, "tabular": 300}[modality],
            "steps": 10,
            "hns_epochs": {"image": 3, "text": 6, "tabular": 15}[modality],
            # The quick text subset (800 sentences) is too small for the seeker, a BERT trained from scratch: it
            # stayed near chance (0.56-0.61 test accuracy) in our trials, so text keeps the full corpus.
            "quick_data": modality != "text",
            "explainer_options": {
                "integrated-gradients": {"n_steps": 16},
                "smoothgrad-sq": {"nt_samples": 8},
                "vargrad": {"nt_samples": 8},
            },
        }
        return cls(**{**base, **overrides})

    def __post_init__(self) -> None:
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"unknown classifier {self.classifier!r}; choose one of: {', '.join(CLASSIFIERS)}")
        for name in ("samples", "steps", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.bins or any(not 0.0 < b <= 1.0 for b in self.bins):
            raise ValueError(f"bins must be fractions in (0, 1], got {self.bins}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


def _batches(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _prob_fn(data, classifier: nn.Module) -> ProbFn:
    def fn(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return classifier(common.remove_units(data, x, mask)).float().softmax(1)

    return fn


def _ignored_units(data) -> torch.Tensor | None:
    """``(U,)`` 0 for units left out of the rationale scores (the switch table's switch column), else ``None``."""
    if data.modality != "tabular" or data.test_rationale is None:
        return None
    from hnsx.adapters.tabular.synthetic import SWITCH

    keep = torch.ones(data.test_rationale.shape[1])
    keep[SWITCH] = 0  # the switch is scored apart (see hnsx.adapters.tabular.synthetic)
    return keep


def _seed_models(data, config: FaithfulnessConfig, seed: int) -> tuple[Any, nn.Module]:
    progress = config.progress
    # baseline_epochs=1: Fidelity's reference seeker is not used here, so it gets the least training allowed.
    model = common.train_hns(
        data, seed=seed, epochs=config.hns_epochs, progress=progress, device=config.device, baseline_epochs=1
    )
    if config.classifier == "hns-seeker":
        return model, model.seeker.eval()
    return model, common.train_seeker(data, seed=seed, progress=progress, device=config.device)


def evaluate_seed(data, config: FaithfulnessConfig, seed: int) -> dict[str, Any]:
    """One seed: train the models, then every explainer's per-sample metrics averaged over the samples."""
    model, classifier = _seed_models(data, config, seed)
    device = next(classifier.parameters()).device
    names = common.check_explainers(data.modality, config.explainers or common.explainer_names(data.modality))
    explainers = common.build_explainers(data, classifier, model, names, options=config.explainer_options, seed=seed)
    inputs = data.test.tensors[0][: config.samples]
    gold_all = data.test_rationale[: config.samples] if data.test_rationale is not None else None
    ignored = _ignored_units(data)
    prob_fn = _prob_fn(data, classifier)
    rows: dict[str, dict[str, list[np.ndarray]]] = {}

    def add(name: str, values: dict[str, np.ndarray]) -> None:
        for key, value in values.items():
            rows.setdefault(name, {}).setdefault(key, []).append(value)

    slices = _batches(inputs.shape[0], config.batch_size)
    rows_names = [*names, *([ORACLE] if gold_all is not None else [])]
    bar = tqdm(total=len(slices) * len(rows_names), desc=f"faithfulness seed {seed}", disable=not config.progress)
    for part in slices:
        x = inputs[part].to(device)
        valid = data.adapter.valid_units(x)
        with torch.inference_mode():
            target = classifier(x).argmax(1)
        gold = gold_all[part].reshape(data.adapter.mask_shape(x)).to(device) if gold_all is not None else None
        gold_valid = valid  # the units the rationale scores count
        if ignored is not None:
            gold_valid = ((torch.ones(data.adapter.mask_shape(x)) if valid is None else valid.cpu()) * ignored).to(
                device
            )
        for name in rows_names:
            if name == ORACLE:
                scores = gold.float()
            else:
                explainer = explainers[name]
                scores = common.ranking_scores(explainer, explainer.attribute(x, target.clone()).detach())
            scores = scores.reshape(data.adapter.mask_shape(x))
            curves = perturbation_curves(prob_fn, x, scores, target, valid, config.steps, seed)
            add(name, {
                "deletion_auc": trapezoid_auc(curves["fractions"], curves["deletion"]),
                "insertion_auc": trapezoid_auc(curves["fractions"], curves["insertion"]),
                "deletion_curve": curves["deletion"],
                "insertion_curve": curves["insertion"],
                **eraser_scores(prob_fn, x, scores, target, valid, config.bins, seed),
            })  # fmt: skip
            if gold is not None:
                add(name, {f"rationale_{k}": v for k, v in rationale_top_k(scores, gold, gold_valid, seed).items()})
            if name == "hns":
                mask = model.explain(x).float()
                add(HNS_MASK, mask_scores(prob_fn, x, mask, target, valid))
                if gold is not None:
                    add(HNS_MASK, {f"rationale_{k}": v for k, v in set_overlap(mask, gold, gold_valid).items()})
            bar.update()
    bar.close()
    summary: dict[str, dict[str, Any]] = {}
    for name, metrics in rows.items():
        cat = {k: np.concatenate(v) for k, v in metrics.items()}
        out: dict[str, Any] = {}
        for key, value in cat.items():
            if key in ("comprehensiveness", "sufficiency") and value.ndim == 2:
                out[key] = value.mean(0).tolist()
                out[f"aopc_{key}"] = float(value.mean())
            elif key.endswith("_curve"):
                out[key] = value.mean(0).tolist()
            else:
                out[key] = float(np.nanmean(value)) if np.isfinite(value).any() else float("nan")
        summary[name] = out
    test = data.test
    return {
        "metrics": summary,
        "fractions": np.linspace(0.0, 1.0, config.steps + 1).tolist(),
        "classifier_accuracy": common.accuracy(classifier, test),
        "hns_accuracy": _hns_accuracy(model, test),
        "hns_kept_fraction": summary.get(HNS_MASK, {}).get("kept_fraction"),
    }


@torch.no_grad()
def _hns_accuracy(model, dataset, batch_size: int = 256) -> float:
    device = next(model.parameters()).device
    hits = total = 0
    for start in range(0, len(dataset), batch_size):
        x, y = (t[start : start + batch_size].to(device) for t in dataset.tensors)
        hits += int((model.predict(x)[0] == y).sum())
        total += y.numel()
    return hits / total


def aggregate(seeds: list[int], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per explainer and metric: mean +- std over seeds (``mean_std`` records)."""
    metrics: dict[str, dict[str, Any]] = {}
    for name in runs[0]["metrics"]:
        keys = runs[0]["metrics"][name]
        metrics[name] = {k: aggregate_seeds([r["metrics"][name][k] for r in runs]) for k in keys}
    models = {k: mean_std([r[k] for r in runs]) for k in ("classifier_accuracy", "hns_accuracy")}
    return {"metrics": metrics, "fractions": runs[0]["fractions"], "models": models}


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
        "that of the class predicted on the full input. Deletion AUC: lower is better; insertion AUC, "
        "comprehensiveness: higher is better; sufficiency: lower is better. Bins: "
        + ", ".join(f"{b:.0%}" for b in bins)
        + f"; curves over {results['config']['steps'] + 1} fractions from 0 to 1.",
        "",
        "## Summary",
        "",
    ]
    header = ["explainer", "deletion AUC ↓", "insertion AUC ↑", "AOPC comprehensiveness ↑", "AOPC sufficiency ↓"]
    if rationale:
        header += ["rationale F1 (top-k)", "rationale IoU (top-k)"]
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
    for key, title in (("comprehensiveness", "Comprehensiveness ↑"), ("sufficiency", "Sufficiency ↓")):
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
        header = ["explainer", "kept fraction", "comprehensiveness ↑", "sufficiency ↓"]
        row = [HNS_MASK] + [_ms(m[k]) for k in ("kept_fraction", "comprehensiveness", "sufficiency")]
        if "rationale_f1" in m:
            header += ["rationale F1", "rationale IoU"]
            row += [_ms(m["rationale_f1"]), _ms(m["rationale_iou"])]
        lines += [markdown_table(header, [row]), ""]
    if not results.get("complete", True):
        lines += [f"**Incomplete run**: {len(results['seeds'])} of {results['config']['seeds']} seeds finished.", ""]
    lines += [f"Wall time {results['seconds']:.0f} s. Plots: `curves.png`, `eraser.png`."]
    return "\n".join(lines) + "\n"


def save_plots(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``curves.png`` (deletion and insertion, mean ± std over seeds) and ``eraser.png`` (per bin)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = {k: v for k, v in results["metrics"].items() if k != HNS_MASK}
    fractions = np.asarray(results["fractions"])
    n_seeds = len(results["seeds"])
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in (
        (axes[0], "deletion_curve", "deletion (lower is better)"),
        (axes[1], "insertion_curve", "insertion (higher is better)"),
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
    fig.tight_layout()
    paths.append(out_dir / "curves.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    bins = results["config"]["bins"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in (
        (axes[0], "comprehensiveness", "comprehensiveness (higher is better)"),
        (axes[1], "sufficiency", "sufficiency (lower is better)"),
    ):
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
    fig.tight_layout()
    paths.append(out_dir / "eraser.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def run_faithfulness(config: FaithfulnessConfig, out_dir: str | Path) -> dict[str, Any]:
    """Run the benchmark and write ``results.json``, ``report.md``, ``curves.png`` and ``eraser.png``.

    Which classifier: by default the Hide-and-Seek model's seeker, trained per seed. Every explainer explains that
    one classifier (Captum's methods through its gradients, HnS through its hider, which was trained to keep what
    this seeker needs), and every metric reads that classifier's probabilities, so the rows compare like with
    like. ``classifier="independent"`` trains a plain classifier of the same architecture instead, for the Captum
    methods and the measurement; HnS's hider then ranks units for a model it was not trained with.
    """
    common.check_modality(config.modality)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    torch.set_num_threads(config.threads)
    start = time.perf_counter()
    seeds = common.seed_list(config.seeds)
    data = common.load_bench_data(config.modality, quick=config.quick_data, name=DATASETS[config.modality])
    if config.samples > len(data.test):  # a small test split (breast cancer: 114 rows) is used whole
        config = replace(config, samples=len(data.test))
    names = common.check_explainers(config.modality, config.explainers or common.explainer_names(config.modality))
    runs: list[dict[str, Any]] = []
    for seed in seeds:  # the outputs are rewritten after every seed: an interrupted run keeps the seeds it finished
        runs.append(evaluate_seed(data, config, seed))
        results = {
            "benchmark": "faithfulness",
            "modality": config.modality,
            "dataset": data.name,
            "config": asdict(config),
            "seeds": seeds[: len(runs)],
            "explainers": names + [n for n in runs[0]["metrics"] if n not in names],
            **aggregate(seeds, runs),
            "per_seed": runs,
            "seconds": time.perf_counter() - start,
            "complete": len(runs) == len(seeds),
        }
        write_outputs(Path(out_dir), results, format_report(results))
        save_plots(results, Path(out_dir))
    return results


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Config fields from the ``hnsx bench`` arguments (``seeds`` ``None``: 3; ``epochs``: HnS joint epochs;
    ``explainers``: comma-separated plain names)."""
    options: dict[str, Any] = {
        "modality": args.modality,
        "seeds": 3 if getattr(args, "seeds", None) is None else args.seeds,
        "threads": getattr(args, "threads", 2),
        "device": getattr(args, "device", "cpu"),
        "progress": not getattr(args, "no_progress", False),
    }
    return {**options, **common.cli_options(args)}


def main(args: argparse.Namespace) -> int:
    """What ``hnsx bench faithfulness`` runs (``args``: modality, quick, seeds, out, threads, device,
    no_progress, and optionally epochs and explainers)."""
    options = _options(args)
    config = FaithfulnessConfig.quick(**options) if args.quick else FaithfulnessConfig(**options)
    results = run_faithfulness(config, args.out)
    print(format_report(results))
    print(f"wrote {Path(args.out) / 'results.json'}, report.md, curves.png and eraser.png")
    return 0


__all__ = [
    "MODALITIES",
    "BINS",
    "CLASSIFIERS",
    "FaithfulnessConfig",
    "aggregate",
    "count_valid",
    "eraser_scores",
    "evaluate_seed",
    "format_report",
    "main",
    "mask_scores",
    "perturbation_curves",
    "rank_units",
    "rationale_top_k",
    "run_faithfulness",
    "save_plots",
    "set_overlap",
    "top_k_mask",
    "trapezoid_auc",
    "units_at",
]
