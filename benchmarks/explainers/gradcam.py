"""Grad-CAM (Captum ``LayerGradCam``) on a convolution of an image classifier, upsampled to the input."""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer, captum_attr


def last_conv(model: nn.Module) -> nn.Conv2d:
    """The last ``nn.Conv2d`` of ``model`` in registration order (Grad-CAM's usual layer)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM; pass layer=... explicitly")
    return convs[-1]


@EXPLAINERS.register("layer-gradcam", modality="image")
class GradCamExplainer(Explainer):
    """Captum ``LayerGradCam`` on a convolution (default: the last one), upsampled bilinearly to the input."""

    name = "layer-gradcam"

    def __init__(self, model: nn.Module, layer: nn.Module | None = None, adapter=None) -> None:
        super().__init__(model)
        self.method = captum_attr().LayerGradCam(model, layer if layer is not None else last_conv(model))

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        cam = self.method.attribute(inputs, target=target)
        return captum_attr().LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), "bilinear").detach()


__all__ = [
    "GradCamExplainer",
    "last_conv",
]
