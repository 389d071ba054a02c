"""``hnsx train-contrastive``: train the pair-conditioned hider of contrastive Hide-and-Seek ("why A and not B?")
against the frozen classifier of a run of ``hnsx train``, for ``hnsx explain --contrast``.

The run's modality trains it (:meth:`hnsx.modality.Modality.train_contrastive`; images:
:mod:`hnsx.adapters.image.contrastive.hns`, text: :mod:`hnsx.adapters.text.contrastive`; the shared objective, loop
and storage: :mod:`hnsx.contrastive`) and stores it inside the run folder, in ``RUN/contrastive/``, where
``hnsx explain --checkpoint RUN --contrast CLASS`` finds it. By default the hider aims at a target kept fraction
(``--target-kept``, the multiplier of ``hnsx train --target-kept``); ``--alpha`` trains it with a constant weight.
"""

from __future__ import annotations

import argparse

from hnsx.explain import load_trained
from hnsx.modality import get_modality
from hnsx.spec import ModelSpec
from hnsx.training.checkpoint import CheckpointError, read_state, resolve_checkpoint

NAME = "train-contrastive"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="train the contrastive Hide-and-Seek hider of a run (for explain --contrast)")
    p.add_argument("--checkpoint", required=True, help="the run folder of hnsx train (the hider is stored in it)")
    p.add_argument("--which", choices=("best", "latest"), default="best", help="whose classifier to explain")
    p.add_argument("--dataset", default=None, help="training images (default: the run's data set)")
    p.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    p.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    p.add_argument("--limit", type=int, default=None, help="use at most this many training inputs")
    objective = p.add_mutually_exclusive_group()
    objective.add_argument(
        "--target-kept", type=float, default=None, metavar="R", help="aim at this kept fraction (default 0.2)"
    )
    objective.add_argument("--alpha", type=float, default=None, help="a constant alpha in (0, 1] instead")
    p.add_argument("--epochs", type=int, default=5, help="default %(default)s")
    p.add_argument("--batch-size", type=int, default=64, help="default %(default)s")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default %(default)s)")
    p.add_argument(
        "--width",
        type=int,
        default=32,
        help="size of the hider: image convolution channels, text model width (default %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="default %(default)s")
    p.add_argument("--overwrite", action="store_true", help="replace the run's contrastive hider")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    path = resolve_checkpoint(args.checkpoint, args.which)
    try:
        modality = get_modality(ModelSpec.from_dict(read_state(path)["spec"]).modality)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} has no readable model spec ({err})") from None
    if not modality.explains_contrast:
        raise ValueError(
            f"{NAME} applies to models that explain contrasts (image, text), not to {modality.name} models"
        )
    args.data_file = None
    return modality.train_contrastive(args, load_trained(path))
