"""Uniform random scores from a seeded generator: the baseline every explainer must beat."""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer


@EXPLAINERS.register("random", modality="image")
class RandomExplainer(Explainer):
    """Uniform random scores from a seeded generator: the floor every explainer must beat."""

    name = "random"

    def __init__(self, model: nn.Module, seed: int = 0, adapter=None) -> None:
        super().__init__(model)
        self.generator = torch.Generator().manual_seed(seed)
        self.adapter = adapter

    def shape(self, inputs: torch.Tensor) -> tuple[int, ...]:
        """The score shape of ``inputs``: the adapter's mask shape when one is given, else ``(B, 1, H, W)``."""
        if self.adapter is not None:
            return tuple(self.adapter.mask_shape(inputs))
        b, _, h, w = inputs.shape
        return (b, 1, h, w)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return torch.rand(self.shape(inputs), generator=self.generator).to(inputs.device)


@EXPLAINERS.register("text-random", modality="text")
class TextRandomExplainer(RandomExplainer):
    """Uniform random scores per unit slot ``(B, L)``."""

    name = "text-random"

    def __init__(self, model: nn.Module, adapter=None, seed: int = 0) -> None:
        super().__init__(model, seed=seed)

    def shape(self, inputs: torch.Tensor) -> tuple[int, ...]:
        return (inputs.shape[0], inputs.shape[-1])


@EXPLAINERS.register("tabular-random", modality="tabular")
class TabularRandomExplainer(RandomExplainer):
    """Uniform random scores per feature ``(B, F)``."""

    name = "tabular-random"

    def __init__(self, model: nn.Module, adapter=None, seed: int = 0) -> None:
        super().__init__(model, seed=seed)

    def shape(self, inputs: torch.Tensor) -> tuple[int, ...]:
        return tuple(inputs.shape)


__all__ = [
    "RandomExplainer",
    "TabularRandomExplainer",
    "TextRandomExplainer",
]
