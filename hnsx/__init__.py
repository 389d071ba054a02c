"""hnsx: Hide-and-Seek, neural networks that explain themselves with learned binary masks."""

from importlib import import_module

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


#: Public names of the built-in adapters, imported on first use (``hnsx.HnSClassifier`` pulls in scikit-learn).
_LAZY = {
    "HnSClassifier": "hnsx.adapters.tabular.estimator",
    "image_spec": "hnsx.adapters.image.spec",
    "text_spec": "hnsx.adapters.text.spec",
    "tabular_spec": "hnsx.adapters.tabular.spec",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hnsx' has no attribute {name!r}")
