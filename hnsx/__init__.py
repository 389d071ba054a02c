"""hnsx: Hide-and-Seek, neural networks that explain themselves with learned binary masks."""

from hnsx.adapter import ADAPTERS, Adapter, InputError
from hnsx.alpha import (
    AdaptiveAlpha,
    AdaptiveAlphaConfig,
    AlphaEvent,
    AlphaSchedule,
    ConstantAlpha,
    build_alpha,
)
from hnsx.binarizers import (
    BINARIZERS,
    ESTIMATORS,
    Binarizer,
    DeterministicBinarizer,
    StochasticBinarizer,
    build_binarizer,
    build_estimator,
)
from hnsx.loss import LossParts, hns_loss
from hnsx.model import FrozenModule, HideAndSeek, HnSOutput
from hnsx.registry import HIDERS, SEEKERS, Registry

__version__ = "0.1.0"

__all__ = [
    "ADAPTERS",
    "BINARIZERS",
    "ESTIMATORS",
    "HIDERS",
    "SEEKERS",
    "AdaptiveAlpha",
    "AdaptiveAlphaConfig",
    "Adapter",
    "AlphaEvent",
    "AlphaSchedule",
    "Binarizer",
    "ConstantAlpha",
    "DeterministicBinarizer",
    "FrozenModule",
    "HideAndSeek",
    "HnSClassifier",
    "HnSOutput",
    "InputError",
    "LossParts",
    "Registry",
    "StochasticBinarizer",
    "__version__",
    "build_alpha",
    "build_binarizer",
    "build_estimator",
    "hns_loss",
]


def __getattr__(name: str):
    """``hnsx.HnSClassifier`` is imported on first use (it pulls in scikit-learn)."""
    if name == "HnSClassifier":
        from hnsx.adapters.tabular.estimator import HnSClassifier

        return HnSClassifier
    raise AttributeError(f"module 'hnsx' has no attribute {name!r}")
