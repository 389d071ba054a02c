"""A JSON description of a Hide-and-Seek model, so that checkpoints can rebuild what they hold.

``ModelSpec`` names the adapter, hider, seeker and binarizer by their registry names with keyword arguments.
A model built around a user's own seeker has ``seeker.name == "custom"``: loading it needs that seeker again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from hnsx.adapter import ADAPTERS
from hnsx.binarizers import HARD_CONCRETE_BETA, build_binarizer
from hnsx.model import FrozenModule, HideAndSeek
from hnsx.registry import HIDERS, SEEKERS, Registry

CUSTOM = "custom"


@dataclass(frozen=True)
class Component:
    """A registry name with keyword arguments."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def binarizer_component(
    binarizer: str | Component = "deterministic",
    estimator: str | None = None,
    slope_rate: float | None = None,
    slope_cap: float | None = None,
    **estimator_kwargs: Any,
) -> Component:
    """The spec entry of a binarizer: its registry name with ``estimator`` (default ``st1``) and its arguments.

    ``slope_rate`` and ``slope_cap`` are the slope-annealing estimator's ``rate`` and ``cap``: they are kept only
    when ``estimator == "sa"`` (a command line passes its defaults whatever the estimator), and left out when
    ``None`` (the estimator's own defaults apply). ``estimator_kwargs`` are passed as they are; hard-concrete masks
    get :data:`~hnsx.binarizers.HARD_CONCRETE_BETA` as ``beta`` unless one is given. A :class:`Component` is
    returned unchanged, and then nothing else may be given.
    """
    if isinstance(binarizer, Component):
        if estimator is not None or slope_rate is not None or slope_cap is not None or estimator_kwargs:
            raise ValueError("a binarizer Component already names its estimator; pass no estimator settings with it")
        return binarizer
    kwargs: dict[str, Any] = {"estimator": estimator or "st1"}
    if estimator == "sa":
        kwargs.update({k: v for k, v in (("rate", slope_rate), ("cap", slope_cap)) if v is not None})
    if estimator == "hard-concrete":
        kwargs["beta"] = HARD_CONCRETE_BETA
    return Component(binarizer, {**kwargs, **estimator_kwargs})


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a :class:`~hnsx.model.HideAndSeek` except its weights."""

    modality: str
    input_shape: tuple[int, ...]
    num_classes: int
    adapter: Component
    hider: Component
    seeker: Component
    binarizer: Component
    freeze_seeker: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """The spec of :meth:`to_dict`'s output; ``ValueError`` names the first entry of the wrong kind (a checkpoint
        is input like any other: it may be damaged or crafted)."""
        if not isinstance(data, dict):
            raise ValueError(f"not a valid hnsx model spec: a {type(data).__name__}, not a mapping")
        try:
            return cls(
                modality=_checked(data["modality"], "modality", str),
                input_shape=tuple(
                    _size(v, "input_shape") for v in _checked(data["input_shape"], "input_shape", (list, tuple))
                ),
                num_classes=_size(data["num_classes"], "num_classes"),
                adapter=_component(data["adapter"], "adapter"),
                hider=_component(data["hider"], "hider"),
                seeker=_component(data["seeker"], "seeker"),
                binarizer=_component(data["binarizer"], "binarizer"),
                freeze_seeker=bool(data.get("freeze_seeker", False)),
            )
        except KeyError as err:
            raise ValueError(f"not a valid hnsx model spec: {err} is missing") from None


#: The largest input dimension or class count a spec may hold (beyond it, building the model would exhaust memory).
MAX_SIZE = 1_000_000


def _checked(value: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind):
        name = (kind if isinstance(kind, type) else kind[0]).__name__
        raise ValueError(f"not a valid hnsx model spec: {key} is {value!r}, not a {name}")
    return value


def _size(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
        raise ValueError(f"not a valid hnsx model spec: {key} holds {value!r}, not a size from 1 to {MAX_SIZE}")
    return value


def _component(value: Any, key: str) -> Component:
    value = _checked(value, key, dict)
    if set(value) - {"name", "kwargs"}:
        raise ValueError(f"not a valid hnsx model spec: {key} has entries other than name and kwargs")
    return Component(
        _checked(value.get("name"), f"{key} name", str), _checked(value.get("kwargs", {}), f"{key} kwargs", dict)
    )


def spec_conflicts(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The settings in which two specs (:meth:`ModelSpec.to_dict`) differ, as ``name: saved -> now``: a component by
    its builder name when that changed (``hider: 'pyramid' -> 'unet'``), else by the arguments that changed
    (``adapter fill: 'zero' -> 'mean'``); a changed data set shows as its ``input_shape`` or ``num_classes``."""

    def shown(value: Any) -> str:
        value = value.get("name") if isinstance(value, dict) and "name" in value else value
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    out = []
    for key in sorted(set(saved) | set(now)):
        old, new = saved.get(key), now.get(key)
        if old == new:
            continue
        if not (isinstance(old, dict) and isinstance(new, dict)) or old.get("name") != new.get("name"):
            out.append(f"{key}: {shown(old)} -> {shown(new)}")
            continue
        before, after = old.get("kwargs") or {}, new.get("kwargs") or {}
        for arg in sorted(set(before) | set(after)):
            if before.get(arg) != after.get(arg) and arg not in saved:  # a spec-wide setting is shown once
                out.append(f"{key} {arg}: {shown(before.get(arg))} -> {shown(after.get(arg))}")
    return out


