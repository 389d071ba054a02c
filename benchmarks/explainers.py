"""Explainers behind one contract, so that benchmarks treat HnS, Integrated Gradients and Grad-CAM alike.

The contract is Captum's: an explainer is built around a model once, and ``attribute(inputs, target)`` returns one
score per mask unit, ``(B, 1, H, W)`` for images (higher means more important). Channel attributions of the
Captum methods are summed over channels; Grad-CAM maps are upsampled bilinearly to the input size.
``predict_and_attribute(inputs)`` gives the predicted classes and the attributions for them: for Captum methods a
forward pass to predict, then ``attribute`` with the predicted class as target (Captum needs the target first); for
HnS a single pass of hider and seeker.

Built-in entries of :data:`EXPLAINERS` (``build_explainer(name, model, **options)``):

``hns``
    The hider's keep probability (``model`` is a :class:`~hnsx.model.HideAndSeek`); its binary mask is
    ``keep_prob >= 0.5``.
``integrated-gradients``
    Captum ``IntegratedGradients`` (``n_steps=50``, zero baseline).
``layer-gradcam``
    Captum ``LayerGradCam`` on the classifier's last ``Conv2d`` (or ``layer=``), upsampled to the input.
``saliency``
    Captum ``Saliency`` (absolute input gradient).
``occlusion``
    Captum ``Occlusion`` with a square window (``window`` pixels, default 1/7 of the shorter side) and the same
    stride.
``random``
    Uniform noise: the baseline every explainer must beat.

The Captum explainers take any classifier ``(B, C, H, W) -> (B, K)`` (for HnS benchmarks, the seeker).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from hnsx.model import HideAndSeek
from hnsx.registry import Registry

#: Explainer builders: ``builder(model, **options) -> Explainer``.
EXPLAINERS: Registry[Explainer] = Registry("explainer")


def _captum():
    try:
        import captum.attr as attr
    except ImportError:  # pragma: no cover - captum is in the bench extra
        raise ImportError("the benchmarks need Captum: pip install 'hnsx[bench]'") from None
    return attr


class Explainer(ABC):
    """One attribution method around one model (Captum's contract).

    Subclasses implement :meth:`attribute`; :meth:`predict_and_attribute` predicts first by default.
    """

    name: str = ""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @abstractmethod
    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scores ``(B, 1, H, W)`` of ``inputs (B, C, H, W)`` for the classes ``target (B,)``."""

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """Predicted classes ``(B,)`` of the explained model."""
        with torch.inference_mode():
            return self.model(inputs).argmax(1)

    def predict_and_attribute(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted classes ``(B,)`` and the attributions ``(B, 1, H, W)`` for them."""
        target = self.predict(inputs).clone()  # a normal tensor: Captum needs autograd on what it touches
        return target, self.attribute(inputs, target)


def _channel_sum(attributions: torch.Tensor) -> torch.Tensor:
    return attributions.sum(dim=1, keepdim=True).detach()


def last_conv(model: nn.Module) -> nn.Conv2d:
    """The last ``nn.Conv2d`` of ``model`` in registration order (Grad-CAM's usual layer)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM; pass layer=... explicitly")
    return convs[-1]


@EXPLAINERS.register("hns")
class HnSExplainer(Explainer):
    """Hide-and-Seek: the hider's keep probability, and prediction and mask in one pass."""

    name = "hns"

    def __init__(self, model: HideAndSeek) -> None:
        if not isinstance(model, HideAndSeek):
            raise TypeError(f"the hns explainer needs a HideAndSeek model, got {type(model).__name__}")
        super().__init__(model)

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model.predict(inputs)[0]

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """The keep probability ``(B, 1, H, W)``; the mask does not depend on ``target``."""
        return self.model.explain_scores(inputs)

    def predict_and_attribute(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        classes, _, keep_prob = self.model.predict_explain(inputs)
        return classes, keep_prob


@EXPLAINERS.register("integrated-gradients")
class IntegratedGradientsExplainer(Explainer):
    """Captum ``IntegratedGradients`` with a zero baseline, summed over channels."""

    name = "integrated-gradients"

    def __init__(self, model: nn.Module, n_steps: int = 50, internal_batch_size: int | None = None) -> None:
        super().__init__(model)
        self.method = _captum().IntegratedGradients(model)
        self.n_steps = n_steps
        self.internal_batch_size = internal_batch_size

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs, target=target, n_steps=self.n_steps, internal_batch_size=self.internal_batch_size
        )
        return _channel_sum(attributions)


@EXPLAINERS.register("layer-gradcam")
class GradCamExplainer(Explainer):
    """Captum ``LayerGradCam`` on a convolution (default: the last one), upsampled bilinearly to the input."""

    name = "layer-gradcam"

    def __init__(self, model: nn.Module, layer: nn.Module | None = None) -> None:
        super().__init__(model)
        self.method = _captum().LayerGradCam(model, layer if layer is not None else last_conv(model))

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        cam = self.method.attribute(inputs, target=target)
        return _captum().LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), "bilinear").detach()


@EXPLAINERS.register("saliency")
class SaliencyExplainer(Explainer):
    """Captum ``Saliency``: absolute input gradients, summed over channels."""

    name = "saliency"

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.method = _captum().Saliency(model)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        inputs = inputs.detach().requires_grad_(True)  # what Captum would do, without its warning
        return _channel_sum(self.method.attribute(inputs, target=target))


@EXPLAINERS.register("occlusion")
class OcclusionExplainer(Explainer):
    """Captum ``Occlusion`` with a square ``window`` (default: a seventh of the shorter side) and equal stride."""

    name = "occlusion"

    def __init__(self, model: nn.Module, window: int | None = None, perturbations_per_eval: int = 1) -> None:
        super().__init__(model)
        self.method = _captum().Occlusion(model)
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
        return _channel_sum(attributions)


@EXPLAINERS.register("random")
class RandomExplainer(Explainer):
    """Uniform random scores from a seeded generator: the floor every explainer must beat."""

    name = "random"

    def __init__(self, model: nn.Module, seed: int = 0) -> None:
        super().__init__(model)
        self.generator = torch.Generator().manual_seed(seed)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = inputs.shape
        return torch.rand(b, 1, h, w, generator=self.generator).to(inputs.device)


def build_explainer(name: str, model: nn.Module, **options) -> Explainer:
    """Build the explainer ``name`` around ``model`` (a :class:`HideAndSeek` for ``hns``, else a classifier)."""
    return EXPLAINERS.build(name, model=model, **options)
