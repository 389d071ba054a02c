"""``hnsx bench leakage``: does Hide-and-Seek encode the label in the shape of its mask? And the leak-free mode.

A hider and a seeker trained together can agree on a code: the *shape* of the mask carries the class, so a few kept
units give high accuracy while explaining nothing (Jethani et al. 2021, "Have we learned to explain?"; DESIGN.md,
"The scientific trap"). The seeker's accuracy on its own masks (HnS's Fidelity) cannot see that. This benchmark
asks an outsider.

Per seed:

1. **Models.** The plain seeker (:func:`~hnsx.benchmarks.common.train_seeker`, unmasked data), which the post-hoc
   methods explain, and Hide-and-Seek (:func:`~hnsx.benchmarks.common.train_hns`, the modality's recipe).
2. **Evaluator** (:func:`~hnsx.training.evaluator.train_evaluator`): the seeker's architecture, trained from
   scratch on training inputs under random masks. The keep rate is drawn per input, ``r ~ U(0, 1)``; each unit is
   kept with probability ``r``. Image masks are drawn on a grid of square blocks whose side is drawn per input from
   ``blocks`` (1, 2, 4 and 7 pixels on 28 x 28) and upsampled, so the evaluator sees pixel noise as well as
   blob-shaped masks like those of real explanations; text masks are drawn per word, tabular masks per feature.
   Hidden units are filled as the adapter fills them (image: the per-channel training mean). It never sees a mask
   of any explainer.
3. **Matched kept fraction.** Every explainer keeps, on each test input, as many units as the HnS mask keeps on that
   input (its top-ranked units for the class the explained model predicts; ties in a seeded random order); a second
   figure keeps HnS's mean kept fraction on every input. Attributions are for the predicted class, not the true
   one: units picked for their support of the true class would pass the label to the evaluator by themselves. The
   ``hns`` row is the HnS mask itself (per input) and the top of its keep probability (mean).
4. **Scores.** The evaluator's accuracy on each explainer's kept units, beside HnS's own F and accuracy, and the
   accuracies of HnS's seeker and of the plain seeker on the same inputs.

The label-encoding signature: HnS's seeker is accurate on its masks while the evaluator is not, although the
evaluator is accurate on other explainers' masks (or random ones) of the same size.

**Leak-free mode** (``TrainConfig(leak_free=True)``, the same training mode as ``hnsx train --leak-free``,
:mod:`hnsx.training.leak_free`): REAL-X, the seeker is trained on random masks only and the hider against it, so no
seeker can learn a code from the masks. It keeps the recipe (its seeker pretraining, if any, is on random masks
too). Both modes are judged by the evaluator of step 2, which the leak-free run never saw (its own seeker is not an
independent judge: the hider is fitted to it). F is always accuracy on the own mask over the same baseline (the
normal run's baseline seeker).

Outputs: ``results.json`` (every figure as mean, std and per-seed values), ``report.md`` and
``leakage-explainers.png``, ``leakage-modes.png`` and, for images, ``leakage-masks.png``.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from hnsx.benchmarks.common import (
    BenchData,
    build_explainers,
    check_explainers,
    explainer_names,
    seeker_model,
    train_hns,
)
from hnsx.benchmarks.explainers import Explainer
from hnsx.benchmarks.hooks import hooks, modality_settings
from hnsx.benchmarks.ranking import ranking_scores, top_counts
from hnsx.benchmarks.removal import device_of, flatten_units, hns_masks, masked_predictions
from hnsx.benchmarks.reports import leakage as reports_module
from hnsx.benchmarks.reports.leakage import format_report
from hnsx.benchmarks.results import format_mean_std
from hnsx.benchmarks.runner import Benchmark
from hnsx.model import HideAndSeek
from hnsx.training.evaluator import dataset_accuracy, train_evaluator

#: Every modality with benchmark hooks.
MODALITIES = None
#: Runs on the user's data and model (``--data-file``, ``--dataset``, ``--checkpoint``).
USER_DATA = True

#: Explainer settings of the default run: rankings of 1,000 test digits, not completeness, are what matters here.
DEFAULT_OPTIONS = {"integrated-gradients": {"n_steps": 25}, "smoothgrad-sq": {"nt_samples": 10}}
#: Cheaper settings of the slow explainers under ``--quick``.
QUICK_OPTIONS = {
    "integrated-gradients": {"n_steps": 16},
    "smoothgrad-sq": {"nt_samples": 8},
    "vargrad": {"nt_samples": 8},
    "cdeepex": {"config": {"outer_steps": 10, "inner_steps": 10}},
}


@dataclass(frozen=True)
class LeakageConfig:
    """What ``hnsx bench leakage`` runs.

    Attributes
    ----------
    explainers:
        Explainer names (default: the modality's ``leakage`` setting, else every explainer of the modality).
    evaluator_epochs:
        Epochs of each evaluator (``None``: the modality's ``EVALUATOR_EPOCHS`` hook).
    blocks:
        Block sides of random masks with two spatial axes (:func:`~hnsx.training.evaluator.random_masks`;
        ``None``: the modality's ``MASK_BLOCKS`` hook).
    keep_range:
        ``(low, high)``: the evaluator's keep rate per input is drawn uniformly from it. ``blocks`` and
        ``keep_range`` shape the judging evaluator's masks; the leak-free run's seeker draws its own random masks as
        ``hnsx train --leak-free`` does (the adapter's blocks, keep rates over [0, 1]).
    hns_epochs:
        Joint epochs of both HnS modes (``None``: the recipe's).
    leak_free:
        Also train and score the leak-free mode.
    explainer_options:
        Builder arguments per explainer name, over :data:`DEFAULT_OPTIONS` (``--quick``: :data:`QUICK_OPTIONS`).
    batch_size:
        Batch size of attribution and scoring.
    quick:
        The smaller data and settings of ``--quick``.
    """

    explainers: tuple[str, ...] | None = None
    evaluator_epochs: int | None = None
    blocks: tuple[int, ...] | None = None
    keep_range: tuple[float, float] = (0.0, 1.0)
    hns_epochs: int | None = None
    leak_free: bool = True
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_size: int = 128
    quick: bool = False

    def __post_init__(self) -> None:
        lo, hi = self.keep_range
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"keep_range must satisfy 0 <= low <= high <= 1, got {self.keep_range}")
        if self.blocks is not None and (not self.blocks or any(int(b) < 1 for b in self.blocks)):
            raise ValueError(f"blocks must be positive side lengths, got {self.blocks}")
        if self.evaluator_epochs is not None and self.evaluator_epochs < 1:
            raise ValueError(f"evaluator_epochs must be at least 1, got {self.evaluator_epochs}")

    def epochs_for(self, modality: str) -> int:
        return self.evaluator_epochs or hooks(modality).EVALUATOR_EPOCHS[self.quick]

    def blocks_for(self, modality: str) -> tuple[int, ...]:
        return tuple(self.blocks) if self.blocks is not None else tuple(hooks(modality).MASK_BLOCKS)

    def explainers_for(self, modality: str) -> list[str]:
        default = modality_settings(modality, "leakage", self.quick).get("explainers") or explainer_names(
            modality, defaults_only=True
        )
        return check_explainers(modality, list(self.explainers or default))


# --- scoring ---------------------------------------------------------------------------------------------------------


def attribute_predicted(
    explainer: Explainer,
    data: BenchData,
    inputs: torch.Tensor,
    *,
    batch_size: int = 128,
    progress: bool = False,
    desc: str = "attributing",
) -> torch.Tensor:
    """Scores ``(N, U)`` of every input for the class the explained model *predicts*
    (``explainer.predict_and_attribute``), not the true one: units chosen for their support of the true class would
    carry the label to the evaluator by themselves, which the HnS mask (label-free) cannot do."""
    device = device_of(explainer.model)
    out = []
    starts = range(0, inputs.shape[0], batch_size)
    for start in tqdm(starts, desc=desc, disable=not progress, leave=False):
        x = inputs[start : start + batch_size].to(device)
        _, scores = explainer.predict_and_attribute(x)
        out.append(flatten_units(data, x, scores.detach())[0].float().cpu())
    return torch.cat(out)


def _acc(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predicted == labels).float().mean())


def score_mode(
    model: HideAndSeek, data: BenchData, evaluator: nn.Module, baseline: float, *, seed: int, batch_size: int = 256
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """F, I and accuracies of one HnS model on ``data.test``; also returns its masks and the valid units.

    ``accuracy``: its own seeker on its own masks; ``evaluator_accuracy``: the evaluator on the same kept units;
    ``evaluator_random_accuracy``: the evaluator on random units, as many per input as the mask keeps;
    ``evaluator_fidelity``: ``evaluator_accuracy`` over the evaluator's accuracy on unmasked inputs.
    """
    inputs, labels = data.test.tensors
    classes, masks, valid = hns_masks(model, data, inputs, batch_size)
    kept = (masks.sum(1).float() / valid.sum(1).clamp_min(1).float()).mean()
    accuracy = _acc(classes, labels)
    judged = _acc(masked_predictions(evaluator, data, inputs, masks, batch_size), labels)
    unmasked = _acc(masked_predictions(evaluator, data, inputs, None, batch_size), labels)
    random_keep = top_counts(
        torch.rand(masks.shape, generator=torch.Generator().manual_seed(seed)), valid, masks.sum(1)
    )
    random = _acc(masked_predictions(evaluator, data, inputs, random_keep, batch_size), labels)
    scores = {
        "fidelity": accuracy / baseline,
        "interpretability": 1.0 - float(kept),
        "accuracy": accuracy,
        "evaluator_accuracy": judged,
        "evaluator_random_accuracy": random,
        "evaluator_fidelity": judged / unmasked if unmasked > 0 else math.nan,
        "gap": accuracy - judged,
    }
    return scores, masks, valid


# --- the benchmark ---------------------------------------------------------------------------------------------------


def _one_per_class(labels: torch.Tensor, limit: int = 10) -> torch.Tensor:
    """Indices of the first test input of each class (at most ``limit``), for the example plot."""
    firsts = [int((labels == c).nonzero()[0]) for c in labels.unique().tolist()]
    return torch.tensor(firsts[:limit], dtype=torch.long)


def run_seed(data: BenchData, config: LeakageConfig, seed: int, *, progress: bool = False, device: str = "cpu"):
    """Everything of one seed: ``(results, examples)``; ``examples`` holds masks of a few test inputs for plots."""
    start = time.perf_counter()
    names = config.explainers_for(data.modality)
    epochs, blocks = config.epochs_for(data.modality), config.blocks_for(data.modality)
    batch = config.batch_size
    inputs, labels = data.test.tensors
    seeker = seeker_model(data, seed=seed, progress=progress, device=device)
    with tempfile.TemporaryDirectory(prefix="hnsx-leakage-") as tmp:
        if data.trained is not None:  # the user's model: its seeker's unmasked accuracy is Fidelity's baseline
            hns, baseline = data.trained.to(device).eval(), dataset_accuracy(data.trained.seeker, data.test)
        else:
            hns = train_hns(data, seed=seed, epochs=config.hns_epochs, progress=progress, out_dir=tmp, device=device)
            baseline = json.loads((Path(tmp) / "metrics.json").read_text())["baseline_accuracy"]
    evaluator = train_evaluator(
        data,
        seed=seed,
        epochs=epochs,
        blocks=blocks,
        keep_range=config.keep_range,
        progress=progress,
        device=device,
    )
    reference = {
        "baseline_accuracy": baseline,
        "seeker_accuracy": _acc(masked_predictions(seeker, data, inputs, None, batch), labels),
        "evaluator_accuracy_unmasked": _acc(masked_predictions(evaluator, data, inputs, None, batch), labels),
    }
    modes: dict[str, dict[str, float]] = {}
    modes["hns"], masks, valid = score_mode(hns, data, evaluator, baseline, seed=seed, batch_size=batch)
    counts = masks.sum(1)
    mean_fraction = float((counts.float() / valid.sum(1).clamp_min(1).float()).mean())

    options = {**(QUICK_OPTIONS if config.quick else DEFAULT_OPTIONS), **config.explainer_options}
    explainers = build_explainers(data, seeker, hns, names, options=options, seed=seed)
    rows: dict[str, dict[str, float]] = {}
    for name, explainer in tqdm(explainers.items(), desc=f"explainers (seed {seed})", disable=not progress):
        scores = attribute_predicted(explainer, data, inputs, batch_size=batch, progress=progress, desc=name)
        ranking = ranking_scores(explainer, scores)
        per_input = masks if name == "hns" else top_counts(ranking, valid, counts, seed=seed)
        at_mean = top_counts(ranking, valid, torch.round(valid.sum(1) * mean_fraction), seed=seed)
        rows[name] = {
            "evaluator_accuracy": _acc(masked_predictions(evaluator, data, inputs, per_input, batch), labels),
            "evaluator_accuracy_mean_k": _acc(masked_predictions(evaluator, data, inputs, at_mean, batch), labels),
            "hns_seeker_accuracy": _acc(masked_predictions(hns.seeker, data, inputs, per_input, batch), labels),
            "seeker_accuracy": _acc(masked_predictions(seeker, data, inputs, per_input, batch), labels),
        }

    shown = _one_per_class(labels)
    examples = {"inputs": inputs[shown], "labels": labels[shown], "hns": masks[shown]}
    if config.leak_free:
        free = train_hns(
            data,
            seed=seed,
            epochs=config.hns_epochs,
            progress=progress,
            device=device,
            baseline_accuracy=baseline,
            leak_free=True,
        )
        modes["hns-leak-free"], free_masks, _ = score_mode(free, data, evaluator, baseline, seed=seed, batch_size=batch)
        examples["hns-leak-free"] = free_masks[shown]
    results = {"reference": reference, "modes": modes, "explainers": rows, "kept_fraction": mean_fraction}
    results["seconds"] = time.perf_counter() - start
    return results, examples


class Leakage(Benchmark):
    """``hnsx bench leakage`` on the shared runner (one seed: :func:`run_seed`)."""

    name = "leakage"
    reports = reports_module
    config_class = LeakageConfig
    quick_seeds = 1
    outputs = "plots"

    def run_seed(self, data: BenchData, config: LeakageConfig, seed: int, *, progress: bool, device: str):
        return run_seed(data, config, seed, progress=progress, device=device)

    def record(self, data: BenchData, config: LeakageConfig, seeds, per_seed) -> dict[str, Any]:
        results = super().record(data, config, seeds, per_seed)
        resolved = {"evaluator_epochs": config.epochs_for(data.modality), "blocks": config.blocks_for(data.modality)}
        results["config"] = {**results["config"], **resolved}
        return results

    def summary(self, results: dict[str, Any]) -> str:
        return "\n".join(
            f"{mode}: F {format_mean_std(figures['fidelity'])}, I {format_mean_std(figures['interpretability'])}, "
            f"evaluator accuracy on its masks {format_mean_std(figures['evaluator_accuracy'])}"
            for mode, figures in results["results"]["modes"].items()
        )


BENCHMARK = Leakage()
main = BENCHMARK.main


#: ``run_leakage(data, config, seeds, out_dir, *, progress=True, device="cpu")``: run the benchmark over ``seeds``
#: and write ``results.json``, ``report.md`` and the plots; returns the results. Each seed's figures are kept under
#: ``out_dir/seeds/`` (:func:`~hnsx.benchmarks.results.cached_seed`): rerunning with the same settings reuses them, so
#: an interrupted run resumes and seeds may run in parallel processes into the same folder.
run_leakage = BENCHMARK.run


__all__ = [
    "BENCHMARK",
    "DEFAULT_OPTIONS",
    "LeakageConfig",
    "MODALITIES",
    "attribute_predicted",
    "format_report",
    "main",
    "run_leakage",
    "run_seed",
    "score_mode",
]
