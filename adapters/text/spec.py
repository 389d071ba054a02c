"""The spec of a text Hide-and-Seek model over ``(2, max_length)`` token and word ids."""

from __future__ import annotations

from hnsx.spec import Component, ModelSpec, binarizer_component


def text_spec(
    max_length: int,
    num_classes: int,
    *,
    vocab_size: int,
    pad_id: int,
    fill_id: int,
    word_level: bool = True,
    attention: str = "keep",
    hider: str = "token-masker",
    hider_kwargs: dict | None = None,
    seeker: str = "tiny-bert",
    seeker_kwargs: dict | None = None,
    binarizer: str | Component = "deterministic",
    estimator: str | None = None,
    estimator_kwargs: dict | None = None,
    freeze_seeker: bool = False,
) -> ModelSpec:
    """The spec of a text Hide-and-Seek model over ``(2, max_length)`` token and word ids (see
    :mod:`hnsx.adapters.text`): the token-masker hider and, by default, a small BERT seeker trained from scratch.
    ``word_level`` is given to both the adapter and the hider."""
    default_seeker = {"vocab_size": int(vocab_size), "pad_id": int(pad_id)} if seeker == "tiny-bert" else {}
    return ModelSpec(
        modality="text",
        input_shape=(2, int(max_length)),
        num_classes=int(num_classes),
        adapter=Component(
            "text",
            {
                "max_length": int(max_length),
                "vocab_size": int(vocab_size),
                "pad_id": int(pad_id),
                "fill_id": int(fill_id),
                "word_level": bool(word_level),
                "attention": attention,
            },
        ),
        hider=Component(hider, {"vocab_size": int(vocab_size), "word_level": bool(word_level), **(hider_kwargs or {})}),
        seeker=Component(seeker, {**default_seeker, **(seeker_kwargs or {})}),
        binarizer=binarizer_component(binarizer, estimator, **(estimator_kwargs or {})),
        freeze_seeker=freeze_seeker,
    )


def read_seeker(spec, share_embeddings: bool, hidden_states: bool, layer: int | None = None):
    """``spec`` with a hider that shares the seeker's token embeddings or reads its hidden states (their width read
    from a built seeker; ``layer``: those after that layer of its encoder, default the last); ``spec`` itself for
    neither."""
    from dataclasses import replace

    from hnsx.adapters.text.hiders import check_reading, seeker_reading
    from hnsx.registry import SEEKERS

    if not (share_embeddings or hidden_states):
        check_reading(share_embeddings, hidden_states, layer)
        return spec
    probe = SEEKERS.build(spec.seeker.name, input_shape=spec.input_shape, num_classes=spec.num_classes,
                          **spec.seeker.kwargs)  # fmt: skip
    reading = seeker_reading(probe, share_embeddings=share_embeddings, read_seeker=hidden_states, read_layer=layer)
    return replace(spec, hider=Component(spec.hider.name, {**spec.hider.kwargs, **reading}))
