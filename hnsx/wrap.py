"""Wrap a classifier a user already has with the default hider of its modality."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hnsx.model import HideAndSeek
from hnsx.spec import CUSTOM, Component, ModelSpec, build_model, image_spec


def infer_num_classes(classifier: nn.Module, input_shape: Sequence[int]) -> int:
    """Run ``classifier`` once on a zero batch of two and read its number of outputs."""
    param = next(classifier.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = classifier.training
    classifier.eval()
    try:
        with torch.no_grad():
            out = classifier(torch.zeros(2, *input_shape, device=device))
    except Exception as err:  # the user's model rejected the shape: say which shape was tried
        raise ValueError(
            f"the classifier failed on a batch of shape (2, {', '.join(map(str, input_shape))}): {err}"
        ) from err
    finally:
        classifier.train(was_training)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ValueError(
            "the classifier must return class logits of shape (batch, num_classes); "
            f"got {type(out).__name__}{'' if not isinstance(out, torch.Tensor) else tuple(out.shape)}"
        )
    return int(out.shape[1])


def wrap_classifier(
    classifier: nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    tokenizer: Any = None,
    max_length: int = 64,
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
    """Build a Hide-and-Seek model whose seeker is ``classifier``.

    Parameters
    ----------
    classifier:
        The user's trained (or untrained) image classifier, ``(B, C, H, W) -> (B, num_classes)``.
    input_shape:
        ``(C, H, W)`` of one input (images).
    tokenizer:
        Text: the classifier's Hugging Face tokenizer. With a tokenizer, ``classifier`` is an HF sequence
        classifier and the model masks words (see :func:`hnsx.adapters.text.wrap.wrap_text_classifier`, which
        takes the text options); ``input_shape`` is then not used.
    max_length:
        Text: tokens per sentence.
    num_classes:
        Checked against the classifier's output; inferred from it when ``None``.
    freeze:
        Keep the classifier's weights fixed and in eval mode: the hider then explains this deployed model
        post hoc. Train with ``TrainConfig(init="pretrained-seeker", pretrain_epochs=0)`` so that the
        classifier's own accuracy is the Fidelity baseline and nothing retrains it.

    Returns
    -------
    The model and its :class:`~hnsx.spec.ModelSpec` (seeker recorded as ``"custom"``: pass the same
    classifier again when loading a checkpoint).
    """
    if tokenizer is not None:
        from hnsx.adapters.text.wrap import wrap_text_classifier

        text_hider = {} if hider == inspect.signature(wrap_classifier).parameters["hider"].default else {"hider": hider}
        return wrap_text_classifier(
            classifier,
            tokenizer,
            max_length=max_length,
            num_classes=num_classes,
            freeze=freeze,
            hider_kwargs=hider_kwargs,
            binarizer=binarizer,
            estimator=estimator,
            estimator_kwargs=estimator_kwargs,
            **text_hider,
        )
    if input_shape is None or len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be (C, H, W) for an image classifier (or pass tokenizer= for text), got {input_shape}"
        )
    found = infer_num_classes(classifier, input_shape)
    if num_classes is not None and num_classes != found:
        raise ValueError(f"num_classes={num_classes} but the classifier returns {found} logits per input")
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
