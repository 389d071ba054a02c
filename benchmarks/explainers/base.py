"""The explainer contract (Captum's) and the :data:`EXPLAINERS` registry; helpers the families share.

See :mod:`hnsx.benchmarks.explainers` for the contract and the list of entries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from hnsx.registry import Registry

#: Explainer builders: ``builder(model, **options) -> Explainer``; every entry is tagged with its modality.
EXPLAINERS: Registry[Explainer] = Registry("explainer")


def captum_attr():
    try:
        import captum.attr as attr
    except ImportError:  # pragma: no cover - captum is in the bench extra
        raise ImportError("the benchmarks need Captum: pip install 'hnsx[bench]'") from None
    return attr


class Explainer(ABC):
    """One attribution method around one model (Captum's contract).

    Every registered builder takes ``adapter=`` (the model's adapter); methods that need no adapter ignore it.

    Subclasses implement :meth:`attribute`; :meth:`predict_and_attribute` predicts first by default.
    """

    name: str = ""
    #: Rank units by ``|score|`` (signed methods such as Integrated Gradients, where a large negative score is as
    #: informative as a large positive one); ``False``: by the score itself.
    rank_by_abs: bool = False
    #: In a benchmark's default explainer list. ``False`` for methods that answer another question (CDeepEx:
    #: "why A and not B") or cost far more; they run when named (``--explainers``) or where a benchmark asks for them.
    by_default: bool = True

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @abstractmethod
    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One score per mask unit of ``inputs`` for the classes ``target (B,)`` (shapes: module docstring)."""

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """Predicted classes ``(B,)`` of the explained model."""
        with torch.inference_mode():
            return self.model(inputs).argmax(1)

    def predict_and_attribute(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted classes ``(B,)`` and the attributions ``(B, 1, H, W)`` for them."""
        target = self.predict(inputs).clone()  # a normal tensor: Captum needs autograd on what it touches
        return target, self.attribute(inputs, target)


def channel_sum(attributions: torch.Tensor) -> torch.Tensor:
    return attributions.sum(dim=1, keepdim=True).detach()


# --- text: attributions of the seeker's embedding layer, pooled per word (or token) unit ---


def unit_sum(values: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Sum of per-token ``values (B, L)`` over the tokens of each unit, as ``(B, L)`` unit slots.

    ``units (B, L)`` is the unit index of every token, -1 for special and padding tokens (their values are dropped);
    slots that hold no unit are 0.
    """
    member = (units >= 0).to(values.dtype)
    return torch.zeros_like(values).scatter_add(1, units.clamp_min(0), values * member)


def embedding_layer(model: nn.Module) -> nn.Module:
    """The token embedding layer of a text classifier (``input_embeddings()`` or ``get_input_embeddings()``)."""
    for attribute in ("input_embeddings", "get_input_embeddings"):
        getter = getattr(model, attribute, None)
        if callable(getter):
            return getter()
    raise ValueError(
        f"{type(model).__name__} has neither input_embeddings() nor get_input_embeddings(); pass layer=... explicitly"
    )


def fill_baseline(x: torch.Tensor, adapter) -> torch.Tensor:
    """``x (B, 2, L)`` with every unit token replaced by the adapter's fill token (special tokens, padding kept)."""
    baseline = x.clone()
    ids = baseline[:, 0]
    baseline[:, 0] = torch.where(adapter.units(x) >= 0, torch.full_like(ids, adapter.fill_id), ids)
    return baseline


class TextLayerExplainer(Explainer):
    """A Captum layer method on the seeker's embedding layer, summed over the embedding and per unit."""

    def __init__(self, model: nn.Module, adapter, layer: nn.Module | None = None) -> None:
        super().__init__(model)
        self.adapter = adapter
        self.layer = layer if layer is not None else embedding_layer(model)

    def token_scores(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-token scores ``(B, L)``."""
        raise NotImplementedError

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        scores = unit_sum(self.token_scores(inputs, target).detach().float(), self.adapter.units(inputs))
        return scores * self.adapter.valid_units(inputs)


# --- tabular: baselines are the adapter's fill values ---


def fill_row(adapter, inputs: torch.Tensor) -> torch.Tensor:
    return adapter.fill.to(device=inputs.device, dtype=inputs.dtype).unsqueeze(0)


__all__ = [
    "EXPLAINERS",
    "Explainer",
    "TextLayerExplainer",
    "captum_attr",
    "channel_sum",
    "embedding_layer",
    "fill_baseline",
    "fill_row",
    "unit_sum",
]
