"""Reference-based gradient methods (Captum): GradientSHAP and DeepLIFT, images (reference: the zero image) and
tables (reference: the row of fill values). Ranked by absolute value; not in the default lists, run when named
(``--explainers gradient-shap,deeplift``). Text has none of them: both move the input towards the reference
continuously, and token ids are not continuous (use ``text-integrated-gradients``, ``text-lime`` or
``text-kernel-shap``).

GradientSHAP: the expected gradient times ``(x - reference)`` over ``n_samples`` points drawn between them, with
Gaussian noise of ``stdevs`` on the input (Captum's defaults: 20 samples; the noise here 0.09 for images, 0 for
tables). DeepLIFT: Captum's rescale rule from the reference; it needs a model whose nonlinearities are modules
(``nn.ReLU``), not functions.
"""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer, captum_attr, channel_sum, fill_row


class _ReferenceExplainer(Explainer):
    rank_by_abs = True
    by_default = False

    def reference(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def scores(self, attributions: torch.Tensor) -> torch.Tensor:
        return attributions.detach()


class _GradientShap(_ReferenceExplainer):
    def __init__(self, model: nn.Module, n_samples: int = 20, stdevs: float = 0.0) -> None:
        super().__init__(model)
        self.method = captum_attr().GradientShap(model)
        self.n_samples = int(n_samples)
        self.stdevs = float(stdevs)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs, baselines=self.reference(inputs), target=target, n_samples=self.n_samples, stdevs=self.stdevs
        )
        return self.scores(attributions)


class _DeepLift(_ReferenceExplainer):
    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.method = captum_attr().DeepLift(model)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.scores(self.method.attribute(inputs, baselines=self.reference(inputs), target=target))


class _ImageReference:
    def reference(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(inputs[:1])

    def scores(self, attributions: torch.Tensor) -> torch.Tensor:
        return channel_sum(attributions)


class _TabularReference:
    def reference(self, inputs: torch.Tensor) -> torch.Tensor:
        return fill_row(self.adapter, inputs)


@EXPLAINERS.register("gradient-shap", modality="image")
class GradientShapExplainer(_ImageReference, _GradientShap):
    """Captum ``GradientShap`` from the zero image, summed over channels."""

    name = "gradient-shap"

    def __init__(self, model: nn.Module, n_samples: int = 20, stdevs: float = 0.09, adapter=None) -> None:
        super().__init__(model, n_samples, stdevs)


@EXPLAINERS.register("deeplift", modality="image")
class DeepLiftExplainer(_ImageReference, _DeepLift):
    """Captum ``DeepLift`` from the zero image, summed over channels."""

    name = "deeplift"

    def __init__(self, model: nn.Module, adapter=None) -> None:
        super().__init__(model)


@EXPLAINERS.register("tabular-gradient-shap", modality="tabular")
class TabularGradientShapExplainer(_TabularReference, _GradientShap):
    """Captum ``GradientShap`` from the row of fill values."""

    name = "tabular-gradient-shap"

    def __init__(self, model: nn.Module, adapter, n_samples: int = 20, stdevs: float = 0.0) -> None:
        super().__init__(model, n_samples, stdevs)
        self.adapter = adapter


@EXPLAINERS.register("tabular-deeplift", modality="tabular")
class TabularDeepLiftExplainer(_TabularReference, _DeepLift):
    """Captum ``DeepLift`` from the row of fill values."""

    name = "tabular-deeplift"

    def __init__(self, model: nn.Module, adapter) -> None:
        super().__init__(model)
        self.adapter = adapter


__all__ = [
    "DeepLiftExplainer",
    "GradientShapExplainer",
    "TabularDeepLiftExplainer",
    "TabularGradientShapExplainer",
]
