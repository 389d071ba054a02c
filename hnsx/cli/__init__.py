"""The ``hnsx`` command line: ``demo``, ``train``, ``explain``, ``bench``, ``study``, ``train-generator`` and
``train-contrastive``, one module per subcommand.

Each subcommand module has ``NAME``, ``add_parser(subparsers)`` and ``run(args) -> int``. Run ``hnsx COMMAND --help``
for the options of each. Under ``accelerate launch`` the same commands train on several processes
(``accelerate launch --num_processes 2 --cpu -m hnsx.cli train ...``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hnsx.cli import bench, demo, explain, study, train, train_contrastive, train_generator
from hnsx.cli.bench import BENCH_MODULES
from hnsx.cli.outdir import os_error_message

__all__ = ["BENCH_MODULES", "COMMANDS", "build_parser", "main"]

SUBCOMMANDS = (demo, train, bench, study, explain, train_generator, train_contrastive)
#: The function that runs each subcommand (tests replace entries to check parsing alone).
COMMANDS = {module.NAME: module.run for module in SUBCOMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hnsx", description="Hide-and-Seek: models that explain themselves.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if train.NAME in argv[:2]:  # hnsx [-v] train ...
            train.apply_modality_defaults(train.PARSERS[train.NAME], argv)
    except ValueError as err:  # a third-party modality's defaults that name no option
        print(f"hnsx: error: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    args.argv = argv  # the command line, for the reports that quote it
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return COMMANDS[args.command](args)
    except ValueError as err:  # bad input: one clear line, no traceback
        message = str(err)
    except OSError as err:  # a file or folder that cannot be read or written
        message = os_error_message(err)
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"hnsx {args.command}: error: {line}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
