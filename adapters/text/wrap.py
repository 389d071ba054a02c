"""Wrap a Hugging Face sequence classifier a user already has (``hnsx.wrap.wrap_classifier(..., tokenizer=...)``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from hnsx.adapters.text.hiders import seeker_reading
from hnsx.adapters.text.seekers import HFSeeker
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import check_tokenizer, encode_texts, fill_token_id
from hnsx.model import HideAndSeek
from hnsx.spec import CUSTOM, Component, ModelSpec, build_model
from hnsx.wrap import check_num_classes

PROBE_TEXTS = ["a short probe sentence", "another one"]


def check_vocabulary(tokenizer: Any, seeker: HFSeeker) -> None:
    """Raise ``ValueError`` if the tokenizer's ids do not fit the classifier's embedding table."""
    if len(tokenizer) > seeker.vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the classifier's input embeddings have only "
            f"{seeker.vocab_size} rows: use the tokenizer the classifier was trained with "
            "(or resize its embeddings with model.resize_token_embeddings(len(tokenizer)))"
        )


def wrap_text_classifier(
    classifier: nn.Module,
    tokenizer: Any,
    *,
    max_length: int = 64,
    num_classes: int | None = None,
    freeze: bool = False,
    hider: str = "token-masker",
    hider_kwargs: dict | None = None,
    binarizer: str = "deterministic",
    estimator: str | None = None,
    estimator_kwargs: dict | None = None,
    word_level: bool = True,
    attention: str = "keep",
    share_embeddings: bool = False,
    read_seeker: bool = False,
    read_layer: int | None = None,
) -> tuple[HideAndSeek, ModelSpec]:
    """A text Hide-and-Seek model whose seeker is ``classifier`` (an HF sequence classifier, or an :class:`HFSeeker`).

    The model's seeker is ``HFSeeker(classifier)`` (frozen when ``freeze``); to load a checkpoint of it pass
    ``seeker=HFSeeker(classifier)`` to :func:`hnsx.explain.load_trained`. ``num_classes`` is checked against the
    classifier's output on two probe sentences (inferred from it when ``None``). ``share_embeddings``: the
    token-masker hider uses the classifier's token embeddings; ``read_seeker``: it reads the classifier's own
    hidden states (after layer ``read_layer`` of its encoder, 0 its embedding output; default two thirds of its
    depth, :func:`~hnsx.adapters.text.hiders.default_read_layer`) on the unmasked input through a small trainable
    head (:mod:`hnsx.adapters.text.hiders`).
    """
    check_tokenizer(tokenizer)
    seeker = classifier if isinstance(classifier, HFSeeker) else HFSeeker(classifier)
    check_vocabulary(tokenizer, seeker)
    probe = encode_texts(tokenizer, PROBE_TEXTS, max_length).x
    param = next(seeker.parameters(), None)
    was_training = seeker.training
    seeker.eval()
    try:
        import torch

        with torch.no_grad():
            logits = seeker(probe.to(param.device) if param is not None else probe)
    finally:
        seeker.train(was_training)
    found = int(logits.shape[1])
    check_num_classes(num_classes, found)
    hider_kwargs = {
        **(hider_kwargs or {}),
        **seeker_reading(seeker, share_embeddings=share_embeddings, read_seeker=read_seeker, read_layer=read_layer),
    }
    spec = text_spec(
        max_length,
        found,
        vocab_size=len(tokenizer),
        pad_id=tokenizer.pad_token_id,
        fill_id=fill_token_id(tokenizer),
        word_level=word_level,
        attention=attention,
        hider=hider,
        hider_kwargs=hider_kwargs,
        binarizer=binarizer,
        estimator=estimator,
        estimator_kwargs=estimator_kwargs,
        freeze_seeker=freeze,
    )
    spec = replace(spec, seeker=Component(CUSTOM, {"class": type(seeker.model).__qualname__}))
    return build_model(spec, seeker=seeker), spec
