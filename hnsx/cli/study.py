"""``hnsx study``: the paper's multi-seed studies (section 6), tables and figures."""

from __future__ import annotations

import argparse

from hnsx.cli.options import alpha_value
from hnsx.cli.outdir import check_out_dir
from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names
from hnsx.study import ALL, STOCHASTIC_CHOICES, STUDY_NAMES

NAME = "study"


def add_parser(sub) -> argparse.ArgumentParser:
    study = sub.add_parser("study", help="rerun the paper's multi-seed studies (section 6): tables and figures")
    study.add_argument("study", choices=(*STUDY_NAMES, ALL), help="which study")
    study.add_argument("--modality", choices=modality_names(), default=DEFAULT_MODALITY, help="default %(default)s")
    study.add_argument("--dataset", default=None, help="a data set of the modality (default: that of hnsx train)")
    study.add_argument("--train-limit", type=int, default=None, help="use only the first N training inputs")
    study.add_argument("--eval-limit", type=int, default=None, help="use only the first N evaluation inputs")
    study.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    study.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    study.add_argument("--seeds", type=int, default=None, help="runs per configuration (default 10, --quick 2)")
    study.add_argument("--epochs", type=int, default=None, help="epochs per run (default 6, --quick 1)")
    study.add_argument("--pretrain-epochs", type=int, default=None, help="pretraining epochs (default 2, --quick 1)")
    study.add_argument("--alpha", type=alpha_value, default=0.5, help="constant in [0, 1] or 'adaptive' (default 0.5)")
    study.add_argument(
        "--target-kept", type=float, default=None, metavar="R", help="every run aims at this kept fraction in (0, 1)"
    )
    study.add_argument("--leak-free", action="store_true", help="every run in the leak-free (REAL-X) mode")
    study.add_argument(
        "--complement-weight", type=float, default=0.0, metavar="W", help="complement control's weight (default 0)"
    )
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
    study.add_argument(
        "--configs",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these configurations (names as in the report's runs, e.g. objective-hard-concrete)",
    )
    study.add_argument("--jobs", type=int, default=1, help="runs at once, in separate processes (default 1)")
    study.add_argument("--threads", type=int, default=None, help="torch threads per run (default: cores / jobs)")
    study.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 1 epoch, 600 training images")
    study.add_argument("--out", required=True, help="study folder (runs/, results.json, report.md, figures)")
    study.add_argument("--no-progress", action="store_true", help="no progress bar")
    return study


def run(args: argparse.Namespace) -> int:
    from hnsx.study import StudySettings, quick_settings, run_study

    check_out_dir(args.out)
    dataset = args.dataset or get_modality(args.modality).default_dataset
    chosen = {
        "modality": args.modality,
        "alpha": args.alpha,
        "target_kept": args.target_kept,
        "leak_free": args.leak_free,
        "complement_weight": args.complement_weight,
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
        ("train_limit", args.train_limit),
        ("eval_limit", args.eval_limit),
    )
    chosen.update({k: v for k, v in optional if v is not None})
    settings = quick_settings(dataset, **chosen) if args.quick else StudySettings(dataset=dataset, **chosen)
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
        configs=args.configs,
    )
    print(f"{len(results['runs'])} finished runs in {args.out}; wrote results.json, report.md and figures")
    return 0
