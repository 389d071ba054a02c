"""Integrated Gradients (Captum): images from a zero baseline, text on the embeddings from the all-fill-token
sentence, tables from the row of fill values; ranked by absolute value.
"""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import (
    EXPLAINERS,
    Explainer,
    TextLayerExplainer,
    captum_attr,
    channel_sum,
    fill_baseline,
    fill_row,
)


@EXPLAINERS.register("integrated-gradients", modality="image")
class IntegratedGradientsExplainer(Explainer):
    """Captum ``IntegratedGradients`` with a zero baseline, summed over channels."""

    name = "integrated-gradients"
    rank_by_abs = True

    def __init__(
        self, model: nn.Module, n_steps: int = 50, internal_batch_size: int | None = None, adapter=None
    ) -> None:
        super().__init__(model)
        self.method = captum_attr().IntegratedGradients(model)
        self.n_steps = n_steps
        self.internal_batch_size = internal_batch_size

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs, target=target, n_steps=self.n_steps, internal_batch_size=self.internal_batch_size
        )
        return channel_sum(attributions)


@EXPLAINERS.register("text-integrated-gradients", modality="text")
class TextIntegratedGradientsExplainer(TextLayerExplainer):
    """Captum ``LayerIntegratedGradients`` on the embeddings, from the all-fill-token sentence."""

    name = "text-integrated-gradients"
    rank_by_abs = True

    def __init__(
        self,
        model: nn.Module,
        adapter,
        layer: nn.Module | None = None,
        n_steps: int = 32,
        internal_batch_size: int | None = None,
    ) -> None:
        super().__init__(model, adapter, layer)
        self.method = captum_attr().LayerIntegratedGradients(model, self.layer)
        self.n_steps = n_steps
        self.internal_batch_size = internal_batch_size

    def token_scores(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs,
            baselines=fill_baseline(inputs, self.adapter),
            target=target,
            n_steps=self.n_steps,
            internal_batch_size=self.internal_batch_size,
        )
        return attributions.sum(-1)


@EXPLAINERS.register("tabular-integrated-gradients", modality="tabular")
class TabularIntegratedGradientsExplainer(Explainer):
    """Captum ``IntegratedGradients`` from the row of fill values (training means, missing codes)."""

    name = "tabular-integrated-gradients"
    rank_by_abs = True

    def __init__(self, model: nn.Module, adapter, n_steps: int = 50) -> None:
        super().__init__(model)
        self.adapter = adapter
        self.method = captum_attr().IntegratedGradients(model)
        self.n_steps = n_steps

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        baseline = fill_row(self.adapter, inputs)
        return self.method.attribute(inputs, baselines=baseline, target=target, n_steps=self.n_steps).detach()


__all__ = [
    "IntegratedGradientsExplainer",
    "TabularIntegratedGradientsExplainer",
    "TextIntegratedGradientsExplainer",
]