def check_builder(registry: Registry, name: str, modality: str) -> None:
    """Refuse a builder of ``registry`` that is unknown or belongs to another modality than ``modality``, listing
    the modality's own builders (a text seeker cannot read images: building it would fail with an unrelated error)."""
    own = registry.names(modality)
    if name not in registry:
        raise ValueError(f"unknown {registry.kind} {name!r}; choose one of: {', '.join(own)} (the {modality} ones)")
    tag = registry.modality(name)
    if tag is not None and tag != modality:
        raise ValueError(
            f"{registry.kind} {name!r} is a {tag} {registry.kind}, not one for {modality} inputs; "
            f"choose one of: {', '.join(own)}"
        )


def build_model(spec: ModelSpec, seeker: nn.Module | None = None) -> HideAndSeek:
    """Build a fresh :class:`~hnsx.model.HideAndSeek` from ``spec``.

    ``seeker`` must be given when ``spec.seeker.name == "custom"`` (a user's own classifier). The hider and seeker
    must be builders of ``spec.modality`` (:func:`check_builder`).
    """
    check_builder(HIDERS, spec.hider.name, spec.modality)
    if spec.seeker.name != CUSTOM:
        check_builder(SEEKERS, spec.seeker.name, spec.modality)
    adapter = ADAPTERS.build(spec.adapter.name, **spec.adapter.kwargs)
    hider = HIDERS.build(spec.hider.name, input_shape=spec.input_shape, **spec.hider.kwargs)
    if spec.seeker.name == CUSTOM:
        if seeker is None:
            raise ValueError("this model wraps a user's own seeker: pass the same classifier as seeker=...")
    elif seeker is None:
        seeker = SEEKERS.build(
            spec.seeker.name, input_shape=spec.input_shape, num_classes=spec.num_classes, **spec.seeker.kwargs
        )
    if spec.freeze_seeker and not isinstance(seeker, FrozenModule):
        seeker = FrozenModule(seeker)
    bind = getattr(hider, "bind_seeker", None)
    if callable(bind):  # a hider that shares parts of the seeker (the text token-masker's embeddings)
        bind(seeker)
    binarizer = build_binarizer(spec.binarizer.name, **spec.binarizer.kwargs)
    return HideAndSeek(hider, binarizer, seeker, adapter, num_classes=spec.num_classes)
