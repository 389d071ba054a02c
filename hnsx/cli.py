"""The ``hnsx`` command line: ``demo``, ``train``, ``explain``, ``bench`` and ``study``.

Run ``hnsx COMMAND --help`` for the options of each. Under ``accelerate launch`` the same commands train on
several processes (``accelerate launch --num_processes 2 --cpu -m hnsx.cli train ...``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from hnsx.binarizers import BINARIZERS, ESTIMATORS
from hnsx.study import ALL, STOCHASTIC_CHOICES, STUDY_NAMES
from hnsx.training.config import INIT_MODES, MIXED_PRECISION, TrainConfig

MODALITIES = ("image", "text", "tabular")
#: ``hnsx bench`` choices; every one but ``all`` is ``hnsx.benchmarks.<module>.main(args) -> int``.
BENCHMARKS = ("speed", "roar", "kar", "sanity", "faithfulness", "leakage", "shortcut", "all")
#: The module of each benchmark under ``hnsx.benchmarks`` (``roar`` runs ROAR and KAR; ``kar`` KAR alone).
BENCH_MODULES = {
    "speed": "speed",
    "roar": "roar",
    "kar": "roar",
    "sanity": "sanity",
    "faithfulness": "faithfulness",
    "leakage": "leakage",
    "shortcut": "shortcut",
}
#: What ``hnsx bench all`` runs, each into ``OUT/<name>/`` (``kar`` is part of ``roar``).
BENCH_ALL = ("roar", "sanity", "faithfulness", "leakage", "shortcut")
#: The benchmarks that take ``--estimator``.
ESTIMATOR_BENCHMARKS = ("shortcut",)


def _modality_command(modality: str, command: str) -> Callable[[argparse.Namespace], int]:
    """The ``command`` function of a non-image modality: ``hnsx.adapters.<modality>.cli.<command>(args)``."""
    module = import_module(f"hnsx.adapters.{modality}.cli")
    return getattr(module, command)


def _alpha(value: str) -> float | str:
    if value.strip().lower() == "adaptive":
        return "adaptive"
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"alpha must be a number in [0, 1] or 'adaptive', got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"alpha must lie in [0, 1], got {value}")
    return number


def _add_training_options(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=defaults.epochs, help="epoch budget (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default %(default)s")
    g.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate (default %(default)s)")
    g.add_argument(
        "--alpha", type=_alpha, default=defaults.alpha, help="constant in [0, 1] or 'adaptive' (default %(default)s)"
    )
    g.add_argument("--init", choices=INIT_MODES, default=defaults.init, help="default %(default)s")
    g.add_argument("--pretrain-epochs", type=int, default=defaults.pretrain_epochs, help="default %(default)s")
    g.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    g.add_argument("--mixed-precision", choices=MIXED_PRECISION, default=defaults.mixed_precision)
    g.add_argument("--cpu", action="store_true", help="train on the CPU even if CUDA is available")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hnsx", description="Hide-and-Seek: models that explain themselves.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="train on offline data of a modality and write metrics and figures")
    demo.add_argument("--modality", choices=MODALITIES, default="image", help="default %(default)s")
    demo.add_argument("--out", default="runs/demo", help="output folder (default %(default)s)")
    demo.add_argument("--epochs", type=int, default=None, help="epochs of Hide-and-Seek training")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")

    train = sub.add_parser("train", help="train a Hide-and-Seek model")
    train.add_argument("--modality", choices=MODALITIES, default="image", help="default %(default)s")
    train.add_argument("--dataset", default=None, help="dataset name (image default: mnist-embedded)")
    train.add_argument("--data-file", default=None, help="a local CSV/TSV file (text and tabular)")
    train.add_argument("--target", default=None, help="label column of --data-file (tabular)")
    train.add_argument("--classes", default=None, help="class order of a text label column: A,B,... (tabular)")
    train.add_argument("--categorical", default=None, help="extra categorical columns of --data-file: C1,C2,...")
    train.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    train.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    train.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    train.add_argument("--hider", default="pyramid", help="hider builder (default %(default)s)")
    train.add_argument("--hider-size", choices=("small", "large"), default=None, help="conv-autoencoder size")
    train.add_argument("--seeker", default="small-cnn", help="seeker builder (default %(default)s)")
    train.add_argument("--binarizer", choices=BINARIZERS.names(), default="deterministic")
    train.add_argument("--estimator", choices=ESTIMATORS.names(), default=None, help="gradient estimator")
    train.add_argument("--slope-rate", type=float, default=0.5, help="slope growth per epoch for --estimator sa")
    train.add_argument("--slope-cap", type=float, default=100.0, help="largest slope for --estimator sa")
    train.add_argument("--fill", choices=("zero", "mean", "blur"), default="zero", help="what hidden pixels become")
    train.add_argument("--out", required=True, help="run folder (history, checkpoints, metrics.json)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _add_training_options(train, TrainConfig())
    from hnsx.adapters.text.cli import add_text_options

    add_text_options(train)

    bench = sub.add_parser(
        "bench",
        help="benchmarks: what explanations cost and how faithful they are",
        description="Benchmarks of HnS against Captum's explainers. Each writes results.json, report.md and PNG plots "
        "into --out; 'all' runs roar (with KAR), sanity, faithfulness, leakage and shortcut into OUT/<name>/ and "
        "writes a combined report.md.",
    )
    bench.add_argument("benchmark", choices=BENCHMARKS, help="which benchmark ('roar' runs ROAR and KAR)")
    bench.add_argument("--modality", choices=MODALITIES, default="image", help="default %(default)s")
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

    study = sub.add_parser("study", help="rerun the paper's multi-seed studies (section 6): tables and figures")
    study.add_argument("study", choices=(*STUDY_NAMES, ALL), help="which study")
    study.add_argument("--dataset", default="mnist-embedded", help="image dataset (default %(default)s)")
    study.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    study.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    study.add_argument("--seeds", type=int, default=None, help="runs per configuration (default 10, --quick 2)")
    study.add_argument("--epochs", type=int, default=None, help="epochs per run (default 6, --quick 1)")
    study.add_argument("--pretrain-epochs", type=int, default=None, help="pretraining epochs (default 2, --quick 1)")
    study.add_argument("--alpha", type=_alpha, default=0.5, help="constant in [0, 1] or 'adaptive' (default 0.5)")
    study.add_argument("--batch-size", type=int, default=64, help="default %(default)s")
    study.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default %(default)s)")
    study.add_argument("--hider", default=None, help="hider builder (default: that of hnsx train)")
    study.add_argument("--seeker", default=None, help="seeker builder (default: that of hnsx train)")
    study.add_argument(
        "--stochastic", choices=STOCHASTIC_CHOICES, default="auto", help="thresholding's stochastic estimator"
    )
    study.add_argument(
        "--evaluator-epochs",
        type=int,
        default=None,
        help="epochs of the label-encoding evaluator, one per seed; 0: no check (default 8, --quick 1)",
    )
    study.add_argument("--jobs", type=int, default=1, help="runs at once, in separate processes (default 1)")
    study.add_argument("--threads", type=int, default=None, help="torch threads per run (default: cores / jobs)")
    study.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 1 epoch, 600 training images")
    study.add_argument("--out", required=True, help="study folder (runs/, results.json, report.md, figures)")
    study.add_argument("--no-progress", action="store_true", help="no progress bar")

    explain = sub.add_parser("explain", help="explain inputs with a trained model (image files, or sentences)")
    explain.add_argument("--checkpoint", required=True, help="a run folder or a checkpoint folder")
    explain.add_argument("--which", choices=("best", "latest"), default="best", help="checkpoint of a run folder")
    explain.add_argument("--out", default="explanations", help="output folder (default %(default)s)")
    explain.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, or sentences for a text model")
    return parser


def _config_from(args: argparse.Namespace, **overrides) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        alpha=args.alpha,
        init=args.init,
        pretrain_epochs=args.pretrain_epochs,
        seed=args.seed,
        mixed_precision=args.mixed_precision,
        cpu=args.cpu,
        progress=not args.no_progress,
        **overrides,
    )


def cmd_train(args: argparse.Namespace) -> int:
    if args.modality != "image":
        return _modality_command(args.modality, "train")(args)
    if args.data_file is not None:
        raise ValueError("--data-file applies to --modality text and tabular; images come from --dataset")
    args.dataset = args.dataset or "mnist-embedded"
    from hnsx.data import DATASETS, TORCHVISION_DATASETS, channel_mean, load_dataset
    from hnsx.pipeline import run_training
    from hnsx.spec import image_spec

    DATASETS.get(args.dataset)  # an unknown name fails here, listing the choices
    if args.limit is not None and args.dataset not in TORCHVISION_DATASETS:
        raise ValueError(
            f"--limit applies to the torchvision datasets ({', '.join(TORCHVISION_DATASETS)}); "
            f"{args.dataset!r} is always used whole"
        )
    kwargs = {"limit": args.limit} if args.limit is not None else {}
    data = load_dataset(args.dataset, data_dir=args.data_dir, download=args.download, seed=args.seed, **kwargs)
    estimator_kwargs = {"rate": args.slope_rate, "cap": args.slope_cap} if args.estimator == "sa" else {}
    if args.binarizer == "stochastic" and args.estimator is None:
        raise ValueError("--binarizer stochastic needs --estimator (st1, st2, sa or reinforce)")
    if args.hider_size and args.hider != "conv-autoencoder":
        raise ValueError(f"--hider-size applies to --hider conv-autoencoder, not {args.hider!r}")
    spec = image_spec(
        data.input_shape,
        data.num_classes,
        hider=args.hider,
        hider_kwargs={"size": args.hider_size} if args.hider_size else None,
        seeker=args.seeker,
        binarizer=args.binarizer,
        estimator=args.estimator,
        estimator_kwargs=estimator_kwargs,
        fill=args.fill,
        mean=channel_mean(data.train) if args.fill == "mean" else None,
    )
    result = run_training(data, spec, _config_from(args), args.out, resume=args.resume)
    if not result.fit.is_main_process:
        return 0
    print_summary(result.metrics)
    print(f"wrote {args.out}/metrics.json, history.jsonl and checkpoints/")
    return 0


def print_summary(metrics: dict) -> None:
    rows = [
        ("accuracy (HnS, masked)", metrics["accuracy"]),
        ("baseline accuracy (seeker alone)", metrics["baseline_accuracy"]),
        ("Fidelity F", metrics["fidelity"]),
        ("Interpretability I", metrics["interpretability"]),
        ("FIR", metrics["fir"]),
        ("FII", metrics["fii"]),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'metric'.ljust(width)}  value")
    print(f"{'-' * width}  ------")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value:.4f}")
    print(f"{'collapsed'.ljust(width)}  {metrics['collapsed']}")
    print(f"{'epochs / seconds'.ljust(width)}  {metrics['epochs']} / {metrics['seconds']:.0f}\n")


def cmd_demo(args: argparse.Namespace) -> int:
    if args.modality != "image":
        return _modality_command(args.modality, "demo")(args)
    from hnsx.demo import run_demo

    metrics = run_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    print_summary(metrics)
    print(f"wrote {args.out}/metrics.json, history.jsonl, masks.png, curves.png")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from hnsx.explain import explain_files, load_trained

    model = load_trained(args.checkpoint, which=args.which)
    if model.adapter.name != "image":
        return _modality_command(model.adapter.name, "explain")(args, model)
    for record in explain_files(model, args.inputs, args.out):
        print(
            f"{record['image']}: class {record['prediction']} ({record['confidence']:.1%}), "
            f"kept {record['kept']:.1%} -> {record['overlay']}"
        )
    return 0


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
        raise ValueError(f"the {name} benchmark supports --modality {', '.join(supported)}, not {modality!r}")


def _run_benchmark(name: str, args: argparse.Namespace) -> int:
    module = _bench_module(name)
    _check_bench_modality(name, module, args.modality)
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
            code = int(module.main(run_args) or 0)
        except (ValueError, FileNotFoundError) as err:
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
            sections.append(f"## {heading}\n\n(files in `{name}/`)\n\n{body}\n")
    table = ["| benchmark | status |", "|:---|:---|", *(f"| {n} | {s} |" for n, s in rows)]
    text = [f"# hnsx bench all --modality {args.modality}" + (" --quick" if args.quick else ""), "", *table, ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text("\n".join(text + sections) + "\n")
    print(f"wrote {out / 'report.md'}")
    return 1 if failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
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
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda, but there is no CUDA device on this machine")
    if args.benchmark == "speed" and args.modality != "image":
        raise ValueError(f"the speed benchmark runs on images only, not --modality {args.modality}")
    import torch

    torch.set_num_threads(args.threads)
    if args.benchmark == "all":
        return _bench_all(args)
    return _run_benchmark(args.benchmark, args)


def cmd_study(args: argparse.Namespace) -> int:
    from hnsx.study import StudySettings, quick_settings, run_study

    chosen = {
        "alpha": args.alpha,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "hider": args.hider,
        "seeker": args.seeker,
        "data_dir": args.data_dir,
        "download": args.download,
    }
    optional = (
        ("epochs", args.epochs),
        ("pretrain_epochs", args.pretrain_epochs),
        ("evaluator_epochs", args.evaluator_epochs),
    )
    chosen.update({k: v for k, v in optional if v is not None})
    settings = quick_settings(args.dataset, **chosen) if args.quick else StudySettings(dataset=args.dataset, **chosen)
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 10)
    results = run_study(
        [args.study],
        args.out,
        settings,
        seeds=seeds,
        stochastic=args.stochastic,
        jobs=args.jobs,
        threads=args.threads,
        progress=not args.no_progress,
    )
    print(f"{len(results['runs'])} finished runs in {args.out}; wrote results.json, report.md and figures")
    return 0


COMMANDS = {"train": cmd_train, "demo": cmd_demo, "explain": cmd_explain, "bench": cmd_bench}
COMMANDS["study"] = cmd_study


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as err:  # bad input: one clear line, no traceback
        print(f"hnsx {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
