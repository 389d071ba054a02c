"""``hnsx bench leakage``: does Hide-and-Seek encode the label in the shape of its mask? And the leak-free mode.

A hider and a seeker trained together can agree on a code: the *shape* of the mask carries the class, so a few kept
units give high accuracy while explaining nothing (Jethani et al. 2021, "Have we learned to explain?"; DESIGN.md,
"The scientific trap"). The seeker's accuracy on its own masks (HnS's Fidelity) cannot see that. This benchmark
asks an outsider.

Per seed:

1. **Models.** The plain seeker (:func:`~hnsx.benchmarks.common.train_seeker`, unmasked data), which the post-hoc
   methods explain, and Hide-and-Seek (:func:`~hnsx.benchmarks.common.train_hns`, the modality's recipe).
2. **Evaluator** (:func:`train_evaluator`): the seeker's architecture, trained from scratch on training inputs under
   random masks. The keep rate is drawn per input, ``r ~ U(0, 1)``; each unit is kept with probability ``r``.
   Image masks are drawn on a grid of square blocks whose side is drawn per input from ``blocks`` (1, 2, 4 and 7
   pixels on 28 x 28) and upsampled, so the evaluator sees pixel noise as well as blob-shaped masks like those of
   real explanations; text masks are drawn per word, tabular masks per feature. Hidden units are filled as the
   adapter fills them (image: the per-channel training mean). It never sees a mask of any explainer.
3. **Matched kept fraction.** Every explainer keeps, on each test input, as many units as the HnS mask keeps on that
   input (its top-ranked units for the class the explained model predicts; ties in a seeded random order); a second
   figure keeps HnS's mean kept fraction on every input. Attributions are for the predicted class, not the true
   one: units picked for their support of the true class would pass the label to the evaluator by themselves. The
   ``hns`` row is the HnS mask itself (per input) and the top of its keep probability (mean).
4. **Scores.** The evaluator's accuracy on each explainer's kept units, beside HnS's own F and accuracy, and the
   accuracies of HnS's seeker and of the plain seeker on the same inputs.

The label-encoding signature: HnS's seeker is accurate on its masks while the evaluator is not, although the
evaluator is accurate on other explainers' masks (or random ones) of the same size.

**Leak-free mode** (:func:`train_hns_frozen`, :func:`leak_free_hns`): the hider is trained against a *frozen*
evaluator (a second one, seed ``seed + 1000``) as its seeker, so no seeker can learn a code from the masks. It keeps
the recipe, minus the seeker's pretraining (:func:`leak_free_config`). Both modes are judged by the first evaluator,
which the leak-free hider never saw (its own frozen seeker is not an independent judge: the hider is fitted to it).
F is always accuracy on the own mask over the same baseline (the normal run's baseline seeker).

Outputs: ``results.json`` (every figure as mean, std and per-seed values), ``report.md`` and
``leakage-explainers.png``, ``leakage-modes.png`` and, for images, ``leakage-masks.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from hnsx.benchmarks.common import (
    MODALITIES,
    RECIPES,
    BenchData,
    build_explainers,
    check_explainers,
    cli_options,
    cli_run_settings,
    explainer_names,
    flatten_units,
    format_mean_std,
    load_bench_data,
    markdown_table,
    mean_std,
    new_seeker,
    ranking_scores,
    remove_units,
    train_hns,
    train_seeker,
    write_outputs,
)
from hnsx.benchmarks.explainers import Explainer
from hnsx.model import HideAndSeek
from hnsx.training.config import TrainConfig

#: Evaluator epochs per modality (full run, ``--quick``).
EVALUATOR_EPOCHS: dict[str, dict[bool, int]] = {
    "image": {False: 8, True: 5},
    "text": {False: 6, True: 3},
    "tabular": {False: 40, True: 20},
}
#: Side lengths (pixels) of the square blocks of random image masks; one drawn per input.
IMAGE_BLOCKS = (1, 2, 4, 7)
#: The frozen seeker of the leak-free mode is an evaluator trained with this seed offset.
FROZEN_SEED_OFFSET = 1000
#: Image explainers of the default run (the slow ``vargrad`` and ``occlusion`` can be asked for by name).
IMAGE_EXPLAINERS = ("hns", "integrated-gradients", "layer-gradcam", "saliency", "smoothgrad-sq", "random")
#: Explainer settings of the default run: rankings of 1,000 test digits, not completeness, are what matters here.
DEFAULT_OPTIONS = {"integrated-gradients": {"n_steps": 25}, "smoothgrad-sq": {"nt_samples": 10}}
#: Cheaper settings of the slow explainers under ``--quick``.
QUICK_OPTIONS = {
    "integrated-gradients": {"n_steps": 16},
    "smoothgrad-sq": {"nt_samples": 8},
    "vargrad": {"nt_samples": 8},
}


@dataclass(frozen=True)
class LeakageConfig:
    """What ``hnsx bench leakage`` runs.

    Attributes
    ----------
    explainers:
        Explainer names (default: :data:`IMAGE_EXPLAINERS` for images, every explainer of the modality otherwise).
    evaluator_epochs:
        Epochs of each evaluator (``None``: :data:`EVALUATOR_EPOCHS`).
    blocks:
        Block sides of random image masks (:func:`random_masks`); ignored for text and tables.
    keep_range:
        ``(low, high)``: the evaluator's keep rate per input is drawn uniformly from it.
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
    blocks: tuple[int, ...] = IMAGE_BLOCKS
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
        if not self.blocks or any(int(b) < 1 for b in self.blocks):
            raise ValueError(f"blocks must be positive side lengths, got {self.blocks}")
        if self.evaluator_epochs is not None and self.evaluator_epochs < 1:
            raise ValueError(f"evaluator_epochs must be at least 1, got {self.evaluator_epochs}")

    def epochs_for(self, modality: str) -> int:
        return self.evaluator_epochs or EVALUATOR_EPOCHS[modality][self.quick]


