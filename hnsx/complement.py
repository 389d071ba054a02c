"""Complement control (after Yu et al. 2019, "Rethinking cooperative rationalization"): the hidden part must not
let the label be found, so the kept part has to hold all the evidence (ERASER comprehensiveness as an objective).

As Yu et al. do, a *second predictor* ``c`` (the complement predictor) reads the hidden part. Per input, with ``m``
the hider's mask, ``K`` classes and hidden units filled as the adapter fills them (``x * (1 - m)`` is
``adapter.apply_mask(x, 1 - m)``):

* ``c`` is trained with cross-entropy on ``x * (1 - m)`` (``m`` detached: ``c`` learns to read complements and
  nothing else);
* the hider is penalised by ``W * max(0, log(K) - CE(c(x * (1 - m)), y))`` (``c``'s parameters detached: the
  penalty moves the mask, hence the hider, never ``c`` or the seeker).

``log(K)`` is the cross-entropy of a uniform guess: the hinge is zero once the complement tells ``c`` no more than
chance, and the term is bounded by ``W * log(K)``; it cannot reward making ``c`` confidently *wrong* (which would be
a code of its own).

Why a second predictor and not the seeker: the seeker is trained on what the hider *keeps* and never sees a
complement, so its answers there are arbitrary; judged by it, the penalty pushed the masks in random directions
(measured on the generated text corpus before this design: no gain in comprehensiveness on average over 6 seeds).
A predictor trained on complements finds the evidence that is left in them, which is what the hider must remove.
``c`` starts as a copy of the seeker as built (before any pretraining) and is the model's ``complement``
submodule: the optimizer, checkpoints and resume carry it like the hider and seeker. It is training state, not part
of the explainer: :func:`hnsx.training.checkpoint.load_model_state` drops it when loading into a model without one
(``hnsx explain``).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from hnsx.model import FrozenModule, HideAndSeek, HnSOutput

#: The attribute (and state-dict prefix) of the complement predictor on a :class:`~hnsx.model.HideAndSeek`.
PREDICTOR = "complement"


def attach_predictor(model: HideAndSeek) -> nn.Module:
    """Give ``model`` its complement predictor (once): a trainable copy of its seeker as it is now."""
    if not hasattr(model, PREDICTOR):
        predictor = copy.deepcopy(model.seeker)
        if isinstance(predictor, FrozenModule):  # the seeker is frozen; the complement predictor still learns
            predictor = predictor.module
        for p in predictor.parameters():
            p.requires_grad_(True)
        setattr(model, PREDICTOR, predictor)
    return getattr(model, PREDICTOR)


def detached_logits(module: nn.Module, inputs) -> torch.Tensor:
    """``module(inputs)`` with ``module``'s parameters detached (gradient flows to ``inputs`` only), on copies of its
    buffers (batch-norm statistics do not learn from this pass)."""
    state = {name: p.detach() for name, p in module.named_parameters()}
    state.update({name: b.detach().clone() for name, b in module.named_buffers()})
    return functional_call(module, state, (inputs,))


def complement_terms(
    model: HideAndSeek, inputs: torch.Tensor, output: HnSOutput, targets: torch.Tensor, weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hider's per-sample penalty ``(B,)``, ``weight * relu(log(K) - CE(c(x * (1 - m)), y))``, and the complement
    predictor's own loss (scalar mean cross-entropy on ``x * (1 - m)`` with ``m`` detached).

    ``output`` is ``model(inputs)``; its mask carries the binarizer's surrogate gradient to the hider. ``model`` must
    have its predictor (:func:`attach_predictor`).
    """
    predictor = getattr(model, PREDICTOR)
    own = F.cross_entropy(predictor(model.adapter.apply_mask(inputs, 1.0 - output.mask.detach())).float(), targets)
    logits = detached_logits(predictor, model.adapter.apply_mask(inputs, 1.0 - output.mask))
    ce = F.cross_entropy(logits.float(), targets, reduction="none")
    return weight * torch.relu(math.log(logits.shape[1]) - ce), own


__all__ = ["PREDICTOR", "attach_predictor", "complement_terms", "detached_logits"]
