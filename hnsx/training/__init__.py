"""Training: :func:`fit` through Accelerate, pretraining, configuration and checkpoints."""

from hnsx.training.checkpoint import CheckpointError, load_model_state, resolve_checkpoint, save_checkpoint
from hnsx.training.config import INIT_MODES, TrainConfig
from hnsx.training.fit import FitResult, fit, make_accelerator
from hnsx.training.pretrain import pretrain_hider, train_classifier

__all__ = [
    "INIT_MODES",
    "CheckpointError",
    "FitResult",
    "TrainConfig",
    "fit",
    "load_model_state",
    "make_accelerator",
    "pretrain_hider",
    "resolve_checkpoint",
    "save_checkpoint",
    "train_classifier",
]
