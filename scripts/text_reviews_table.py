"""HnS against Captum on real review text: train per domain and seed, benchmark on each domain's test file, one table.

Per domain and seed (docs/text-reviews.md):

1. ``hnsx train --modality text`` with the text modality's defaults on ``DATA/<domain>/train.tsv`` (only the data
   options, ``--max-length 128 --batch-size 32`` and ``--seed S``) into ``OUT/<domain>/seed-S/run``;
   with ``--seeker minilm`` instead: ``scripts/finetune_text.py --model-name minilm`` on the same file and seed into
   ``OUT/<domain>/seed-S/minilm``, then ``hnsx train ... --model-name that-folder --freeze-seeker
   --hider-reads-seeker`` (the frozen fine-tuned MiniLM is explained by a hider that reads its hidden states, layer 4
   of 6 by default; its held-out accuracy is the Fidelity baseline); ``--finetune-args`` adds fine-tuning options
   (``'--mask-words 0.5'``: half the training texts with words hidden at random);
2. ``hnsx bench rationales`` of that run on ``DATA/<domain>/test-labeled.tsv`` into ``OUT/<domain>/seed-S/bench``
   (the independent evaluator trained on ``train.tsv``);
3. ``OUT/summary.md`` and ``OUT/summary.json``: every figure per method, mean over the seeds and per seed.

Resumable: a run with its ``metrics.json`` and a benchmark with its ``results.json`` are not redone (an unfinished
run folder is replaced). ``--lane I/N`` takes every N-th job from the I-th (0-based), so that N processes share the
work; jobs go seed by seed, domain by domain. ``--summary-only`` writes the table of what has finished::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/text_reviews_table.py --domains kitchen electronics books \\
        --seeds 0 1 2 --out runs/text-reviews
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hnsx.training.checkpoint import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data/reviews")
COLUMNS = ["--text-column", "sentence", "--label-column", "label", "--tsv-quotes"]
SHAPE = ["--max-length", "128", "--batch-size", "32"]
#: The summary's figures: (results key, column title); each is a mean over the test documents.
FIGURES = (
    ("masked_accuracy", "masked acc."),
    ("relative_accuracy", "/ full acc."),
    ("kept_fraction", "kept"),
    ("sufficiency", "suff. ↓"),
    ("comprehensiveness", "comp. ↑"),
    ("lexicon_precision", "lexicon P"),
    ("evaluator_accuracy", "evaluator acc."),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the review domains (default %(default)s)")
    parser.add_argument("--domains", nargs="+", default=["kitchen", "electronics", "books"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--seeker", choices=("scratch", "minilm"), default="scratch", help="default %(default)s")
    parser.add_argument(
        "--finetune-epochs", type=float, default=2.0, help="MiniLM fine-tuning epochs (--seeker minilm)"
    )
    parser.add_argument(
        "--finetune-args",
        default="",
        help="more finetune_text.py options (--seeker minilm), one string: --finetune-args='--mask-words 0.5'",
    )
    parser.add_argument(
        "--train-args",
        default="",
        help="more hnsx train options for every run, one string: --train-args='--leak-free'; use a separate --out",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="benchmark a seeded subset of N test reviews (the benchmark's --test-limit)",
    )
    parser.add_argument("--evaluator-epochs", type=int, default=None, help="the benchmark's (default: its own)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every step (default %(default)s)")
    parser.add_argument("--lane", default="0/1", help="I/N: this process does jobs I, I+N, ... (default %(default)s)")
    parser.add_argument("--summary-only", action="store_true", help="write the table of the finished runs and stop")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def hnsx(*argv: str) -> list[str]:
    return [str(Path(sys.executable).with_name("hnsx")), *argv]


def run_step(command: list[str], log: Path) -> None:
    """Run ``command``, its output into ``log``; ``RuntimeError`` naming the log when it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"$ {' '.join(command)}  (log {log})", flush=True)
    start = time.perf_counter()
    with open(log, "w") as fh:
        fh.write("$ " + " ".join(command) + "\n")
        fh.flush()
        code = subprocess.call(command, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    if code != 0:
        raise RuntimeError(f"exit {code} after {time.perf_counter() - start:.0f} s: see {log}")
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)


def train_commands(args: argparse.Namespace, domain: str, seed: int, folder: Path) -> list[tuple[list[str], Path]]:
    """The commands that make ``folder/run`` (and, for MiniLM, ``folder/minilm`` first), each with its log."""
    train_file = str(args.data / domain / "train.tsv")
    data = ["--data-file", train_file, *COLUMNS]
    common = ["train", "--modality", "text", *data, *SHAPE, "--seed", str(seed), "--no-progress"]
    common += shlex.split(args.train_args)
    if args.seeker == "scratch":
        return [(hnsx(*common, "--out", str(folder / "run")), folder / "train.log")]
    tuned = folder / "minilm"
    finetune = [sys.executable, str(REPO / "scripts" / "finetune_text.py"), *data, "--model-name", "minilm"]
    finetune += ["--max-length", "128", "--epochs", str(args.finetune_epochs), "--seed", str(seed)]
    finetune += ["--threads", str(args.threads), *shlex.split(args.finetune_args), "--out", str(tuned)]
    steps = [] if (tuned / "config.json").is_file() else [(finetune, folder / "finetune.log")]
    chosen = "--share-embeddings" in common or "--hider-reads-seeker" in common  # --train-args picked the reading
    reading = [] if chosen else ["--hider-reads-seeker"]
    explain = hnsx(*common, "--model-name", str(tuned), "--freeze-seeker", *reading, "--out", str(folder / "run"))
    return [*steps, (explain, folder / "train.log")]


