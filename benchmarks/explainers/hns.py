"""Hide-and-Seek as an explainer: the hider's keep probability per unit (``hns``, ``text-hns``, ``tabular-hns``)."""

from __future__ import annotations

import torch

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer
from hnsx.model import HideAndSeek


@EXPLAINERS.register("hns", modality="image")
class HnSExplainer(Explainer):
    """Hide-and-Seek: the hider's keep probability, and prediction and mask in one pass."""

    name = "hns"

    def __init__(self, model: HideAndSeek, adapter=None) -> None:
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


@EXPLAINERS.register("text-hns", modality="text")
class TextHnSExplainer(HnSExplainer):
    """Hide-and-Seek on text: the keep probability per unit slot ``(B, L)``."""

    name = "text-hns"

    def __init__(self, model: HideAndSeek, adapter=None) -> None:
        super().__init__(model)


@EXPLAINERS.register("tabular-hns", modality="tabular")
class TabularHnSExplainer(HnSExplainer):
    """Hide-and-Seek on tables: the keep probability per feature ``(B, F)``."""

    name = "tabular-hns"

    def __init__(self, model: HideAndSeek, adapter=None) -> None:
        super().__init__(model)


__all__ = [
    "HnSExplainer",
    "TabularHnSExplainer",
    "TextHnSExplainer",
]
