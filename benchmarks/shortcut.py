"""``hnsx bench shortcut``: a planted shortcut with known ground truth. Does each explainer point at it?

A shortcut is planted in the training data (:func:`plant`), in the spirit of the biased-MNIST and biased-Yelp
experiments of the contrastive-explanation thesis (a square on every "8", the word "very" in positive reviews):

* **image**: a white 4 x 4 square at rows and columns 1-4 (the top-left corner, blank on MNIST) on every training
  image of class 8;
* **text**: the marker word ``"cinnamon"``, absent from the generated corpus, inserted at a random word position
  in the first half of every positive training sentence;
* **tabular**: the generated switch table (:mod:`hnsx.adapters.tabular.synthetic`, whose label is an XOR-like
  function of 2 or 3 features) with a twelfth column ``x11``, the leak, = class code + N(0, 0.3^2), on every row.
  (On breast cancer, whose 30 features are each informative, the MLP barely used such a column: 1-2 points of
  accuracy.)

The test split comes three ways: *biased* (as in training), *removed* (no shortcut; tabular: the leak filled with
its training mean, as a hidden feature is) and *added* (the shortcut on every row; tabular: the leak pointing to the
other class). *Affected* rows are the biased test rows that carry the shortcut (class 8 / positive / every row).

Per seed:

1. **Models.** The plain seeker trained on the biased data (:func:`~hnsx.benchmarks.common.train_seeker`), which the
   post-hoc methods explain; ``hns``, Hide-and-Seek trained jointly on the biased data with the modality's recipe
   (its own seeker); ``hns-frozen``, a hider trained against a frozen copy of the plain seeker
   (:func:`~hnsx.benchmarks.evaluator.train_hns_frozen`), so that it explains the same classifier as the post-hoc
   methods.
2. **Does the model use the shortcut?** Accuracy on affected rows with and without the shortcut, and the
   *following rate*: on rows of the added split whose true class is not the one the shortcut points to, the share
   predicted as that class.
3. **Where does the attribution go?** For affected rows and their true class: the share of the positive attribution
   (HnS: of the keep probability) that falls on the planted units, averaged over rows, and the hit rate, the share
   of the planted units among the ``|planted|`` top-ranked units. The random expectation of both is the planted
   units' share of the input. For the HnS masks: the share of kept units on the planted ones and the share of
   affected rows whose mask keeps at least half of them.
4. **Controls.** ``oracle`` scores exactly the planted units (share 1); ``random`` scores at random (share about
   the planted area).

Outputs: ``results.json``, ``report.md``, ``shortcut-share.png`` and, for images, ``shortcut-maps.png``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from hnsx.benchmarks.common import (
    MODALITIES,
    SIZES,
    BenchData,
    accuracy,
    attribute_dataset,
    build_explainers,
    check_explainers,
    check_modality,
    cli_options,
    cli_run_settings,
    explainer_names,
    hns_masks,
    image_bench_data,
    load_bench_data,
    masked_predictions,
    order_ranks,
    rank_order,
    ranking_scores,
    registry_name,
    train_hns,
    train_seeker,
    unit_shape,
)
from hnsx.benchmarks.evaluator import (
    train_hns_frozen,
)
from hnsx.benchmarks.explainers import Explainer, build_explainer
from hnsx.benchmarks.leakage import QUICK_OPTIONS
from hnsx.benchmarks.results import (
    aggregate,
    cached_seed,
    fingerprint,
    format_mean_std,
    markdown_table,
    timing_line,
    write_outputs,
)
from hnsx.binarizers import ESTIMATORS
from hnsx.model import HideAndSeek

#: The class that carries the shortcut (image: the digit 8, as in the thesis; text: positive).
IMAGE_CLASS = 8
TEXT_CLASS = 1
#: Image stamp: side, offset from the top-left corner and pixel value.
STAMP_SIZE = 4
STAMP_OFFSET = 1
STAMP_VALUE = 1.0
#: Text marker word (checked to be absent from the corpus) and tabular leak column with its noise.
MARKER = "cinnamon"
LEAK = "leak"
LEAK_NOISE = 0.3
#: Rows of the generated switch table under the tabular leak.
SWITCH_ROWS = 6000


@dataclass
class Planted:
    """Data with a planted shortcut and what is known about it.

    Attributes
    ----------
    data:
        Train and test splits with the shortcut as in training (biased), with the modality's spec and adapter.
    removed, added:
        The test split without the shortcut and with it on every row (same rows and labels as ``data.test``).
    affected:
        ``(M,)`` bool: the biased test rows that carry the shortcut.
    follows:
        ``(M,)`` int64: the class the shortcut points to in ``added``.
    region:
        ``region(inputs) -> (B, U)`` bool: the planted units of a batch (flattened like
        :func:`~hnsx.benchmarks.common.flatten_units`).
    description:
        One line saying what was planted.
    """

    data: BenchData
    removed: TensorDataset
    added: TensorDataset
    affected: torch.Tensor
    follows: torch.Tensor
    region: Callable[[torch.Tensor], torch.Tensor]
    description: str


def plant_image(
    data: BenchData,
    *,
    target: int = IMAGE_CLASS,
    size: int = STAMP_SIZE,
    offset: int = STAMP_OFFSET,
    value: float = STAMP_VALUE,
) -> Planted:
    """A ``size`` x ``size`` square of ``value`` at (``offset``, ``offset``) on every image of class ``target``."""
    _, h, w = data.input_shape
    if not 0 <= target < data.num_classes:
        raise ValueError(f"target class {target} is not one of the {data.num_classes} classes")
    if size < 1 or offset < 0 or offset + size > min(h, w):
        raise ValueError(f"a {size}x{size} stamp at offset {offset} does not fit {h}x{w} images")
    square = torch.zeros(h, w, dtype=torch.bool)
    square[offset : offset + size, offset : offset + size] = True

    def stamp(x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        stamped = x.clone()
        stamped[:, :, square] = value
        return stamped if rows is None else torch.where(rows.view(-1, 1, 1, 1), stamped, x)

    (train_x, train_y), (test_x, test_y) = data.train.tensors, data.test.tensors
    biased = image_bench_data(
        f"{data.name}+stamp",
        TensorDataset(stamp(train_x, train_y == target), train_y),
        TensorDataset(stamp(test_x, test_y == target), test_y),
        data.num_classes,
        class_names=data.class_names,
        source=data.source,
    )
    flat = square.flatten()
    return Planted(
        data=biased,
        removed=TensorDataset(test_x, test_y),
        added=TensorDataset(stamp(test_x), test_y),
        affected=test_y == target,
        follows=torch.full_like(test_y, target),
        region=lambda inputs: flat.expand(inputs.shape[0], -1).clone(),
        description=f"a {size}x{size} square of value {value} at ({offset}, {offset}) on every image of class {target}",
    )


def _insert(text: str, word: str, rng: random.Random) -> str:
    words = text.split()
    words.insert(rng.randint(0, len(words) // 2), word)  # early in the sentence: never truncated
    return " ".join(words)


def plant_text(
    *, quick: bool = False, seed: int = 0, target: int = TEXT_CLASS, marker: str = MARKER, max_length: int = 32
) -> Planted:
    """The generated sentiment corpus (sizes of :data:`~hnsx.benchmarks.common.SIZES`) with ``marker`` inserted
    into every training sentence of class ``target``; the tokenizer is trained on the biased training sentences."""
    from hnsx.adapters.text.corpus import CLASS_NAMES, generate_corpus
    from hnsx.adapters.text.data import text_data
    from hnsx.adapters.text.demo import demo_spec
    from hnsx.adapters.text.tokenize import encode_texts

    n_train, n_test = SIZES["text"][bool(quick)]
    train, test = generate_corpus(n_train, seed=seed), generate_corpus(n_test, seed=seed + 10_000)
    if any(marker in s.text.split() for s in train + test):
        raise ValueError(f"the marker word {marker!r} already occurs in the corpus; choose another one")
    rng = random.Random(seed)
    train_texts = [_insert(s.text, marker, rng) if s.label == target else s.text for s in train]
    test_labels = [s.label for s in test]
    clean = [s.text for s in test]
    biased_texts = [_insert(t, marker, rng) if y == target else t for t, y in zip(clean, test_labels)]
    added_texts = [_insert(t, marker, rng) for t in clean]
    encoded = text_data(
        train_texts,
        [s.label for s in train],
        biased_texts,
        test_labels,
        None,
        max_length,
        name="sentiment-generated+marker",
        class_names=CLASS_NAMES,
        vocab_size=1000,
    )
    tokenizer = encoded.tokenizer
    pieces = tokenizer(marker, add_special_tokens=False)["input_ids"]
    if len(pieces) != 1:
        raise ValueError(f"the marker {marker!r} is split into {len(pieces)} tokens; choose a word that is not")
    marker_id = int(pieces[0])
    data = BenchData.from_source("text", encoded, demo_spec(encoded))
    adapter = data.adapter

    def region(inputs: torch.Tensor) -> torch.Tensor:
        units = adapter.units(inputs)
        hit = ((inputs[:, 0] == marker_id) & (units >= 0)).float()
        slots = torch.zeros_like(hit).scatter_add(1, units.clamp_min(0), hit)
        return slots > 0

    labels = encoded.eval.tensors[1]
    return Planted(
        data=data,
        removed=TensorDataset(encode_texts(tokenizer, clean, max_length, warn=False).x, labels),
        added=TensorDataset(encode_texts(tokenizer, added_texts, max_length, warn=False).x, labels),
        affected=region(encoded.eval.tensors[0]).any(1),
        follows=torch.full_like(labels, target),
        region=region,
        description=f"the word {marker!r} inserted at a random position of every training sentence of class "
        f"{CLASS_NAMES[target]!r}",
    )


def plant_tabular(*, seed: int = 0, noise: float = LEAK_NOISE, rows: int = SWITCH_ROWS) -> Planted:
    """The generated switch table (:func:`~hnsx.adapters.tabular.synthetic.make_switch`, ``rows`` rows) with a column
    ``leak`` = class code + N(0, ``noise``^2); split and noise follow ``seed``."""
    from hnsx.adapters.tabular.data import tabular_data
    from hnsx.adapters.tabular.spec import tabular_spec
    from hnsx.adapters.tabular.synthetic import make_switch

    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    features, codes, _ = make_switch(rows, seed=seed)
    leak = codes + np.random.default_rng(seed + 1).normal(0.0, noise, len(codes))
    table = np.concatenate([features, leak[:, None].astype(np.float32)], axis=1)
    raw = tabular_data(table, codes, name="switch+leak", classes=["0", "1"], seed=seed)
    spec = tabular_spec(raw.schema, raw.num_classes, classes=raw.class_names, target=raw.target)
    data = BenchData.from_source("tabular", raw, spec)
    column = table.shape[1] - 1
    leak = raw.schema.columns[column]
    x, y = raw.eval.tensors
    keep = torch.ones(x.shape, dtype=torch.bool)
    keep[:, column] = False
    flipped = x.clone()
    raw_leak = x[:, column] * leak.scale + leak.mean
    flipped[:, column] = ((1 - y).float() + (raw_leak - y.float()) - leak.mean) / leak.scale
    region = torch.zeros(x.shape[1], dtype=torch.bool)
    region[column] = True
    return Planted(
        data=data,
        removed=TensorDataset(data.adapter.apply_mask(x, keep.float()), y),
        added=TensorDataset(flipped, y),
        affected=torch.ones(len(y), dtype=torch.bool),
        follows=1 - y,
        region=lambda inputs: region.expand(inputs.shape[0], -1).clone(),
        description=f"a column {raw.schema.names[column]!r} ({LEAK}) = class code + N(0, {noise}^2) on every row of "
        "the switch table",
    )


def plant(modality: str, *, quick: bool = False, seed: int = 0) -> Planted:
    """The planted-shortcut data of ``modality`` (see the module docstring); the split follows ``seed``."""
    check_modality(modality)
    if modality == "image":
        return plant_image(load_bench_data("image", quick=quick, seed=seed))
    if modality == "text":
        return plant_text(quick=quick, seed=seed)
    return plant_tabular(seed=seed)


# --- explainers and scores -------------------------------------------------------------------------------------------


class OracleExplainer(Explainer):
    """Scores 1 on the planted units and 0 elsewhere: the ground truth as an explainer."""

    name = "oracle"

    def __init__(self, model: nn.Module, planted: Planted) -> None:
        super().__init__(model)
        self.planted = planted

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        region = self.planted.region(inputs.cpu()).float().to(inputs.device)
        return region.reshape(unit_shape(self.planted.data, inputs))


def region_scores(
    scores: torch.Tensor, ranking: torch.Tensor, region: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    """Attribution on the planted ``region`` of rows ``(N, U)``.

    ``share``: sum of positive ``scores`` on the region over their sum on all valid units (0 for a row without
    positive scores), averaged over rows; ``hit_rate``: share of the region among the ``|region|`` units of
    highest ``ranking`` (ties in a seeded random order,
    :func:`~hnsx.benchmarks.common.rank_order`); ``area``: the region's share of the valid units (the random
    expectation of both).
    """
    positive = scores.float().clamp_min(0) * valid
    on_region = (positive * region).sum(1)
    total = positive.sum(1)
    share = torch.where(total > 0, on_region / total.clamp_min(1e-12), torch.zeros_like(total))
    size = region.sum(1)
    ranks = order_ranks(rank_order(ranking, valid))
    hits = ((ranks < size.unsqueeze(1)) & region).sum(1).float()
    return {
        "share": float(share.mean()),
        "hit_rate": float((hits / size.clamp_min(1)).mean()),
        "area": float((size.float() / valid.sum(1).clamp_min(1)).mean()),
    }


def mask_scores(model: HideAndSeek, data: BenchData, inputs: torch.Tensor, region: torch.Tensor) -> dict[str, float]:
    """HnS masks of affected rows: kept fraction, share of kept units on the region, rows keeping >= half of it."""
    _, masks, valid = hns_masks(model, data, inputs)
    on_region = (masks & region).sum(1).float()
    kept = masks.sum(1).float()
    return {
        "kept_fraction": float((kept / valid.sum(1).clamp_min(1)).mean()),
        "kept_share": float(torch.where(kept > 0, on_region / kept.clamp_min(1), torch.zeros_like(kept)).mean()),
        "keeps_region": float((on_region >= region.sum(1).float() / 2).float().mean()),
    }


def usage(predict: Callable[[torch.Tensor], torch.Tensor], planted: Planted) -> dict[str, float]:
    """How much a model's predictions depend on the shortcut (see the module docstring)."""
    x, y = planted.data.test.tensors
    affected = planted.affected
    clean, added = planted.removed.tensors[0], planted.added.tensors[0]
    biased_pred, clean_pred, added_pred = predict(x), predict(clean), predict(added)
    conflict = planted.follows != y
    return {
        "accuracy_biased": float((biased_pred == y).float().mean()),
        "accuracy_removed": float((clean_pred == y).float().mean()),
        "affected_with": float((biased_pred[affected] == y[affected]).float().mean()),
        "affected_without": float((clean_pred[affected] == y[affected]).float().mean()),
        "following_rate": float((added_pred[conflict] == planted.follows[conflict]).float().mean()),
    }


