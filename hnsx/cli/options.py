"""Option types and option groups that several ``hnsx`` subcommands share."""

from __future__ import annotations

import argparse

from hnsx.alpha import parse_alpha
from hnsx.modality import get_modality, modality_names
from hnsx.training.config import INIT_MODES, MIXED_PRECISION, TrainConfig
from hnsx.training.optim import LR_SCHEDULES


def alpha_value(value: str) -> float | str:
    """``--alpha``: a number in [0, 1] or ``adaptive``."""
    try:
        return parse_alpha(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_data_options(p: argparse.ArgumentParser) -> None:
    """The data options of ``hnsx train`` (``hnsx bench`` takes the same ones): what the modality's
    :meth:`~hnsx.modality.Modality.load_data` reads."""
    p.add_argument("--dataset", default=None, help="dataset name (default: the modality's, e.g. mnist-embedded)")
    p.add_argument("--data-file", default=None, help="a local CSV/TSV file (text and tabular)")
    p.add_argument("--data-dir", default=None, help="folder with a local copy of a torchvision dataset")
    p.add_argument("--download", action="store_true", help="let torchvision download the dataset")
    p.add_argument("--limit", type=int, default=None, help="use at most this many training inputs")


def add_modality_options(p: argparse.ArgumentParser) -> dict[str, list[tuple[str, str, object]]]:
    """Every registered modality's own options (:meth:`~hnsx.modality.Modality.add_options`), each in its group;
    returns ``{modality: [(flag, dest, default), ...]}`` for :func:`check_modality_options`."""
    added: dict[str, list[tuple[str, str, object]]] = {}
    for name in modality_names():
        before = len(p._actions)
        get_modality(name).add_options(p)
        added[name] = [(a.option_strings[0], a.dest, a.default) for a in p._actions[before:]]
    return added


def check_modality_options(args: argparse.Namespace, options: dict[str, list[tuple[str, str, object]]]) -> None:
    """Refuse an option of another modality (``--fill`` with ``--modality tabular``) instead of ignoring it."""
    for name, flags in options.items():
        for flag, dest, default in flags if name != args.modality else ():
            if getattr(args, dest, default) != default:
                raise ValueError(f"{flag} applies to --modality {name}, not to --modality {args.modality}")


def add_training_options(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """The options of :class:`~hnsx.training.config.TrainConfig` that ``hnsx train`` exposes."""
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=defaults.epochs, help="epoch budget (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default %(default)s")
    g.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate (default %(default)s)")
    g.add_argument(
        "--alpha",
        type=alpha_value,
        default=defaults.alpha,
        help="constant in [0, 1] or 'adaptive' (default %(default)s)",
    )
    g.add_argument(
        "--target-kept",
        type=float,
        default=defaults.target_kept,
        metavar="R",
        help="aim at this kept fraction in (0, 1): a Lagrange multiplier by dual ascent replaces --alpha",
    )
    g.add_argument(
        "--dual-lr", type=float, default=defaults.dual_lr, help="step size of that multiplier (default %(default)s)"
    )
    g.add_argument(
        "--dual-damping",
        type=float,
        default=defaults.dual_damping,
        help="drop of that multiplier's pull per relative shortfall below the target (default %(default)s)",
    )
    g.add_argument(
        "--dual-backoff",
        type=float,
        default=defaults.dual_backoff,
        help="multiplicative decrease of that multiplier below the target, in [0, 1] (default %(default)s)",
    )
    g.add_argument("--hider-lr", type=float, default=defaults.hider_lr, help="the hider's learning rate (default --lr)")
    g.add_argument(
        "--seeker-lr", type=float, default=defaults.seeker_lr, help="the seeker's learning rate (default --lr)"
    )
    g.add_argument("--grad-clip", type=float, default=defaults.grad_clip, help="clip the gradient norm to this")
    g.add_argument(
        "--lr-schedule", choices=LR_SCHEDULES, default=defaults.lr_schedule, help="torch scheduler over all steps"
    )
    g.add_argument(
        "--evaluator-epochs",
        type=int,
        default=defaults.evaluator_epochs,
        help="train the label-encoding evaluator this long and add its accuracy to metrics.json (default: off)",
    )
    g.add_argument(
        "--leak-free",
        action="store_true",
        help="REAL-X: train the seeker on random masks only, never on the hider's (no label code can form)",
    )
    g.add_argument(
        "--pretrain-random-masks",
        action="store_true",
        help="pretrain the seeker on inputs under random masks (not whole inputs); the joint training is unchanged",
    )
    g.add_argument(
        "--complement-weight",
        type=float,
        default=defaults.complement_weight,
        metavar="W",
        help="penalise a second predictor finding the label in the hidden part (comprehensiveness; 0: off)",
    )
    g.add_argument("--init", choices=INIT_MODES, default=defaults.init, help="default %(default)s")
    g.add_argument("--pretrain-epochs", type=int, default=defaults.pretrain_epochs, help="default %(default)s")
    g.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    g.add_argument("--mixed-precision", choices=MIXED_PRECISION, default=defaults.mixed_precision)
    g.add_argument("--cpu", action="store_true", help="train on the CPU even if CUDA is available")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
