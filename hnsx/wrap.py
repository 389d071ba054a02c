"""Wrap a classifier a user already has with the default hider of its modality."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hnsx.modality import DEFAULT_MODALITY, get_modality, modality_names
from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec


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


def check_num_classes(expected: int | None, found: int) -> int:
    """``found`` (the classifier's number of logits), or ``ValueError`` when the caller expected another number."""
    if expected is not None and expected != found:
        raise ValueError(f"num_classes={expected} but the classifier returns {found} logits per input")
    return found


def wrap_classifier(
    classifier: nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    modality: str | None = None,
    freeze: bool = False,
    **options: Any,
) -> tuple[HideAndSeek, ModelSpec]:
    """Build a Hide-and-Seek model whose seeker is ``classifier``.

    Parameters
    ----------
    classifier:
        The user's trained (or untrained) classifier: images ``(B, C, H, W) -> (B, num_classes)``, or a Hugging Face
        sequence classifier (pass its ``tokenizer=``).
    input_shape:
        ``(C, H, W)`` of one input (images); not used for text.
    modality:
        The modality whose :meth:`~hnsx.modality.Modality.wrap` builds the model. ``None``: the modality that claims
        the options (``tokenizer=`` -> text), else the default (images).
    freeze:
        Keep the classifier's weights fixed and in eval mode: the hider then explains this deployed model
        post hoc. Train with ``TrainConfig(init="pretrained-seeker", pretrain_epochs=0)`` so that the
        classifier's own accuracy is the Fidelity baseline and nothing retrains it.
    **options:
        The modality's wrapping options. Images (:func:`hnsx.adapters.image.wrap.wrap_image_classifier`):
        ``num_classes``, ``hider`` (default ``"pyramid"``), ``hider_kwargs``, ``binarizer``, ``estimator``,
        ``estimator_kwargs``, ``fill``, ``mean``. Text (:func:`hnsx.adapters.text.wrap.wrap_text_classifier`):
        ``tokenizer``, ``max_length``, ``num_classes``, ``hider``, ``word_level``, ... .

    Returns
    -------
    The model and its :class:`~hnsx.spec.ModelSpec` (seeker recorded as ``"custom"``: pass the same
    classifier again when loading a checkpoint).
    """
    if modality is None:
        claimed = [name for name in modality_names() if get_modality(name).claims_wrap(options)]
        modality = claimed[0] if claimed else DEFAULT_MODALITY
    return get_modality(modality).wrap(classifier, input_shape, freeze=freeze, **options)