def bench_command(args: argparse.Namespace, domain: str, folder: Path) -> list[str]:
    command = hnsx("bench", "rationales", "--checkpoint", str(folder / "run"))
    command += ["--data-file", str(args.data / domain / "train.tsv")]
    command += ["--test-file", str(args.data / domain / "test-labeled.tsv"), *COLUMNS]
    if args.limit is not None:
        command += ["--test-limit", str(args.limit)]
    if args.evaluator_epochs is not None:
        command += ["--evaluator-epochs", str(args.evaluator_epochs)]
    return command + ["--threads", str(args.threads), "--no-progress", "--out", str(folder / "bench")]


def do_job(args: argparse.Namespace, domain: str, seed: int) -> None:
    folder = args.out / domain / f"seed-{seed}"
    run = folder / "run"
    if not (run / "metrics.json").is_file():
        if run.exists():
            shutil.rmtree(run)  # an unfinished run: start it again
        for command, log in train_commands(args, domain, seed, folder):
            run_step(command, log)
    if not (folder / "bench" / "results.json").is_file():
        run_step(bench_command(args, domain, folder), folder / "bench.log")


def fmt(values: list[float]) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ({' / '.join(f'{v:.3f}' for v in values)})"


def target_line(figures: dict) -> str:
    """Issue 19's target on the seed means: HnS keeps <= 30 % of the words, its masked accuracy is >= 0.95 of the
    full accuracy, and its kept words are at least as sufficient (sufficiency <= IG's) and at least as
    sentiment-bearing (lexicon precision >= IG's) as Integrated Gradients' top-k."""

    def mean(method: str, key: str) -> float:
        values = figures[method][key]
        return sum(values) / len(values)

    checks = {
        "kept <= 0.30": mean("hns", "kept_fraction") <= 0.30,
        "masked / full accuracy >= 0.95": mean("hns", "relative_accuracy") >= 0.95,
        "sufficiency <= IG's": mean("hns", "sufficiency") <= mean("integrated-gradients", "sufficiency"),
        "lexicon precision >= IG's": mean("hns", "lexicon_precision")
        >= mean("integrated-gradients", "lexicon_precision"),
    }
    met = "met" if all(checks.values()) else "not met"
    return f"Target (seed means): {met}: " + "; ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in checks.items())


def summary(args: argparse.Namespace) -> str:
    """``OUT/summary.md`` and ``OUT/summary.json`` of the finished benchmarks; returns the markdown."""
    from hnsx.benchmarks.results import markdown_table

    found: dict = {}
    for domain in args.domains:
        for seed in args.seeds:
            path = args.out / domain / f"seed-{seed}" / "bench" / "results.json"
            if path.is_file():
                found.setdefault(domain, {})[seed] = json.loads(path.read_text())
    lines = [
        f"# HnS against Captum on review text ({args.seeker} seeker)",
        "",
        "Mean over the seeds, per seed in brackets (seeds in order). Each figure is a mean over the test documents.",
        "",
    ]
    table: dict = {}
    for domain, per_seed in found.items():
        seeds = sorted(per_seed)
        first = per_seed[seeds[0]]
        full = [per_seed[s]["full_accuracy"] for s in seeds]
        lines += [f"## {domain}: seeds {', '.join(map(str, seeds))}; {first['documents']} test reviews", ""]
        lines += [f"Full accuracy of the run's seeker: {fmt(full)}", ""]
        table[domain] = {
            method: {k: [per_seed[s]["methods"][method][k] for s in seeds] for k, _ in FIGURES}
            for method in first["methods"]
        }
        rows = [[method, *(fmt(values[k]) for k, _ in FIGURES)] for method, values in table[domain].items()]
        lines.append(markdown_table(["method", *(title for _, title in FIGURES)], rows))
        lines += ["", target_line(table[domain]), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "summary.json", {"seeker": args.seeker, "figures": table})
    text = "\n".join(lines) + "\n"
    (args.out / "summary.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out = args.out.resolve()  # the steps run in the repository root
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled MiniLM: nothing is downloaded
    lane, lanes = (int(v) for v in args.lane.split("/"))
    if not 0 <= lane < lanes:
        raise SystemExit(f"--lane must be I/N with 0 <= I < N, got {args.lane}")
    if not args.summary_only:
        jobs = [(d, s) for s in args.seeds for d in args.domains][lane::lanes]
        for domain in args.domains:
            if not (args.data / domain / "train.tsv").is_file():
                raise SystemExit(f"no {args.data / domain / 'train.tsv'}")
        failed = []
        for domain, seed in jobs:
            try:
                do_job(args, domain, seed)
            except RuntimeError as err:
                print(f"{domain} seed {seed}: {err}", flush=True)
                failed.append((domain, seed))
        if failed:
            print(f"failed: {failed}", flush=True)
    print(summary(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
