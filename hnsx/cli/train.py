"""``hnsx train``: train a Hide-and-Seek model of any registered modality."""

from __future__ import annotations

import argparse

from hnsx.binarizers import BINARIZERS, ESTIMATORS
from hnsx.cli import options
from hnsx.cli.options import add_data_options, add_modality_options, add_training_options
from hnsx.cli.outdir import check_out_dir
from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names
from hnsx.training.config import TrainConfig

NAME = "train"
#: The options each modality adds to ``hnsx train`` (filled by :func:`add_parser`): ``(flag, dest, default)``.
MODALITY_OPTIONS: dict[str, list[tuple[str, str, object]]] = {}
#: The ``hnsx train`` parser of the last :func:`add_parser` call (its defaults follow ``--modality``).
PARSERS: dict[str, argparse.ArgumentParser] = {}


def add_parser(sub) -> argparse.ArgumentParser:
    train = sub.add_parser(NAME, help="train a Hide-and-Seek model")
    train.add_argument("--modality", choices=modality_names(), default=DEFAULT_MODALITY, help="default %(default)s")
    add_data_options(train)
    train.add_argument("--hider", default=None, help="hider builder (default: the modality's, e.g. pyramid)")
    train.add_argument("--seeker", default=None, help="seeker builder (default: the modality's, e.g. small-cnn)")
    train.add_argument("--binarizer", choices=BINARIZERS.names(), default="deterministic")
    train.add_argument("--estimator", choices=ESTIMATORS.names(), default=None, help="gradient estimator")
    train.add_argument("--slope-rate", type=float, default=0.5, help="slope growth per epoch for --estimator sa")
    train.add_argument("--slope-cap", type=float, default=100.0, help="largest slope for --estimator sa")
    train.add_argument("--out", required=True, help="run folder (history, checkpoints, metrics.json)")
    run_mode = train.add_mutually_exclusive_group()
    run_mode.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    run_mode.add_argument(
        "--overwrite", action="store_true", help="replace the run in --out (a non-empty --out is refused without it)"
    )
    add_training_options(train, TrainConfig())
    MODALITY_OPTIONS.update(add_modality_options(train))
    PARSERS[NAME] = train
    return train


def apply_modality_defaults(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Before ``parser`` (the ``hnsx train`` parser) parses ``argv``: the defaults of the ``--modality`` named there
    (:attr:`hnsx.modality.Modality.train_defaults`) replace the parser's own."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--modality", default=DEFAULT_MODALITY)
    known, _ = peek.parse_known_args(argv)
    if known.modality in modality_names():  # an unknown name is refused by the real parser
        defaults = get_modality(known.modality).train_defaults_for(argv)
        if any(arg == "--alpha" or arg.startswith("--alpha=") for arg in argv):
            defaults.pop("target_kept", None)  # an alpha given replaces the modality's target, which would replace it
        unknown = set(defaults) - {action.dest for action in parser._actions}
        if unknown:
            raise ValueError(f"the {known.modality} modality's train_defaults name no option: {sorted(unknown)}")
        parser.set_defaults(**defaults)


def check_modality_options(args: argparse.Namespace) -> None:
    """Refuse an option of another modality (``--fill`` with ``--modality tabular``) instead of ignoring it."""
    options.check_modality_options(args, MODALITY_OPTIONS)


def check_run_folder(args: argparse.Namespace) -> None:
    """``--out`` must be writable; a non-empty one needs ``--resume`` (continue it) or ``--overwrite`` (replace it)."""
    out = check_out_dir(args.out)
    if args.resume or args.overwrite or not out.is_dir() or not any(out.iterdir()):
        return
    raise ValueError(
        f"--out {out} is not empty: continue the run there with --resume, replace it with --overwrite, "
        "or choose a new folder"
    )


def run(args: argparse.Namespace) -> int:
    """Check what every modality shares, fill in the modality's default builders, hand over to the modality."""
    modality = get_modality(args.modality)
    check_run_folder(args)
    check_modality_options(args)
    if args.init in ("pretrained-hider", "both") and not modality.pretrains_hider:
        raise ValueError(modality.no_pretraining_message(args.init))
    if args.binarizer == "stochastic" and args.estimator is None:
        raise ValueError(f"--binarizer stochastic needs --estimator ({', '.join(ESTIMATORS.names())})")
    args.hider = modality.resolve_builder("hider", args.hider)
    args.seeker = modality.resolve_builder("seeker", args.seeker)
    config = TrainConfig.build(args)  # refuse bad training settings before any data is read
    status = modality.train(args)
    if status == 0 and config.evaluator_epochs:
        from accelerate import PartialState

        from hnsx.training.evaluator import run_label_check

        if PartialState().is_main_process:
            accuracy = run_label_check(args.out, modality.load_data(args), config, modality.mask_blocks)
            print(f"label-encoding check: the evaluator's accuracy on the run's masks is {accuracy:.4f}")
    return status
