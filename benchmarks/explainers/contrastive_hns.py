"""Contrastive Hide-and-Seek as an explainer: the keep probability of a pair-conditioned hider
(:class:`~hnsx.adapters.image.contrastive.hns.ContrastiveHnS`) for "why the target and not the probe?".

The probe of each input is ``contrast=`` or, by default, the seeker's most likely class other than the target (the
second most likely when the target is the prediction), as for ``cdeepex``. The explainer needs a trained model, so it
is not a registry entry: build it around the output of
:func:`~hnsx.adapters.image.contrastive.hns.train_contrastive_hns` (``hnsx bench shortcut`` does).
"""

from __future__ import annotations

import torch

from hnsx.adapters.image.contrastive.cdeepex import probe_classes
from hnsx.adapters.image.contrastive.hns import ContrastiveHnS
from hnsx.benchmarks.explainers.base import Explainer


class ContrastiveHnSExplainer(Explainer):
    """Keep probabilities ``(B, 1, H, W)`` of a :class:`ContrastiveHnS` for target against probe."""

    name = "contrastive-hns"

    def __init__(self, model: ContrastiveHnS, contrast: int | None = None) -> None:
        if not isinstance(model, ContrastiveHnS):
            raise TypeError(f"contrastive-hns needs a ContrastiveHnS model, got {type(model).__name__}")
        super().__init__(model)
        self.contrast = contrast

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.seeker(inputs).argmax(1)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = target.clone()
            if self.contrast is None:
                probe = probe_classes(self.model.seeker, inputs, target)
            else:
                probe = torch.full_like(target, int(self.contrast))
            return self.model.keep_probability(inputs, target, probe)


__all__ = ["ContrastiveHnSExplainer"]
