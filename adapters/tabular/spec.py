"""The spec of a tabular Hide-and-Seek model (the counterpart of :func:`hnsx.adapters.image.spec.image_spec`)."""

from __future__ import annotations

from collections.abc import Sequence

from hnsx.adapters.tabular.schema import TabularSchema
from hnsx.adapters.tabular.seekers import SEEKER_DEFAULTS
from hnsx.spec import CUSTOM, Component, ModelSpec, binarizer_component


def tabular_spec(
    schema: TabularSchema,
    num_classes: int,
    *,
    classes: Sequence[str] | None = None,
    target: str | None = None,
    hidden: Sequence[int] = (64, 64),
    hider: str = "tabular-mlp",
    hider_hidden: Sequence[int] | None = None,
    seeker: str = "tabular-mlp",
    seeker_kwargs: dict | None = None,
    binarizer: str | Component = "deterministic",
    estimator: str | None = None,
    estimator_kwargs: dict | None = None,
    freeze_seeker: bool = False,
) -> ModelSpec:
    """The spec of a tabular model: the schema (in the adapter), an MLP hider and an MLP (or custom) seeker.

    Parameters
    ----------
    schema:
        The fitted :class:`TabularSchema`; saved in the spec, hence in every checkpoint.
    num_classes:
        Number of classes.
    classes:
        Class names, ``classes[k]`` for label ``k`` (stored for display).
    target:
        Name of the label column (stored for display and to drop it from tables passed to ``hnsx explain``).
    hidden:
        Hidden widths of the seeker MLP. The MLP seeker gets the current architecture defaults
        (:data:`~hnsx.adapters.tabular.seekers.SEEKER_DEFAULTS`: embeddings for categorical columns);
        ``seeker_kwargs`` overrides them (e.g. ``{"layer_norm": True, "dropout": 0.1}``).
    hider:
        Hider builder (``"tabular-mlp"``).
    hider_hidden:
        Hidden widths of the hider MLP (default: ``hidden``).
    seeker:
        ``"tabular-mlp"`` or ``"custom"`` (the user's own ``(B, F) -> (B, num_classes)`` module).
    binarizer, estimator, estimator_kwargs:
        The binarizer (:mod:`hnsx.binarizers`), through :func:`hnsx.spec.binarizer_component`.
    freeze_seeker:
        Keep the seeker's weights fixed (post-hoc explanation of a trained model).
    """
    if classes is not None and len(classes) != num_classes:
        raise ValueError(f"{len(classes)} class names for {num_classes} classes")
    cards = schema.cardinalities
    seeker_kw = {} if seeker == CUSTOM else {"cardinalities": cards, "hidden": [int(h) for h in hidden]}
    if seeker == "tabular-mlp":
        seeker_kw.update(SEEKER_DEFAULTS)
    return ModelSpec(
        modality="tabular",
        input_shape=(schema.num_features,),
        num_classes=int(num_classes),
        adapter=Component(
            "tabular",
            {
                "schema": schema.to_dict(),
                "target": {"name": target, "classes": [str(c) for c in classes] if classes is not None else None},
            },
        ),
        hider=Component(hider, {"cardinalities": cards, "hidden": [int(h) for h in (hider_hidden or hidden)]}),
        seeker=Component(seeker, {**seeker_kw, **(seeker_kwargs or {})}),
        binarizer=binarizer_component(binarizer, estimator, **(estimator_kwargs or {})),
        freeze_seeker=freeze_seeker,
    )