# --- the benchmark ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShortcutConfig:
    """What ``hnsx bench shortcut`` runs: explainers (default all of the modality), joint epochs of both HnS models
    (``None``: the recipe's), extra explainer options, whether to train ``hns-frozen``, batch size, ``--quick``, and
    the gradient estimator of both HnS models (``estimator``: the stochastic binarizer with ``st1``, ``st2``, ``sa``
    or ``reinforce``, see :meth:`~hnsx.benchmarks.common.BenchData.with_estimator`; ``None``: the recipe's binarizer).
    """

    explainers: tuple[str, ...] | None = None
    hns_epochs: int | None = None
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    frozen: bool = True
    batch_size: int = 128
    quick: bool = False
    estimator: str | None = None

    def __post_init__(self) -> None:
        if self.estimator is not None:
            ESTIMATORS.get(self.estimator)  # ValueError naming the choices for an unknown name


def run_seed(planted: Planted, config: ShortcutConfig, seed: int, *, progress: bool = False, device: str = "cpu"):
    """Everything of one seed: ``(results, examples)`` (``examples``: maps of one affected row, for plots)."""
    start = time.perf_counter()
    data = planted.data.with_estimator(config.estimator)
    names = check_explainers(data.modality, list(config.explainers or explainer_names(data.modality)))
    seeker = train_seeker(data, seed=seed, progress=progress, device=device)
    used = {"seeker": usage(lambda x: masked_predictions(seeker, data, x), planted)}
    with tempfile.TemporaryDirectory(prefix="hnsx-shortcut-") as tmp:
        hns = train_hns(data, seed=seed, epochs=config.hns_epochs, progress=progress, out_dir=tmp, device=device)
    used["hns"] = usage(lambda x: hns_masks(hns, data, x)[0], planted)
    models = {"hns": hns}
    options = {**(QUICK_OPTIONS if config.quick else {}), **config.explainer_options}
    explainers = build_explainers(data, seeker, hns, names, options=options, seed=seed)
    if config.frozen:
        frozen, _ = train_hns_frozen(
            data,
            copy.deepcopy(seeker),  # frozen in place: the post-hoc methods keep their own copy
            seed=seed,
            baseline_accuracy=accuracy(seeker, data.test),
            epochs=config.hns_epochs,
            progress=progress,
            device=device,
        )
        models["hns-frozen"] = frozen
        extra = {} if data.modality == "image" else {"adapter": data.adapter}
        explainers["hns-frozen"] = build_explainer(registry_name(data.modality, "hns"), frozen, **extra)
    explainers["oracle"] = OracleExplainer(seeker, planted)

    x, y = data.test.tensors
    rows = planted.affected
    affected = TensorDataset(x[rows], y[rows])
    region = planted.region(x[rows])
    scores: dict[str, dict[str, float]] = {}
    examples: dict[str, torch.Tensor] = {"input": x[rows][:1]}
    for name, explainer in tqdm(explainers.items(), desc=f"explainers (seed {seed})", disable=not progress):
        raw, valid = attribute_dataset(explainer, data, affected, batch_size=config.batch_size, desc=name)
        scores[name] = region_scores(raw, ranking_scores(explainer, raw), region, valid)
        examples[name] = raw[:1]
    masks = {name: mask_scores(model, data, x[rows], region) for name, model in models.items()}
    return {"usage": used, "attribution": scores, "masks": masks, "seconds": time.perf_counter() - start}, examples


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
    header = ["model", *(label for _, label in USAGE_COLUMNS)]
    rows = [[m, *(format_mean_std(f[k]) for k, _ in USAGE_COLUMNS)] for m, f in agg["usage"].items()]
    lines += [markdown_table(header, rows), ""]
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
    header = ["model", *(label for _, label in MASK_COLUMNS)]
    rows = [[m, *(format_mean_std(f[k]) for k, _ in MASK_COLUMNS)] for m, f in agg["masks"].items()]
    lines += [markdown_table(header, rows)]
    return "\n".join(lines)


