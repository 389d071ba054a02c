"""LIME and KernelSHAP (Captum): a weighted linear surrogate of the model fitted to its answers on copies of the
input in which groups of units are replaced by their fill (image blocks by 0, words by the fill token, table
features by their fill values); the surrogate's coefficient is the group's score. Ranked by absolute value; not in
the default lists (hundreds of forward passes per input), run when named (``--explainers lime,kernel-shap``).

Groups: image blocks of ``window`` pixels (default a seventh of the shorter side, as ``occlusion``), text words
(or tokens with ``word_level=False``), table features. ``n_samples`` perturbed copies per input (default 200).
"""

from __future__ import annotations

import torch
from torch import nn

from hnsx.benchmarks.explainers.base import EXPLAINERS, Explainer, captum_attr, fill_baseline, fill_row

N_SAMPLES = 200


def block_groups(shape: torch.Size, window: int | None) -> torch.Tensor:
    """``(1, C, H, W)`` group ids: one per ``window`` x ``window`` block, shared by the channels."""
    c, h, w = shape
    k = window or max(1, min(h, w) // 7)
    rows = torch.arange(h) // k
    cols = torch.arange(w) // k
    ids = rows[:, None] * ((w + k - 1) // k) + cols[None, :]
    return ids.expand(c, h, w).unsqueeze(0)


class _SurrogateExplainer(Explainer):
    """A Captum surrogate method (``method``: ``Lime`` or ``KernelShap``) over groups of units."""

    method_name = ""
    rank_by_abs = True
    by_default = False

    def __init__(self, model: nn.Module, n_samples: int = N_SAMPLES, perturbations_per_eval: int = 16) -> None:
        super().__init__(model)
        if n_samples < 2:
            raise ValueError(f"n_samples must be at least 2, got {n_samples}")
        self.n_samples = int(n_samples)
        self.perturbations_per_eval = int(perturbations_per_eval)

    def build(self, forward):
        """The Captum method around ``forward``: KernelSHAP as Captum has it; LIME with ridge regression (alpha 1)
        as in Ribeiro et al.'s implementation, not Captum's default Lasso, which zeroes every coefficient of a
        model whose answers move little."""
        attr = captum_attr()
        if self.method_name == "Lime":
            from captum._utils.models.linear_model import SkLearnRidge

            return attr.Lime(forward, interpretable_model=SkLearnRidge(alpha=1.0))
        return getattr(attr, self.method_name)(forward)

    def run(self, forward, inputs, target, baselines, groups) -> torch.Tensor:
        """Attributions of ``inputs`` one input at a time (Captum fits one surrogate per input)."""
        method = self.build(forward)
        out = []
        for i in range(inputs.shape[0]):
            out.append(
                method.attribute(
                    inputs[i : i + 1],
                    baselines=baselines[i : i + 1] if baselines.shape[0] > 1 else baselines,
                    target=target[i : i + 1],
                    feature_mask=groups[i : i + 1] if groups.shape[0] > 1 else groups,
                    n_samples=self.n_samples,
                    perturbations_per_eval=self.perturbations_per_eval,
                ).detach()
            )
        return torch.cat(out)


class _ImageSurrogate(_SurrogateExplainer):
    def __init__(self, model: nn.Module, window: int | None = None, adapter=None, **options) -> None:
        super().__init__(model, **options)
        self.window = window

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        groups = block_groups(inputs.shape[1:], self.window).to(inputs.device)
        scores = self.run(self.model, inputs, target, torch.zeros_like(inputs[:1]), groups)
        return scores[:, :1]  # every channel of a block holds the block's coefficient


class _TextSurrogate(_SurrogateExplainer):
    """Groups are the adapter's units; a hidden unit's tokens become the fill token (what HnS hides them as)."""

    def __init__(self, model: nn.Module, adapter, **options) -> None:
        super().__init__(model, **options)
        self.adapter = adapter

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        units = self.adapter.units(inputs)  # (B, L), -1 for special tokens and padding
        spare = int(units.max()) + 1  # one group for the tokens of no unit (the baseline leaves them as they are)
        groups = torch.where(units >= 0, units, torch.full_like(units, spare))
        groups = groups.unsqueeze(1).expand_as(inputs)  # the word-id row moves with its token (it never changes)
        model = self.model

        def forward(x: torch.Tensor) -> torch.Tensor:  # Captum mixes input and baseline in floating point
            return model(x.round().long())

        scores = self.run(forward, inputs.float(), target, fill_baseline(inputs, self.adapter).float(), groups)[:, 0]
        # every token of a unit holds the unit's coefficient: one value per unit slot
        slots = torch.zeros_like(scores).scatter_(1, units.clamp_min(0), scores * (units >= 0))
        return slots * self.adapter.valid_units(inputs)


class _TabularSurrogate(_SurrogateExplainer):
    def __init__(self, model: nn.Module, adapter, **options) -> None:
        super().__init__(model, **options)
        self.adapter = adapter

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        groups = torch.arange(inputs.shape[1], device=inputs.device).unsqueeze(0)
        return self.run(self.model, inputs, target, fill_row(self.adapter, inputs), groups)


@EXPLAINERS.register("lime", modality="image")
class LimeExplainer(_ImageSurrogate):
    """Captum ``Lime`` over image blocks."""

    name = "lime"
    method_name = "Lime"


@EXPLAINERS.register("kernel-shap", modality="image")
class KernelShapExplainer(_ImageSurrogate):
    """Captum ``KernelShap`` over image blocks."""

    name = "kernel-shap"
    method_name = "KernelShap"


@EXPLAINERS.register("text-lime", modality="text")
class TextLimeExplainer(_TextSurrogate):
    """Captum ``Lime`` over words (tokens)."""

    name = "text-lime"
    method_name = "Lime"


@EXPLAINERS.register("text-kernel-shap", modality="text")
class TextKernelShapExplainer(_TextSurrogate):
    """Captum ``KernelShap`` over words (tokens)."""

    name = "text-kernel-shap"
    method_name = "KernelShap"


@EXPLAINERS.register("tabular-lime", modality="tabular")
class TabularLimeExplainer(_TabularSurrogate):
    """Captum ``Lime`` over features, hidden ones at their fill values."""

    name = "tabular-lime"
    method_name = "Lime"


@EXPLAINERS.register("tabular-kernel-shap", modality="tabular")
class TabularKernelShapExplainer(_TabularSurrogate):
    """Captum ``KernelShap`` over features, hidden ones at their fill values."""

    name = "tabular-kernel-shap"
    method_name = "KernelShap"


__all__ = [
    "KernelShapExplainer",
    "LimeExplainer",
    "TabularKernelShapExplainer",
    "TabularLimeExplainer",
    "TextKernelShapExplainer",
    "TextLimeExplainer",
    "block_groups",
]
