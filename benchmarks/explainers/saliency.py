"""Gradient maps (Captum): saliency, SmoothGrad-squared and VarGrad on images; the embedding gradient on text."""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer, TextLayerExplainer, captum_attr, channel_sum


@EXPLAINERS.register("saliency", modality="image")
class SaliencyExplainer(Explainer):
    """Captum ``Saliency``: absolute input gradients, summed over channels."""

    name = "saliency"

    def __init__(self, model: nn.Module, adapter=None) -> None:
        super().__init__(model)
        self.method = captum_attr().Saliency(model)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        inputs = inputs.detach().requires_grad_(True)  # what Captum would do, without its warning
        return channel_sum(self.method.attribute(inputs, target=target))


class _NoiseTunnelExplainer(Explainer):
    """Captum ``NoiseTunnel`` over ``Saliency`` (``abs`` chooses absolute or raw gradients), summed over channels."""

    nt_type = ""
    abs_gradients = True

    def __init__(
        self,
        model: nn.Module,
        nt_samples: int = 20,
        stdevs: float = 0.15,
        nt_samples_batch_size: int | None = None,
        adapter=None,
    ) -> None:
        super().__init__(model)
        attr = captum_attr()
        self.method = attr.NoiseTunnel(attr.Saliency(model))
        self.nt_samples = nt_samples
        self.stdevs = stdevs
        self.nt_samples_batch_size = nt_samples_batch_size

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs.detach().requires_grad_(True),
            nt_type=self.nt_type,
            nt_samples=self.nt_samples,
            nt_samples_batch_size=self.nt_samples_batch_size,
            stdevs=self.stdevs,
            target=target,
            abs=self.abs_gradients,
        )
        return channel_sum(attributions)


@EXPLAINERS.register("smoothgrad-sq", modality="image")
class SmoothGradSquaredExplainer(_NoiseTunnelExplainer):
    """SmoothGrad-squared: the mean squared input gradient over noisy copies (Captum ``NoiseTunnel``)."""

    name = "smoothgrad-sq"
    nt_type = "smoothgrad_sq"


@EXPLAINERS.register("vargrad", modality="image")
class VarGradExplainer(_NoiseTunnelExplainer):
    """VarGrad: the variance of the raw input gradient over noisy copies (Captum ``NoiseTunnel``)."""

    name = "vargrad"
    nt_type = "vargrad"
    abs_gradients = False


@EXPLAINERS.register("text-saliency", modality="text")
class TextSaliencyExplainer(TextLayerExplainer):
    """The gradient of the target logit with respect to the token embeddings, absolute values summed."""

    name = "text-saliency"

    def __init__(self, model: nn.Module, adapter, layer: nn.Module | None = None) -> None:
        super().__init__(model, adapter, layer)
        self.method = captum_attr().LayerGradientXActivation(model, self.layer, multiply_by_inputs=False)

    def token_scores(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.method.attribute(inputs, target=target).abs().sum(-1)


__all__ = [
    "SaliencyExplainer",
    "SmoothGradSquaredExplainer",
    "TextSaliencyExplainer",
    "VarGradExplainer",
]
