"""The text demo with other settings, and where its errors come from (issue 19: the demo's bar on seeds 0-2).

Trains ``hnsx demo --modality text`` (:func:`hnsx.adapters.text.demo.run_text_demo`'s data, spec and config) with
``TrainConfig`` fields replaced (``--config '{"target_kept": 0.2, "epochs": 12}'``), the hider reading the seeker's
embeddings or hidden states (``--reading share|read``), another gradient estimator (``--estimator st2``) or more
training sentences (``--n-train``). For the last and the best epoch (the demo's rule: highest FII among the epochs
that did not collapse) it prints one JSON line with, on the 800 eval sentences:

* ``accuracy``, ``kept`` (mean kept fraction), rationale ``precision`` / ``recall`` / ``f1``;
* ``errors_rationale_kept`` / ``errors_rationale_hidden``: wrong predictions whose rationale words (sentiment word
  and negator) were all kept, or not: a hider miss or a seeker miss;
* ``negated_rationale_hidden``: negated sentences with a rationale word hidden;
* ``by_position``: per word position, how many sentences have a rationale word there, how many of those are kept,
  and how many non-rationale words there are kept (a hider that keeps by position shows here).

Run from the repository root (about 95 s per run on one idle core, 4,000 sentences)::

    .venv/bin/python scripts/text_demo_recipes.py --seed 2 --reading share \\
        --config '{"target_kept": 0.2, "epochs": 12}' --out /tmp/recipes/s2-share
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from hnsx.adapters.text import demo
from hnsx.adapters.text.data import generated_data
from hnsx.adapters.text.rationale import Explained, explain_encoded, rationale_scores
from hnsx.adapters.text.spec import read_seeker
from hnsx.adapters.text.tokenize import CLASSES_FILE, save_tokenizer
from hnsx.pipeline import run_training
from hnsx.training.checkpoint import write_json_atomic


def error_analysis(explained: Explained, labels: torch.Tensor, gold: torch.Tensor) -> dict:
    """Accuracy, kept fraction, rationale scores and where the errors come from (see the module docstring)."""
    valid = explained.valid
    mask = explained.mask * valid
    gold = gold.float() * valid
    all_kept = (gold * mask).sum(1) == gold.sum(1)
    wrong = explained.prediction != labels
    negated = gold.sum(1) == 2
    by_position = []
    for pos in range(int(valid.sum(1).max())):
        here = gold[:, pos] > 0
        by_position.append(
            {
                "rationale": int(here.sum()),
                "rationale_kept": int((here & (mask[:, pos] > 0)).sum()),
                "other_kept": int((~here & (mask[:, pos] > 0)).sum()),
            }
        )
    scores = rationale_scores(explained.mask, valid, gold)
    return {
        "accuracy": float((~wrong).float().mean()),
        "kept": float((mask.sum(1) / valid.sum(1)).mean()),
        "precision": scores["rationale_precision"],
        "recall": scores["rationale_recall"],
        "f1": scores["rationale_f1"],
        "errors_rationale_kept": int((wrong & all_kept).sum()),
        "errors_rationale_hidden": int((wrong & ~all_kept).sum()),
        "negated_rationale_hidden": int((negated & ~all_kept).sum()),
        "negated": int(negated.sum()),
        "by_position": by_position,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--config", default="{}", help="TrainConfig fields over demo_config's, as JSON")
    parser.add_argument(
        "--reading",
        choices=["own", "share", "read"],
        default="own",
        help="the hider's token features: its own embeddings, the seeker's, or the seeker's hidden states",
    )
    parser.add_argument(
        "--read-layer", type=int, default=None, help="with --reading read: the seeker's layer (default: hnsx's)"
    )
    parser.add_argument("--estimator", default="st1", help="gradient estimator of the stochastic binarizer")
    parser.add_argument("--n-train", type=int, default=demo.DEMO_TRAIN)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = generated_data(args.n_train, demo.DEMO_EVAL, seed=args.seed, max_length=demo.MAX_LENGTH)
    spec = demo.demo_spec(data, estimator=args.estimator)
    if args.reading != "own":
        spec = read_seeker(spec, args.reading == "share", args.reading == "read", args.read_layer)
    config = dataclasses.replace(demo.demo_config(None, args.seed, False), **json.loads(args.config))
    result = run_training(data, spec, config, args.out)
    save_tokenizer(data.tokenizer, args.out)
    write_json_atomic(args.out / CLASSES_FILE, {"class_names": data.class_names})
    x, labels = data.eval.tensors
    record = {"seed": args.seed, "config": json.loads(args.config), "reading": args.reading,
              "estimator": args.estimator, "n_train": args.n_train}  # fmt: skip
    record["last"] = error_analysis(explain_encoded(result.model, x), labels, data.eval_rationale)
    best = demo.best_metrics(result, args.out)
    record["best_epoch"] = best.get("best_epoch")
    record["best"] = error_analysis(explain_encoded(result.model, x), labels, data.eval_rationale)
    record["seconds"] = round(time.perf_counter() - start)
    write_json_atomic(args.out / "recipe.json", record)
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
