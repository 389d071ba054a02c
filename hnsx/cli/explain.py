"""``hnsx explain``: explain inputs (image files, sentences, table files) with a trained model."""

from __future__ import annotations

import argparse

from hnsx.cli.outdir import check_out_dir
from hnsx.explain import load_trained
from hnsx.modality import modality_of

NAME = "explain"


def add_parser(sub) -> argparse.ArgumentParser:
    explain = sub.add_parser(NAME, help="explain inputs with a trained model (image files, or sentences)")
    explain.add_argument("--checkpoint", required=True, help="a run folder or a checkpoint folder")
    explain.add_argument("--which", choices=("best", "latest"), default="best", help="checkpoint of a run folder")
    explain.add_argument("--out", default="explanations", help="output folder (default %(default)s)")
    explain.add_argument(
        "--model-name",
        action="append",
        default=[],
        help="allow the checkpoint's seeker to load this Hugging Face hub model (downloaded); repeatable",
    )
    explain.add_argument(
        "--trust-remote-code", action="store_true", help="allow a checkpoint's seeker to run its model's own code"
    )
    explain.add_argument(
        "--contrast",
        type=int,
        default=None,
        metavar="CLASS",
        help="also explain why the model predicts its class and not CLASS (image and text models)",
    )
    explain.add_argument(
        "--generator", default=None, help="generator run folder (hnsx train-generator) for --contrast; default: pixels"
    )
    explain.add_argument(
        "--stride",
        type=int,
        default=None,
        metavar="TOKENS",
        help="text models: a text longer than the model's max length is explained in windows of whole words that "
        "share this many tokens, each word's mask taken from the window where it is most central (default: half a "
        "window)",
    )
    explain.add_argument(
        "--contrast-method",
        choices=("cdeepex", "hns", "both"),
        default=None,
        help="which contrastive overlays --contrast writes (default: both where hnsx train-contrastive stored a "
        "hider in the run, else cdeepex)",
    )
    explain.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, or sentences for a text model")
    return explain


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    for option, value in (("--generator", args.generator), ("--contrast-method", args.contrast_method)):
        if value is not None and args.contrast is None:
            raise ValueError(f"{option} applies to --contrast CLASS")
    model = load_trained(
        args.checkpoint, which=args.which, allow_models=args.model_name, trust_remote_code=args.trust_remote_code
    )
    modality = modality_of(model.adapter)
    if args.contrast is not None and not modality.explains_contrast:
        raise ValueError(
            f"--contrast applies to models that explain contrasts (image, text), not to {modality.name} models"
        )
    if args.stride is not None and not modality.explains_windows:
        raise ValueError(
            f"--stride applies to models that explain long texts in windows (text), not to {modality.name} models"
        )
    return modality.explain(args, model)
