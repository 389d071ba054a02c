"""``hnsx bench``: benchmarks of Hide-and-Seek against Captum's explainers (the modules of ``hnsx.benchmarks``)."""

from __future__ import annotations

import argparse
import re
import sys
from importlib import import_module

from hnsx.binarizers import ESTIMATORS
from hnsx.cli.options import add_data_options, add_modality_options, check_modality_options
from hnsx.cli.outdir import check_out_dir, os_error_message
from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names

NAME = "bench"
#: ``hnsx bench`` choices; every one but ``all`` is ``hnsx.benchmarks.<module>.main(args) -> int``, found by module
#: name when it runs (the core imports no benchmark module itself).
BENCHMARKS = ("speed", "roar", "kar", "sanity", "faithfulness", "leakage", "shortcut", "rationales", "all")
#: The module of each benchmark under ``hnsx.benchmarks`` (``roar`` runs ROAR and KAR; ``kar`` KAR alone).
BENCH_MODULES = {
    "speed": "speed",
    "roar": "roar",
    "kar": "roar",
    "sanity": "sanity",
    "faithfulness": "faithfulness",
    "leakage": "leakage",
    "shortcut": "shortcut",
    "rationales": "rationales",
}
#: What ``hnsx bench all`` runs, each into ``OUT/<name>/`` (``kar`` is part of ``roar``).
BENCH_ALL = ("roar", "sanity", "faithfulness", "leakage", "shortcut")
#: The benchmarks that take ``--estimator``.
ESTIMATOR_BENCHMARKS = ("shortcut",)
#: The options of the held-out test file, which only ``rationales`` takes: ``(flag, dest)``.
TEST_FILE_OPTIONS = (
    ("--test-file", "test_file"),
    ("--test-limit", "test_limit"),
    ("--evaluator-epochs", "evaluator_epochs"),
)
#: ``hnsx train``'s data options that ``hnsx bench`` takes too (with every modality's own options).
DATA_OPTIONS = ("dataset", "data_file", "data_dir", "download", "limit")
#: The modality options of ``hnsx bench`` (filled by :func:`add_parser`): ``{modality: [(flag, dest, default)]}``.
MODALITY_OPTIONS: dict[str, list[tuple[str, str, object]]] = {}


def add_parser(sub) -> argparse.ArgumentParser:
    bench = sub.add_parser(
        "bench",
        help="benchmarks: what explanations cost and how faithful they are",
        description="Benchmarks of HnS against Captum's explainers. Each writes results.json, report.md and PNG plots "
        "into --out; 'all' runs roar (with KAR), sanity, faithfulness, leakage and shortcut into OUT/<name>/ and "
        "writes a combined report.md.",
    )
    bench.add_argument("benchmark", choices=BENCHMARKS, help="which benchmark ('roar' runs ROAR and KAR)")
    bench.add_argument(
        "--modality",
        choices=modality_names(),
        default=None,
        help=f"default: the --checkpoint run's, else {DEFAULT_MODALITY}",
    )
    bench.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="repetitions with different seeds (default 3; roar and kar: 5, 3 with --quick; "
        "leakage and shortcut --quick: 1)",
    )
    bench.add_argument(
        "--explainers", default=None, help="comma-separated explainers (default: the benchmark's own list)"
    )
    bench.add_argument("--epochs", type=int, default=None, help="epochs of each trained seeker (benchmark default)")
    bench.add_argument("--quick", action="store_true", help="a short run (under 10 minutes on 2 cores; speed: 3)")
    bench.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default %(default)s")
    bench.add_argument("--threads", type=int, default=2, help="torch CPU threads (default %(default)s)")
    bench.add_argument(
        "--jobs", type=int, default=1, help="seeds at once in separate processes, sharing --threads (roar, kar)"
    )
    bench.add_argument(
        "--estimator",
        default=None,
        choices=ESTIMATORS.names(),
        help="shortcut: train its Hide-and-Seek models with the stochastic binarizer and this gradient estimator "
        "(default: the modality's recipe)",
    )
    bench.add_argument("--out", required=True, help="output folder (results.json, report.md)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bars")
    own = bench.add_argument_group(
        "your model and data (faithfulness, sanity, leakage)",
        "hnsx train's data options: the benchmark runs on that data (its test split) instead of the built-in set",
    )
    own.add_argument(
        "--checkpoint",
        default=None,
        help="a run folder (or checkpoint) of hnsx train: its model is explained, with its spec and adapter (the "
        "fill of hidden units; a table's schema) and, for text, its tokenizer",
    )
    own.add_argument("--which", default="best", help="which checkpoint of --checkpoint RUN (default %(default)s)")
    add_data_options(own)
    held_out = bench.add_argument_group(
        "a held-out labelled file (rationales)",
        "rationales scores the --checkpoint run on this file; --data-file is then the run's training file, on which "
        "the independent evaluator trains",
    )
    held_out.add_argument("--test-file", default=None, help="labelled CSV/TSV file (hnsx train's column options)")
    held_out.add_argument("--test-limit", type=int, default=None, help="score N rows of --test-file (a seeded subset)")
    held_out.add_argument(
        "--evaluator-epochs", type=int, default=None, help="epochs of the label-encoding evaluator (0: skip it)"
    )
    MODALITY_OPTIONS.update(add_modality_options(bench))
    return bench


