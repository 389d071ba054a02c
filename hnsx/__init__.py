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
from hnsx.spec import ModelSpec, build_model

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
    "ModelSpec",
    "Registry",
    "StochasticBinarizer",
    "TrainConfig",
    "__version__",
    "build_alpha",
    "build_binarizer",
    "build_estimator",
    "build_model",
    "fit",
    "hns_loss",
    "image_spec",
    "tabular_spec",
    "text_spec",
]


# Imported from their module on first use, so that ``import hnsx`` imports no adapter (nor Accelerate, which
# training needs). The spec builders belong to their modality's adapter; this map says where each one lives.
_LAZY = {
    "HnSClassifier": "hnsx.adapters.tabular.estimator",
    "TrainConfig": "hnsx.training",
    "fit": "hnsx.training",
    "image_spec": "hnsx.adapters.image.spec",
    "text_spec": "hnsx.adapters.text.spec",
    "tabular_spec": "hnsx.adapters.tabular.spec",
}


def __getattr__(name: str):
    """The names in ``_LAZY`` are imported from their module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hnsx' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