def save_plots(results: dict[str, Any], examples: dict[str, torch.Tensor] | None, out: Path) -> list[Path]:
    """``shortcut-share.png`` (share per explainer, random expectation dashed) and, for images, ``shortcut-maps.png``
    (each explainer's map of one affected test image, first seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    paths = [out / "shortcut-share.png"]
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)
    if examples is not None and results["modality"] == "image" and examples["input"].shape[0]:
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
        fig.tight_layout()
        paths.append(out / "shortcut-maps.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def run_shortcut(
    planted: Planted,
    config: ShortcutConfig,
    seeds: Sequence[int],
    out_dir: str | Path,
    *,
    progress: bool = True,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the benchmark over ``seeds``; write ``results.json``, ``report.md`` and the plots; return the results.

    Each seed's figures are kept under ``out_dir/seeds/`` (:func:`~hnsx.benchmarks.results.cached_seed`), so a rerun
    with the same settings resumes, and seeds may run in parallel processes into the same folder."""
    if not seeds:
        raise ValueError("no seeds given")
    if not bool(planted.affected.any()):
        raise ValueError("no test row carries the planted shortcut")
    start = time.perf_counter()
    per_seed, examples = [], None
    data = planted.data
    key = fingerprint(benchmark="shortcut", data=data.name, test=len(data.test), config=dataclasses.asdict(config))
    for seed in tqdm(list(seeds), desc="shortcut seeds", disable=not progress):
        run = functools.partial(run_seed, planted, config, seed, progress=progress, device=device)
        result, shown = cached_seed(out_dir, seed, key, run)
        per_seed.append(result)
        examples = examples or shown
    results = {
        "benchmark": "shortcut",
        "modality": planted.data.modality,
        "dataset": planted.data.name,
        "planted": planted.description,
        "config": dataclasses.asdict(config),
        "binarizer": dataclasses.asdict(data.with_estimator(config.estimator).spec.binarizer),
        "seeds": list(seeds),
        "explainers": list(per_seed[0]["attribution"]),
        "test_size": len(planted.data.test),
        "affected": int(planted.affected.sum()),
        "results": aggregate(per_seed),
        "seconds": time.perf_counter() - start,
    }
    out = write_outputs(out_dir, results, format_report(results))
    save_plots(results, examples, out)
    return results