def data_settings(args: argparse.Namespace) -> argparse.Namespace | None:
    """The settings the modality's ``load_data`` reads: ``hnsx train``'s defaults with the data and modality options
    given to ``hnsx bench`` (``None`` when neither a data option nor ``--checkpoint`` was given: built-in data)."""
    given = [d for d in DATA_OPTIONS if getattr(args, d, None) not in (None, False)]
    if not given and getattr(args, "checkpoint", None) is None:
        return None
    from hnsx.cli import train

    parser = argparse.ArgumentParser()
    train.add_parser(parser.add_subparsers())
    settings = parser.parse_args(["train", "--out", args.out, "--modality", args.modality])
    own = set(DATA_OPTIONS) | {dest for flags in MODALITY_OPTIONS.values() for _, dest, _ in flags}
    for dest in own:
        setattr(settings, dest, getattr(args, dest))
    modality = get_modality(args.modality)
    settings.hider = modality.resolve_builder("hider", None)
    settings.seeker = modality.resolve_builder("seeker", None)
    return settings


def _checkpoint_modality(args: argparse.Namespace) -> str | None:
    if getattr(args, "checkpoint", None) is None:
        return None
    from hnsx.training.checkpoint import read_state, resolve_checkpoint

    spec = read_state(resolve_checkpoint(args.checkpoint, getattr(args, "which", "best"))).get("spec") or {}
    return spec.get("modality")


def _bench_module(name: str):
    """``hnsx.benchmarks.<module>`` of benchmark ``name``; ``ValueError`` when it is not installed."""
    module_name = f"hnsx.benchmarks.{BENCH_MODULES[name]}"
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise ValueError(f"the {name} benchmark is not available: this installation has no {module_name}") from None
    if not callable(getattr(module, "main", None)):
        raise ValueError(f"the {name} benchmark is not available: {module_name} has no main(args)")
    return module


def _check_bench_modality(name: str, module, modality: str) -> None:
    supported = getattr(module, "MODALITIES", None)
    if supported is not None and modality not in supported:
        scope = getattr(module, "SCOPE", None)  # what the benchmark measures, in words ("images")
        reason = f" (it runs on {scope} only)" if scope else ""
        raise ValueError(f"the {name} benchmark supports --modality {', '.join(supported)}, not {modality!r}{reason}")


def _check_user_data(name: str, module, args: argparse.Namespace) -> None:
    if getattr(args, "data_settings", None) is not None and not getattr(module, "USER_DATA", False):
        takes = [n for n in BENCH_MODULES if getattr(_bench_module(n), "USER_DATA", False)]
        raise ValueError(
            f"the {name} benchmark runs on the built-in data only; --checkpoint and the data options apply to "
            f"{', '.join(takes)}"
        )


def _run_benchmark(name: str, args: argparse.Namespace) -> int:
    module = _bench_module(name)
    _check_bench_modality(name, module, args.modality)
    _check_user_data(name, module, args)
    return int(module.main(args) or 0)


