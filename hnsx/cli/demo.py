"""``hnsx demo``: train on a modality's offline data and write metrics and figures."""

from __future__ import annotations

import argparse

from hnsx.cli.outdir import check_out_dir
from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names

NAME = "demo"


def add_parser(sub) -> argparse.ArgumentParser:
    demo = sub.add_parser(NAME, help="train on offline data of a modality and write metrics and figures")
    demo.add_argument("--modality", choices=modality_names(), default=DEFAULT_MODALITY, help="default %(default)s")
    demo.add_argument("--out", default="runs/demo", help="output folder (default %(default)s)")
    demo.add_argument("--epochs", type=int, default=None, help="epochs of Hide-and-Seek training")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    return demo


def run(args: argparse.Namespace) -> int:
    check_out_dir(args.out)
    return get_modality(args.modality).demo(args)
