"""``hnsx train``: train a Hide-and-Seek model of any registered modality."""

from __future__ import annotations

import argparse

from hnsx.binarizers import BINARIZERS, ESTIMATORS
from hnsx.cli.options import add_training_options
from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names
from hnsx.training.config import TrainConfig

NAME = "train"


def add_parser(sub) -> argparse.ArgumentParser:
    train = sub.add_parser(NAME, help="train a Hide-and-Seek model")
    train.add_argument("--modality", choices=modality_names(), default=DEFAULT_MODALITY, help="default %(default)s")
    train.add_argument("--dataset", default=None, help="dataset name (default: the modality's, e.g. mnist-embedded)")
    train.add_argument("--data-file", default=None, help="a local CSV/TSV file (text and tabular)")
    train.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    train.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    train.add_argument("--limit", type=int, default=None, help="use at most this many training inputs")
    train.add_argument("--hider", default=None, help="hider builder (default: the modality's, e.g. pyramid)")
    train.add_argument("--seeker", default=None, help="seeker builder (default: the modality's, e.g. small-cnn)")
    train.add_argument("--binarizer", choices=BINARIZERS.names(), default="deterministic")
    train.add_argument("--estimator", choices=ESTIMATORS.names(), default=None, help="gradient estimator")
    train.add_argument("--slope-rate", type=float, default=0.5, help="slope growth per epoch for --estimator sa")
    train.add_argument("--slope-cap", type=float, default=100.0, help="largest slope for --estimator sa")
    train.add_argument("--out", required=True, help="run folder (history, checkpoints, metrics.json)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_training_options(train, TrainConfig())
    for name in modality_names():
        get_modality(name).add_options(train)
    return train


def run(args: argparse.Namespace) -> int:
    """Check what every modality shares, fill in the modality's default builders, hand over to the modality."""
    modality = get_modality(args.modality)
    if args.init in ("pretrained-hider", "both") and not modality.pretrains_hider:
        raise ValueError(modality.no_pretraining_message(args.init))
    if args.binarizer == "stochastic" and args.estimator is None:
        raise ValueError("--binarizer stochastic needs --estimator (st1, st2, sa or reinforce)")
    args.hider = modality.resolve_builder("hider", args.hider)
    args.seeker = modality.resolve_builder("seeker", args.seeker)
    return modality.train(args)