def _bench_all(args: argparse.Namespace) -> int:
    """Every benchmark of :data:`BENCH_ALL` into ``OUT/<name>/``, then a combined ``OUT/report.md``."""
    from pathlib import Path

    out = Path(args.out)
    rows, sections, failed = [], [], 0
    for name in BENCH_ALL:
        folder = out / name
        run_args = argparse.Namespace(**{**vars(args), "benchmark": name, "out": str(folder)})
        try:
            module = _bench_module(name)
            supported = getattr(module, "MODALITIES", None)
            if supported is not None and args.modality not in supported:
                rows.append((name, f"skipped: supports {', '.join(supported)}"))
                continue
            if args.data_settings is not None and not getattr(module, "USER_DATA", False):
                rows.append((name, "skipped: built-in data only"))
                continue
            code = int(module.main(run_args) or 0)
        except (ValueError, OSError) as err:
            err = os_error_message(err) if isinstance(err, OSError) else err
            print(f"hnsx bench all: {name}: error: {err}", file=sys.stderr)
            rows.append((name, f"error: {err}"))
            failed += 1
            continue
        failed += code != 0
        rows.append((name, "done" if code == 0 else f"exit {code}"))
        report = folder / "report.md"
        if report.is_file():
            title, _, rest = report.read_text().strip().partition("\n")
            body = rest.strip() if title.startswith("# ") else f"{title}\n{rest}"
            heading = title[2:] if title.startswith("# ") else name
            body = ("\n" + body).replace("\n#", "\n##").strip()  # one level down, under this benchmark's heading
            body = re.sub(r"(!\[[^\]]*\]\()([^)/\s]+\))", rf"\1{name}/\2", body)  # images: paths under OUT
            sections.append(f"## {heading}\n\n(files in `{name}/`)\n\n{body}\n")
    table = ["| benchmark | status |", "|:---|:---|", *(f"| {n} | {s} |" for n, s in rows)]
    text = [f"# hnsx bench all --modality {args.modality}" + (" --quick" if args.quick else ""), "", *table, ""]
    out.mkdir(parents=True, exist_ok=True)
    markdown = "\n".join(text + sections) + "\n"
    (out / "report.md").write_text(markdown)
    pages = import_module("hnsx.benchmarks.html")  # by name, as the benchmarks: the core imports none of them
    command = "hnsx " + " ".join(getattr(args, "argv", []) or ["bench", "all"])
    page = pages.render_combined(text[0][2:], markdown, out, [n for n, status in rows if status == "done"], command)
    (out / pages.REPORT_HTML).write_text(page, encoding="utf-8")
    print(f"wrote {out / 'report.md'} and {out / pages.REPORT_HTML}")
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    if args.estimator is not None and args.benchmark not in ESTIMATOR_BENCHMARKS:
        raise ValueError(
            f"--estimator applies to the {', '.join(ESTIMATOR_BENCHMARKS)} benchmark only, not {args.benchmark!r}"
        )
    for flag, dest in TEST_FILE_OPTIONS:
        if getattr(args, dest, None) is not None and args.benchmark != "rationales":
            raise ValueError(f"{flag} applies to the rationales benchmark only, not {args.benchmark!r}")
    if getattr(args, "test_limit", None) is not None and args.test_limit < 1:
        raise ValueError(f"--test-limit must be at least 1, got {args.test_limit}")
    if getattr(args, "evaluator_epochs", None) is not None and args.evaluator_epochs < 0:
        raise ValueError(f"--evaluator-epochs must be 0 (skip) or more, got {args.evaluator_epochs}")
    check_out_dir(args.out)  # before any work: a benchmark computes for minutes before it writes
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():  # before a checkpoint or any data is read
            raise ValueError("--device cuda, but there is no CUDA device on this machine")
    run_modality = _checkpoint_modality(args)
    if run_modality is not None and args.modality not in (None, run_modality):
        raise ValueError(f"--checkpoint {args.checkpoint} holds a {run_modality} model, not --modality {args.modality}")
    args.modality = args.modality or run_modality or DEFAULT_MODALITY
    check_modality_options(args, MODALITY_OPTIONS)
    args.data_settings = data_settings(args)
    import torch

    torch.set_num_threads(args.threads)
    if args.benchmark == "all":
        return _bench_all(args)
    return _run_benchmark(args.benchmark, args)
