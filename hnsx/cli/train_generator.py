"""``hnsx train-generator``: train the generative model that contrastive explainers (CDeepEx) move along.

The modality trains it (:meth:`hnsx.modality.Modality.train_generator`; images: a VAE) and writes an hnsx
checkpoint folder under ``--out/checkpoints/`` that ``cdeepex`` takes as ``generator=`` and ``hnsx explain
--generator`` reads.
"""

from __future__ import annotations

import argparse

from hnsx.cli.outdir import check_out_dir
from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names

NAME = "train-generator"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="train the generator (a VAE) of contrastive explanations")
    p.add_argument("--modality", choices=modality_names(), default=DEFAULT_MODALITY, help="default %(default)s")
    p.add_argument("--dataset", default=None, help="dataset name (default: the modality's, e.g. mnist-embedded)")
    p.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    p.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    p.add_argument("--limit", type=int, default=None, help="use at most this many training inputs")
    p.add_argument("--latent-dim", type=int, default=16, help="size of the latent code (default %(default)s)")
    p.add_argument("--hidden", type=int, default=256, help="width of the hidden layers (default %(default)s)")
    p.add_argument("--epochs", type=int, default=10, help="default %(default)s")
    p.add_argument("--batch-size", type=int, default=128, help="default %(default)s")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="default %(default)s")
    p.add_argument("--out", required=True, help="run folder of the generator (checkpoints/, metrics.json)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    return p


def run(args: argparse.Namespace) -> int:
    out = check_out_dir(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(f"--out {out} is not empty: replace it with --overwrite or choose another folder")
    args.data_file = None
    return get_modality(args.modality).train_generator(args)
