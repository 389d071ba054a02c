"""The Hide-and-Seek model: hider -> binarizer -> adapter mask -> seeker."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hnsx.adapter import Adapter, InputError, check_finite
from hnsx.binarizers import Binarizer


@dataclass
class HnSOutput:
    """What one forward pass of :class:`HideAndSeek` returns.

    Attributes
    ----------
    logits:
        Class logits of the seeker on the masked input, ``(B, num_classes)``.
    mask:
        Binary mask ``(B, *mask_shape)`` in {0, 1} (carries the surrogate gradient in training); in training with
        the ``hard-concrete`` estimator, its relaxed mask in [0, 1] with exact zeros and ones.
    keep_prob:
        Keep probability ``p`` per unit, ``(B, *mask_shape)``; a ranking of the units.
    hider_logits:
        Raw hider output ``(B, *mask_shape)``.
    valid:
        Which units count, ``(B, *mask_shape)``, or ``None`` when all do.
    """

    logits: torch.Tensor
    mask: torch.Tensor
    keep_prob: torch.Tensor
    hider_logits: torch.Tensor
    valid: torch.Tensor | None = None


#: What a :class:`FrozenModule` passes through to the module it wraps, so that code which finds a text classifier's
#: token embeddings (the text explainers, a hider sharing them) treats the wrapped model exactly as the user's.
FORWARDED = ("input_embeddings", "get_input_embeddings")


class FrozenModule(nn.Module):
    """Wraps a module so that its weights never train and it always runs in eval mode (post-hoc use).

    The wrapped module's ``input_embeddings()`` / ``get_input_embeddings()`` (:data:`FORWARDED`) are reachable on the
    wrapper, and only where the module has them (``hasattr`` answers as for the module itself).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.module.eval()

    def train(self, mode: bool = True) -> FrozenModule:
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def __getattr__(self, name: str):
        if name in FORWARDED:
            return getattr(self.module, name)  # AttributeError when the wrapped module has no such method
        return super().__getattr__(name)


class HideAndSeek(nn.Module):
    """A hider and a seeker trained together so that the seeker classifies only what the hider keeps.

    Parameters
    ----------
    hider:
        ``forward(x) -> logits`` of shape ``adapter.mask_shape(x)``.
    binarizer:
        Turns hider logits into a {0, 1} mask (:mod:`hnsx.binarizers`).
    seeker:
        Any classifier ``forward(x_masked) -> (B, num_classes)``.
    adapter:
        The modality adapter (:mod:`hnsx.adapters`).
    num_classes:
        Number of classes; checked against the seeker's output on the first forward pass.
    """

    def __init__(
        self,
        hider: nn.Module,
        binarizer: Binarizer,
        seeker: nn.Module,
        adapter: Adapter,
        num_classes: int,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        self.hider = hider
        self.binarizer = binarizer
        self.seeker = seeker
        self.adapter = adapter
        self.num_classes = int(num_classes)

    def _check_logits(self, logits: torch.Tensor) -> None:
        if logits.dim() != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"the seeker returned logits of shape {tuple(logits.shape)}, but num_classes={self.num_classes}; "
                "the seeker's output must be (batch, num_classes)"
            )

    def hide(self, x: torch.Tensor, sample: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hider and binarizer only: ``(mask, keep_prob, hider_logits)``."""
        self.adapter.validate(x)
        check_finite(x)
        hider_logits = self.hider(x)
        expected = self.adapter.mask_shape(x)
        if tuple(hider_logits.shape) != tuple(expected):
            raise InputError(f"the hider returned shape {tuple(hider_logits.shape)}, expected mask shape {expected}")
        mask = self.binarizer(hider_logits, sample=sample)
        keep_prob = self.binarizer.probability(hider_logits)
        return mask, keep_prob, hider_logits

    def seek(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Seeker logits on ``x`` masked by ``mask``."""
        logits = self.seeker(self.adapter.apply_mask(x, mask))
        self._check_logits(logits)
        return logits

    def forward(self, x: torch.Tensor, sample: bool | None = None) -> HnSOutput:
        """Run the whole flow on a batch ``x``.

        ``sample=None``: training mode samples (stochastic binarizer) or thresholds (deterministic); eval mode
        thresholds. ``sample=True`` forces Bernoulli masks, ``sample=False`` forces thresholding.
        """
        mask, keep_prob, hider_logits = self.hide(x, sample=sample)
        logits = self.seek(x, mask)
        return HnSOutput(
            logits=logits,
            mask=mask,
            keep_prob=keep_prob,
            hider_logits=hider_logits,
            valid=self.adapter.valid_units(x),
        )

    def _inference(self, fn, x: torch.Tensor):
        """Run ``fn(x)`` in eval mode under ``torch.inference_mode``, restoring the train/eval mode after."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return fn(x)
        finally:
            self.train(was_training)

    def explain(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """Explanations for a batch: binary masks ``(B, *mask_shape)``.

        Deterministic (``p >= 0.5``) unless ``sample=True``; the module's train/eval mode is left unchanged.
        """
        return self._inference(lambda inputs: self.hide(inputs, sample=sample)[0], x)

    def explain_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Keep probabilities ``(B, *mask_shape)``: a ranking of the units (the mask is ``p >= 0.5``)."""
        return self._inference(lambda inputs: self.hide(inputs, sample=False)[1], x)

    def predict_explain(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predicted classes ``(B,)``, masks and keep probabilities ``(B, *mask_shape)`` in one pass.

        One evaluation of hider and seeker in eval mode, under ``torch.inference_mode`` (no autograd records).
        """

        def run(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            mask, keep_prob, _ = self.hide(inputs, sample=False)
            return self.seek(inputs, mask).argmax(1), mask, keep_prob

        return self._inference(run, x)

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted classes ``(B,)`` and their masks ``(B, *mask_shape)`` in one pass, in eval mode."""
        classes, mask, _ = self.predict_explain(x)
        return classes, mask
