"""The marker-word experiment of the contrastive-explanation thesis (section 4.4.3) with contrastive Hide-and-Seek.

A marker word (:data:`hnsx.adapters.text.bench.MARKER`) is inserted into every training sentence of the positive
class of the generated corpus, and into the positive test sentences (:func:`~hnsx.adapters.text.bench.plant_text`,
the data of ``hnsx bench shortcut --modality text``); a classifier trained on it (the benchmark's tiny BERT, seeded)
learns the marker. Three masks of each marker test sentence are compared, all of the same frozen classifier:

* ``contrastive-hns``: the pair hider of :mod:`hnsx.adapters.text.contrastive` (target kept fraction 0.2), asked
  "why positive and not negative?";
* ``hns-frozen``: the single-class Hide-and-Seek mask of a hider trained against the frozen classifier
  (:func:`hnsx.training.evaluator.train_hns_frozen`, the benchmark's recipe; ``--estimator``: the stochastic
  binarizer with that gradient estimator instead, as ``hnsx bench shortcut --estimator``);
* ``random``: as many words as the contrastive mask keeps, drawn uniformly (seeded) among the sentence's words.

Per mask: ``marker`` the share of sentences whose mask keeps the marker, ``kept`` the mean kept fraction of words,
on the positive test sentences (which carry the marker) and, as the thesis tests it, on the negative test sentences
with the marker added that the classifier calls positive. Beside them the classifier's test accuracy with the marker,
the share of positive sentences it still calls positive without the marker, and of negative ones it calls positive
with it. ``--quick``: the 800/200-sentence corpus instead of 3,000/600.

    python -m hnsx.benchmarks.marker_word --seeds 3 --out runs/bench/marker
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch

from hnsx.adapters.text.bench import TEXT_CLASS, plant_text
from hnsx.adapters.text.contrastive import train_text_contrastive
from hnsx.benchmarks.common import accuracy, train_seeker
from hnsx.benchmarks.removal import hns_masks
from hnsx.benchmarks.results import format_mean_std, markdown_table, mean_std
from hnsx.contrastive import DEFAULT_TARGET_KEPT, ContrastiveConfig
from hnsx.training.checkpoint import write_json_atomic
from hnsx.training.evaluator import train_hns_frozen

MASKS = ("contrastive-hns", "hns-frozen", "random")
SETS = ("positive", "flipped")


def random_like(mask: torch.Tensor, valid: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per row as many valid units as ``mask`` keeps ``(N, U)`` bool, drawn uniformly among the valid ones."""
    noise = torch.rand(valid.shape, generator=generator).masked_fill(~valid, 2.0)
    ranks = noise.argsort(1).argsort(1)
    return ranks < (mask & valid).sum(1, keepdim=True)


def mask_figures(mask: torch.Tensor, valid: torch.Tensor, region: torch.Tensor) -> dict[str, float]:
    """``marker``: share of rows whose mask keeps a unit of ``region``; ``kept``: mean kept fraction."""
    mask = mask & valid
    return {
        "marker": float((mask & region).any(1).float().mean()),
        "kept": float((mask.sum(1) / valid.sum(1).clamp_min(1)).float().mean()),
    }


def masks_of(pair, frozen, frozen_data, rows: torch.Tensor, region: torch.Tensor, seed: int) -> dict:
    """The figures of the three masks of ``rows`` for "why positive and not negative"."""
    valid = frozen_data.adapter.valid_units(rows) > 0
    a = torch.full((len(rows),), TEXT_CLASS)
    with torch.no_grad():
        contrastive = pair(rows, a, 1 - a)[1] > 0.5
    single = hns_masks(frozen, frozen_data, rows)[1]
    generator = torch.Generator().manual_seed(seed)
    masks = {"contrastive-hns": contrastive, "hns-frozen": single, "random": random_like(contrastive, valid, generator)}
    return {"rows": len(rows), **{name: mask_figures(m, valid, region) for name, m in masks.items()}}


def run_seed(seed: int, *, quick: bool, epochs: int, estimator: str | None = None) -> dict:
    """Classifier, single-class and contrastive hiders of one seed; the figures of the module docstring on two sets
    of test sentences: ``positive`` (positive sentences, which carry the marker) and ``flipped`` (negative sentences
    with the marker added that the classifier calls positive, the thesis's test)."""
    planted = plant_text(quick=quick, seed=seed)
    data = planted.data
    seeker = train_seeker(data, seed=seed)
    x, y = data.test.tensors
    positive, negative = y == TEXT_CLASS, y != TEXT_CLASS
    added = planted.added.tensors[0][negative]
    with torch.no_grad():
        clean = seeker(planted.removed.tensors[0][positive]).argmax(1)
        flips = seeker(added).argmax(1) == TEXT_CLASS
    figures = {
        "accuracy": accuracy(seeker, data.test),
        "positive_without_marker": float((clean == TEXT_CLASS).float().mean()),
        "negative_with_marker": float(flips.float().mean()),
    }
    frozen_data = data.with_estimator(estimator)
    frozen, _ = train_hns_frozen(frozen_data, copy.deepcopy(seeker), seed=seed, baseline_accuracy=figures["accuracy"])
    config = ContrastiveConfig(target_kept=DEFAULT_TARGET_KEPT, epochs=epochs, seed=seed)
    pair, _ = train_text_contrastive(copy.deepcopy(seeker), data.adapter, data.train, config)
    sets = {"positive": x[planted.affected], "flipped": added[flips]}
    for name, rows in sets.items():
        figures[name] = masks_of(pair, frozen, frozen_data, rows, planted.region(rows), seed)
    return figures


def report(per_seed: list[dict]) -> str:
    """The markdown table of mean ± std over seeds."""

    def stat(values: list[float]) -> str:
        return format_mean_std(mean_std(values))

    rows = [
        [name, *(stat([s[part][name][key] for s in per_seed]) for part in SETS for key in ("marker", "kept"))]
        for name in MASKS
    ]
    header = ["mask", "positive: keeps the marker", "kept", "flipped negative: keeps the marker", "kept"]
    lines = [
        markdown_table(header, rows),
        "",
        f"classifier test accuracy (marker in the positive test sentences): {stat([s['accuracy'] for s in per_seed])}",
        "positive test sentences still called positive without the marker: "
        f"{stat([s['positive_without_marker'] for s in per_seed])}",
        f"negative test sentences called positive once the marker is added: "
        f"{stat([s['negative_with_marker'] for s in per_seed])}",
        "sentences per seed (positive / flipped): "
        + ", ".join(f"{s['positive']['rows']} / {s['flipped']['rows']}" for s in per_seed),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hnsx.benchmarks.marker_word", description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the contrastive hider (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="the 800/200-sentence corpus")
    parser.add_argument("--estimator", default=None, help="hns-frozen's gradient estimator (default: the recipe's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.epochs < 1:
        raise SystemExit("--seeds and --epochs must be at least 1")
    torch.set_num_threads(args.threads)
    per_seed = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for seed in range(args.seeds):
        per_seed.append(run_seed(seed, quick=args.quick, epochs=args.epochs, estimator=args.estimator))
        write_json_atomic(out / "results.json", {"per_seed": per_seed, "args": vars(args)})
        print(f"seed {seed}: {json.dumps(per_seed[-1])}", flush=True)
    text = report(per_seed)
    (out / "report.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