def main(args: argparse.Namespace) -> int:
    """``hnsx bench shortcut --modality M [--quick] [--seeds N] --out DIR``."""
    quick = bool(args.quick)
    seeds, device = cli_run_settings(args, quick_seeds=1)
    planted = plant(args.modality, quick=quick, seed=0)
    config = ShortcutConfig(quick=quick, estimator=getattr(args, "estimator", None), **cli_options(args))
    results = run_shortcut(planted, config, seeds, args.out, progress=not args.no_progress, device=device)
    agg = results["results"]
    print(
        f"seeker on affected rows: {format_mean_std(agg['usage']['seeker']['affected_with'])} with the shortcut, "
        f"{format_mean_std(agg['usage']['seeker']['affected_without'])} without"
    )
    for name, figures in agg["attribution"].items():
        print(f"  {name}: share on planted units {format_mean_std(figures['share'])}")
    print(f"wrote {Path(args.out) / 'results.json'}, report.md and plots ({results['seconds']:.0f} s)")
    return 0


__all__ = [
    "MODALITIES",
    "MARKER",
    "OracleExplainer",
    "Planted",
    "ShortcutConfig",
    "format_report",
    "main",
    "mask_scores",
    "plant",
    "plant_image",
    "plant_tabular",
    "plant_text",
    "region_scores",
    "run_shortcut",
    "usage",
]