# --- random masks and the evaluator ----------------------------------------------------------------------------------


def random_masks(
    adapter,
    inputs: torch.Tensor,
    generator: torch.Generator,
    *,
    rates: torch.Tensor | None = None,
    keep_range: tuple[float, float] = (0.0, 1.0),
    blocks: Sequence[int] = (1,),
) -> torch.Tensor:
    """Random {0, 1} masks in the adapter's mask shape (on the CPU), one keep rate per input.

    Each input draws a keep rate ``r`` (``rates``, or uniform in ``keep_range``) and keeps each unit with
    probability ``r``. Image masks ``(B, 1, H, W)`` are drawn per block of ``s x s`` pixels, ``s`` drawn per input
    from ``blocks``, and upsampled (blocks cut at the border); ``blocks=(1,)`` draws per pixel. Text and table
    masks are drawn per unit slot (slots that hold no word are ignored by the adapter).
    """
    shape = tuple(adapter.mask_shape(inputs))
    n = shape[0]
    if rates is None:
        lo, hi = keep_range
        rates = lo + (hi - lo) * torch.rand(n, generator=generator)
    rates = rates.float().reshape(n, *([1] * (len(shape) - 1)))
    if len(shape) != 4 or tuple(blocks) == (1,):
        return (torch.rand(shape, generator=generator) < rates).float()
    _, c, h, w = shape
    sides = torch.tensor([int(b) for b in blocks])[torch.randint(len(blocks), (n,), generator=generator)]
    masks = torch.empty(shape)
    for side in sides.unique().tolist():
        rows = (sides == side).nonzero().flatten()
        coarse = torch.rand(len(rows), c, -(-h // side), -(-w // side), generator=generator) < rates[rows]
        masks[rows] = coarse.float().repeat_interleave(side, 2).repeat_interleave(side, 3)[:, :, :h, :w]
    return masks


def train_evaluator(
    data: BenchData,
    *,
    seed: int,
    epochs: int,
    blocks: Sequence[int] = IMAGE_BLOCKS,
    keep_range: tuple[float, float] = (0.0, 1.0),
    batch_size: int | None = None,
    lr: float | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> nn.Module:
    """A classifier of the seeker's architecture trained from scratch on ``data.train`` under random masks.

    Every batch gets fresh masks from :func:`random_masks`, filled by ``data.adapter.apply_mask`` (what the seeker
    of a Hide-and-Seek model receives); Adam with cross-entropy, the modality's batch size and learning rate
    (:data:`~hnsx.benchmarks.common.RECIPES`). Weights, data order and masks follow ``seed``. Returned in eval mode.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    recipe = RECIPES[data.modality]
    model = new_seeker(data, seed=seed).to(device)
    adapter = data.adapter.to(device)
    masks = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        data.train,
        batch_size=batch_size or recipe.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr or recipe.lr)
    model.train()
    for epoch in range(epochs):
        bar = tqdm(loader, desc=f"evaluator {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for inputs, labels in bar:
            inputs, labels = inputs.to(device), labels.to(device)
            mask = random_masks(adapter, inputs, masks, keep_range=keep_range, blocks=blocks).to(device)
            loss = F.cross_entropy(model(adapter.apply_mask(inputs, mask)).float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    return model.eval()


# --- Hide-and-Seek against a frozen seeker (the leak-free mode) ------------------------------------------------------


def leak_free_config(config: TrainConfig) -> TrainConfig:
    """``config`` without the seeker's pretraining: ``both`` -> ``pretrained-hider``, ``pretrained-seeker`` ->
    ``scratch`` (the seeker is frozen and already trained)."""
    init = {"both": "pretrained-hider", "pretrained-seeker": "scratch"}.get(config.init, config.init)
    return dataclasses.replace(config, init=init)


def train_hns_frozen(
    data: BenchData,
    seeker: nn.Module,
    *,
    seed: int,
    baseline_accuracy: float | None = None,
    epochs: int | None = None,
    progress: bool = False,
    device: str = "cpu",
    out_dir: str | Path | None = None,
    **overrides: Any,
) -> tuple[HideAndSeek, dict[str, Any]]:
    """Train the modality's hider against the frozen classifier ``seeker``; returns the model and its metrics.

    The model is ``data.spec`` with ``freeze_seeker=True`` around ``seeker`` (wrapped in
    :class:`~hnsx.model.FrozenModule`: its weights never change and it stays in eval mode), trained by
    :func:`hnsx.pipeline.run_training` with the modality's recipe minus seeker pretraining
    (:func:`leak_free_config`; ``overrides`` are other :class:`~hnsx.training.config.TrainConfig` fields). With an
    evaluator from :func:`train_evaluator` as ``seeker`` this is the *leak-free* mode: no seeker learns a code from
    the masks. With a deployed classifier it is post-hoc Hide-and-Seek of that classifier.

    ``baseline_accuracy`` is the denominator of Fidelity (default: ``seeker``'s own accuracy on unmasked
    ``data.test``). Returns the best checkpoint (highest FII among the epochs that did not collapse) in eval mode;
    the run folder is ``out_dir`` or a temporary folder. ``seeker``'s parameters are left with
    ``requires_grad=False``.
    """
    from hnsx.benchmarks.common import accuracy
    from hnsx.pipeline import run_training
    from hnsx.training.checkpoint import load_model_state, resolve_checkpoint

    recipe = RECIPES[data.modality]
    seeker = seeker.to(device).eval()
    if baseline_accuracy is None:
        baseline_accuracy = accuracy(seeker, data.test)
    settings = {"seed": seed, "progress": progress, "cpu": device == "cpu", **overrides}
    if epochs is not None:
        settings["epochs"] = epochs
    config = leak_free_config(dataclasses.replace(recipe.hns, **settings))
    spec = dataclasses.replace(data.spec, freeze_seeker=True)
    with tempfile.TemporaryDirectory(prefix="hnsx-bench-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        result = run_training(data, spec, config, out, seeker=seeker, baseline_accuracy=baseline_accuracy)
        if result.fit.best is not None:
            load_model_state(result.model, resolve_checkpoint(out, "best"))
    return result.model.eval(), result.metrics


def leak_free_hns(
    data: BenchData,
    *,
    seed: int,
    evaluator_epochs: int | None = None,
    baseline_accuracy: float | None = None,
    progress: bool = False,
    device: str = "cpu",
    **options: Any,
) -> tuple[HideAndSeek, nn.Module]:
    """The leak-free mode in one call: an evaluator (:func:`train_evaluator`, seed ``seed``) frozen as the seeker of
    :func:`train_hns_frozen`. Returns the model and the evaluator (its seeker). ``options`` go to
    :func:`train_hns_frozen`."""
    epochs = evaluator_epochs or EVALUATOR_EPOCHS[data.modality][False]
    evaluator = train_evaluator(data, seed=seed, epochs=epochs, progress=progress, device=device)
    model, _ = train_hns_frozen(
        data, evaluator, seed=seed, baseline_accuracy=baseline_accuracy, progress=progress, device=device, **options
    )
    return model, evaluator


# --- scoring ---------------------------------------------------------------------------------------------------------


@torch.no_grad()
def masked_predictions(
    model: nn.Module, data: BenchData, inputs: torch.Tensor, keep: torch.Tensor | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Predicted classes ``(N,)`` of ``model`` on ``inputs`` with only the units where ``keep (N, U)`` is 1 kept
    (hidden units filled by :func:`~hnsx.benchmarks.common.remove_units`); all units when ``keep`` is ``None``."""
    device = _device_of(model)
    out = []
    for start in range(0, inputs.shape[0], batch_size):
        x = inputs[start : start + batch_size].to(device)
        if keep is not None:
            x = remove_units(data, x, keep[start : start + batch_size])
        out.append(model(x).argmax(1).cpu())
    return torch.cat(out)


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def rank_order(scores: torch.Tensor, valid: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` unit indices of each row from the highest score to the lowest, invalid units last; ties in a random
    order drawn per row (seeded), so that flat maps (Grad-CAM's zeros, a constant keep probability) pick neither the
    first units nor the same units on every row."""
    n, u = scores.shape
    perm = torch.argsort(torch.rand(n, u, generator=torch.Generator().manual_seed(seed)), dim=1)
    shuffled = scores.float().gather(1, perm).masked_fill(~valid.gather(1, perm), -math.inf)
    return perm.gather(1, torch.argsort(shuffled, dim=1, descending=True, stable=True))


def top_counts(scores: torch.Tensor, valid: torch.Tensor, counts: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` bool: per row ``i``, the ``counts[i]`` valid units with the highest ``scores`` (ties in a seeded
    random order per row, :func:`rank_order`)."""
    n, u = scores.shape
    ranks = torch.arange(u).expand(n, u)
    top = torch.zeros(n, u, dtype=torch.bool)
    top.scatter_(1, rank_order(scores, valid, seed=seed), ranks < counts.long().unsqueeze(1))
    return top


@torch.no_grad()
def hns_masks(model: HideAndSeek, data: BenchData, inputs: torch.Tensor, batch_size: int = 256):
    """HnS predictions ``(N,)``, masks ``(N, U)`` bool and valid units ``(N, U)`` bool (deterministic masks)."""
    device = _device_of(model)
    classes, masks, valid = [], [], []
    for start in range(0, inputs.shape[0], batch_size):
        x = inputs[start : start + batch_size].to(device)
        predicted, mask, _ = model.predict_explain(x)
        flat, ok = flatten_units(data, x, mask)
        classes.append(predicted.cpu())
        masks.append((flat > 0.5).cpu() & ok.cpu())
        valid.append(ok.cpu())
    return torch.cat(classes), torch.cat(masks), torch.cat(valid)


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
    device = _device_of(explainer.model)
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
    default = IMAGE_EXPLAINERS if data.modality == "image" else explainer_names(data.modality)
    names = check_explainers(data.modality, list(config.explainers or default))
    epochs = config.epochs_for(data.modality)
    batch = config.batch_size
    inputs, labels = data.test.tensors
    seeker = train_seeker(data, seed=seed, progress=progress, device=device)
    with tempfile.TemporaryDirectory(prefix="hnsx-leakage-") as tmp:
        hns = train_hns(data, seed=seed, epochs=config.hns_epochs, progress=progress, out_dir=tmp, device=device)
        baseline = json.loads((Path(tmp) / "metrics.json").read_text())["baseline_accuracy"]
    evaluator = train_evaluator(
        data,
        seed=seed,
        epochs=epochs,
        blocks=config.blocks,
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
        frozen = train_evaluator(
            data,
            seed=seed + FROZEN_SEED_OFFSET,
            epochs=epochs,
            blocks=config.blocks,
            keep_range=config.keep_range,
            progress=progress,
            device=device,
        )
        free, _ = train_hns_frozen(
            data,
            frozen,
            seed=seed,
            baseline_accuracy=baseline,
            epochs=config.hns_epochs,
            progress=progress,
            device=device,
        )
        modes["hns-leak-free"], free_masks, _ = score_mode(free, data, evaluator, baseline, seed=seed, batch_size=batch)
        examples["hns-leak-free"] = free_masks[shown]
    results = {"reference": reference, "modes": modes, "explainers": rows, "kept_fraction": mean_fraction}
    results["seconds"] = time.perf_counter() - start
    return results, examples


def aggregate(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed nested figures -> the same nesting with :func:`~hnsx.benchmarks.common.mean_std` leaves."""
    first = per_seed[0]
    if isinstance(first, dict):
        return {key: aggregate([s[key] for s in per_seed]) for key in first}
    return mean_std(per_seed)


def _timing(results: dict[str, Any]) -> str:
    """``"training and scoring took 590 ± 3 s per seed; this call 12 s"``."""
    per_seed = results["results"].get("seconds")
    text = f"training and scoring took {format_mean_std(per_seed, digits=0)} s per seed; " if per_seed else ""
    return f"{text}this call {results['seconds']:.0f} s"


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
        + (f", square blocks of {', '.join(map(str, cfg['blocks']))} px" if results["modality"] == "image" else "")
        + f"); {_timing(results)}.",
        "",
        "## Hide-and-Seek: own fidelity against an independent evaluator",
        "",
        "F = accuracy of the model's own seeker on its own masks / baseline accuracy (the same baseline for both "
        "modes); the evaluator never trained with any explainer's masks. In the leak-free mode the seeker is a "
        "second, frozen evaluator; the judging evaluator is another one.",
        "",
    ]
    header = ["mode", *(label for _, label in MODE_COLUMNS)]
    rows = [[mode, *(format_mean_std(figures[k]) for k, _ in MODE_COLUMNS)] for mode, figures in agg["modes"].items()]
    lines += [markdown_table(header, rows), ""]
    kept = agg["kept_fraction"]
    lines += [
        "## Explainers at HnS's kept fraction",
        "",
        f"Each explainer keeps its top units, as many per input as the HnS mask keeps (mean kept fraction "
        f"{format_mean_std(kept)}); the `hns` row is the HnS mask itself (second column: the top of its keep "
        "probability). Post-hoc methods explain the plain seeker, for the class it predicts.",
        "",
    ]
    header = ["explainer", *(label for _, label in EXPLAINER_COLUMNS)]
    rows = [[n, *(format_mean_std(f[k]) for k, _ in EXPLAINER_COLUMNS)] for n, f in agg["explainers"].items()]
    lines += [markdown_table(header, rows), ""]
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    paths.append(out / "leakage-explainers.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

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
    fig.tight_layout()
    paths.append(out / "leakage-modes.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    if examples is not None and results["modality"] == "image":
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
        fig.tight_layout()
        paths.append(out / "leakage-masks.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def _fingerprint(**parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def cached_seed(
    out_dir: str | Path, seed: int, fingerprint: str, compute: Callable[[], tuple[dict, dict[str, torch.Tensor]]]
) -> tuple[dict, dict[str, torch.Tensor] | None]:
    """``compute()`` for one seed, kept in ``out_dir/seeds/seed-<n>.json`` (and its plot examples in
    ``examples-seed-<n>.safetensors``): a later run with the same ``fingerprint`` (benchmark, data, settings) reads
    them instead of training again, so a long run resumes where it stopped and seeds can run in separate processes
    into one folder."""
    from safetensors.torch import load_file, save_file

    from hnsx.training.checkpoint import write_json_atomic

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


def run_leakage(
    data: BenchData,
    config: LeakageConfig,
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    progress: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the benchmark over ``seeds`` and write ``results.json``, ``report.md`` and the plots; returns results.

    Each seed's figures are kept under ``out_dir/seeds/`` (:func:`cached_seed`): rerunning with the same settings
    reuses them, so an interrupted run resumes and seeds may run in parallel processes into the same folder.
    """
    if not seeds:
        raise ValueError("no seeds given")
    start = time.perf_counter()
    per_seed, examples = [], None
    fingerprint = _fingerprint(benchmark="leakage", data=data.name, test=len(data.test), config=asdict(config))
    for seed in tqdm(list(seeds), desc="leakage seeds", disable=not progress):
        run = functools.partial(run_seed, data, config, seed, progress=progress, device=device)
        result, shown = cached_seed(out_dir, seed, fingerprint, run)
        per_seed.append(result)
        examples = examples or shown
    names = list(per_seed[0]["explainers"])
    results = {
        "benchmark": "leakage",
        "modality": data.modality,
        "dataset": data.name,
        "config": {**dataclasses.asdict(config), "evaluator_epochs": config.epochs_for(data.modality)},
        "seeds": list(seeds),
        "explainers": names,
        "test_size": len(data.test),
        "results": aggregate(per_seed),
        "seconds": time.perf_counter() - start,
    }
    out = write_outputs(out_dir, results, format_report(results))
    save_plots(results, examples, out)
    return results


def main(args: argparse.Namespace) -> int:
    """``hnsx bench leakage --modality M [--quick] [--seeds N] --out DIR``."""
    quick = bool(args.quick)
    seeds, device = cli_run_settings(args, quick_seeds=1)
    data = load_bench_data(args.modality, quick=quick, seed=0)
    config = LeakageConfig(quick=quick, **cli_options(args))
    results = run_leakage(data, config, seeds, args.out, progress=not args.no_progress, device=device)
    modes = results["results"]["modes"]
    for mode, figures in modes.items():
        print(
            f"{mode}: F {format_mean_std(figures['fidelity'])}, I {format_mean_std(figures['interpretability'])}, "
            f"evaluator accuracy on its masks {format_mean_std(figures['evaluator_accuracy'])}"
        )
    print(f"wrote {Path(args.out) / 'results.json'}, report.md and plots ({results['seconds']:.0f} s)")
    return 0


__all__ = [
    "MODALITIES",
    "attribute_predicted",
    "cached_seed",
    "DEFAULT_OPTIONS",
    "EVALUATOR_EPOCHS",
    "IMAGE_BLOCKS",
    "IMAGE_EXPLAINERS",
    "LeakageConfig",
    "format_report",
    "hns_masks",
    "leak_free_config",
    "leak_free_hns",
    "main",
    "masked_predictions",
    "random_masks",
    "rank_order",
    "run_leakage",
    "run_seed",
    "score_mode",
    "top_counts",
    "train_evaluator",
    "train_hns_frozen",
]
