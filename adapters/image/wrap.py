"""Wrap an image classifier a user already has with an image hider (``hnsx.wrap.wrap_classifier``)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from hnsx.adapters.image.spec import image_spec
from hnsx.model import HideAndSeek
from hnsx.spec import CUSTOM, Component, ModelSpec, build_model
from hnsx.wrap import check_num_classes, infer_num_classes


def wrap_image_classifier(
    classifier: nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    num_classes: int | None = None,
    freeze: bool = False,
    hider: str = "pyramid",
    hider_kwargs: dict | None = None,
    binarizer: str = "deterministic",
    estimator: str | None = None,
    estimator_kwargs: dict | None = None,
    fill: str = "zero",
    mean: list[float] | None = None,
) -> tuple[HideAndSeek, ModelSpec]:
    """A Hide-and-Seek model around an image classifier ``(B, C, H, W) -> (B, num_classes)``; see
    :func:`hnsx.wrap.wrap_classifier` for the arguments."""
    if input_shape is None or len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be (C, H, W) for an image classifier (or pass tokenizer= for text), got {input_shape}"
        )
    found = infer_num_classes(classifier, input_shape)
    check_num_classes(num_classes, found)
    spec = image_spec(
        tuple(input_shape),
        found,
        hider=hider,
        hider_kwargs=hider_kwargs,
        binarizer=binarizer,
        estimator=estimator,
        estimator_kwargs=estimator_kwargs,
        fill=fill,
        mean=mean,
        freeze_seeker=freeze,
    )
    spec = ModelSpec(**{**spec.__dict__, "seeker": Component(CUSTOM, {"class": type(classifier).__qualname__})})
    return build_model(spec, seeker=classifier), spec
