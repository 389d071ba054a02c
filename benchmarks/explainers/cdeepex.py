"""CDeepEx (thesis "Deep Contrastive Explanation", chapter 3) as an explainer: "why the target class and not the
probe class?".

For each input with target class ``y_true`` and probe class ``y_probe`` (``contrast=``; default: the most likely
class other than the target, i.e. the second most likely when the target is the prediction), procedure 1
(:func:`~hnsx.adapters.image.contrastive.cdeepex.cdeepex`) finds the closest counterfactual on the boundary of the
two classes through the generator; the explanation is the difference image (:meth:`CDeepExExplainer.explain`) and
the attribution its sliding-window scores (section 3.1.3,
:func:`~hnsx.adapters.image.contrastive.regions.window_scores`): every pixel gets the largest average change of a
window covering it.

Without a generator (``generator=None``) the search runs in pixel space (``G`` the identity, ``z0 = I``). Train a
generator with ``hnsx train-generator`` and pass it (or its run folder) as ``generator=``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from hnsx.adapters.image.contrastive.cdeepex import CDeepExConfig, ContrastiveExplanation, cdeepex, probe_classes
from hnsx.adapters.image.contrastive.regions import window_scores
from hnsx.adapters.image.contrastive.vae import load_generator
from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer


@EXPLAINERS.register("cdeepex", modality="image")
class CDeepExExplainer(Explainer):
    """CDeepEx around a classifier; ``generator`` a VAE (or a generator run folder), ``contrast`` a fixed probe
    class (default: the most likely other class), ``config`` the optimiser settings (or a dict of them),
    ``windows`` the window sides (default :func:`~hnsx.adapters.image.contrastive.regions.default_windows`)."""

    name = "cdeepex"
    by_default = False  # contrastive, and an optimisation per input: in the shortcut benchmark's list, else named

    def __init__(
        self,
        model: nn.Module,
        generator: nn.Module | str | os.PathLike | None = None,
        contrast: int | None = None,
        config: CDeepExConfig | dict | None = None,
        windows: tuple[int, ...] | None = None,
        adapter=None,
    ) -> None:
        super().__init__(model)
        self.generator = load_generator(generator) if isinstance(generator, (str, os.PathLike)) else generator
        self.contrast = contrast
        self.config = CDeepExConfig(**config) if isinstance(config, dict) else config or CDeepExConfig()
        self.windows = windows

    def probes(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The probe class of each input ``(B,)``: ``contrast``, or the most likely class other than ``target``."""
        if self.contrast is None:
            return probe_classes(self.model, inputs, target)
        return torch.full_like(target, int(self.contrast))

    def explain(
        self, inputs: torch.Tensor, target: torch.Tensor, probe: torch.Tensor | None = None
    ) -> ContrastiveExplanation:
        """The contrastive explanation of ``inputs (B, C, H, W)`` for ``target`` against ``probe`` (``(B,)``)."""
        probe = self.probes(inputs, target) if probe is None else probe
        return cdeepex(self.model, inputs, target, probe, self.generator, self.config)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return window_scores(self.explain(inputs, target).difference, self.windows).detach()


__all__ = ["CDeepExExplainer"]
