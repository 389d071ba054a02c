"""Perturbation methods (Captum): occlusion of image windows, feature ablation of table columns; ranked by
absolute value.
"""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer, captum_attr, channel_sum, fill_row


@EXPLAINERS.register("occlusion", modality="image")
class OcclusionExplainer(Explainer):
    """Captum ``Occlusion`` with a square ``window`` (default: a seventh of the shorter side) and equal stride."""

    name = "occlusion"
    rank_by_abs = True

    def __init__(
        self, model: nn.Module, window: int | None = None, perturbations_per_eval: int = 1, adapter=None
    ) -> None:
        super().__init__(model)
        self.method = captum_attr().Occlusion(model)
        self.window = window
        self.perturbations_per_eval = perturbations_per_eval

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c, h, w = inputs.shape[1:]
        k = self.window or max(1, min(h, w) // 7)
        attributions = self.method.attribute(
            inputs,
            sliding_window_shapes=(c, k, k),
            strides=(c, k, k),
            target=target,
            perturbations_per_eval=self.perturbations_per_eval,
        )
        return channel_sum(attributions)


@EXPLAINERS.register("tabular-feature-ablation", modality="tabular")
class TabularFeatureAblationExplainer(Explainer):
    """Captum ``FeatureAblation``: the target logit's drop when one feature takes its fill value."""

    name = "tabular-feature-ablation"
    rank_by_abs = True

    def __init__(self, model: nn.Module, adapter, perturbations_per_eval: int = 1) -> None:
        super().__init__(model)
        self.adapter = adapter
        self.method = captum_attr().FeatureAblation(model)
        self.perturbations_per_eval = perturbations_per_eval

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        baseline = fill_row(self.adapter, inputs)
        with torch.no_grad():
            scores = self.method.attribute(
                inputs, baselines=baseline, target=target, perturbations_per_eval=self.perturbations_per_eval
            )
        return scores.detach()


__all__ = [
    "OcclusionExplainer",
    "TabularFeatureAblationExplainer",
]
