"""The spec of an image Hide-and-Seek model: pixel masks, the paper's hider and seeker by default."""

from __future__ import annotations

from hnsx.spec import Component, ModelSpec, binarizer_component


def image_spec(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    hider: str = "pyramid",
    hider_kwargs: dict | None = None,
    seeker: str = "small-cnn",
    seeker_kwargs: dict | None = None,
    binarizer: str | Component = "deterministic",
    estimator: str | None = None,
    estimator_kwargs: dict | None = None,
    fill: str = "zero",
    mean: list[float] | None = None,
    freeze_seeker: bool = False,
) -> ModelSpec:
    """The spec of an image Hide-and-Seek model (defaults: the paper's small hider and seeker); ``binarizer``,
    ``estimator`` and ``estimator_kwargs`` go through :func:`binarizer_component`."""
    return ModelSpec(
        modality="image",
        input_shape=tuple(int(s) for s in input_shape),
        num_classes=int(num_classes),
        adapter=Component("image", {"input_shape": list(input_shape), "fill": fill, "mean": mean}),
        hider=Component(hider, dict(hider_kwargs or {})),
        seeker=Component(seeker, dict(seeker_kwargs or {})),
        binarizer=binarizer_component(binarizer, estimator, **(estimator_kwargs or {})),
        freeze_seeker=freeze_seeker,
    )
