"""Complement control (after Yu et al. 2019, "Rethinking cooperative rationalization"): the hidden part must not
let the label be found, so the kept part has to hold all the evidence (ERASER comprehensiveness as an objective).

Per input, with ``m`` the hider's mask, ``K`` classes and ``CE_c = CE(seeker(x * (1 - m)), y)`` the seeker's
cross-entropy on the *hidden* part (hidden units filled as the adapter fills them, so ``x * (1 - m)`` is
``adapter.apply_mask(x, 1 - m)``)::

    penalty = W * max(0, log(K) - CE_c)

``log(K)`` is the cross-entropy of a uniform guess: the hinge is zero once the complement tells the seeker no more
than chance, and the term is bounded by ``W * log(K)`` (it cannot reward making the seeker confidently *wrong*
without limit, which would be a code of its own).

Which predictor judges the complement: the seeker itself, with its parameters detached (the term's gradient reaches
the mask, hence the hider, and never the seeker). Yu et al. train a second, adversarial predictor on complements;
here the judge is the model whose comprehensiveness ERASER measures (the explained classifier is the seeker), no
extra parameters, optimizer state or checkpoint entries are needed, and in the leak-free mode the seeker is trained
on random masks, complements included in distribution. A seeker that could learn from this term would have the
degenerate way out of failing on complements on purpose; detaching it rules that out.
"""

from __future__ import annotations

import math

import torch
from torch.func import functional_call
from torch.nn import functional as F

from hnsx.model import HideAndSeek, HnSOutput


def detached_seeker_logits(model: HideAndSeek, x_masked) -> torch.Tensor:
    """``model.seeker(x_masked)`` with the seeker's parameters detached: gradient flows to ``x_masked`` only. The
    pass runs on copies of the seeker's buffers, so batch-norm statistics do not learn from complements either."""
    seeker = model.seeker
    state = {name: p.detach() for name, p in seeker.named_parameters()}
    state.update({name: b.detach().clone() for name, b in seeker.named_buffers()})
    return functional_call(seeker, state, (x_masked,))


def complement_penalty(
    model: HideAndSeek, inputs: torch.Tensor, output: HnSOutput, targets: torch.Tensor, weight: float
) -> torch.Tensor:
    """Per-sample complement penalty ``(B,)``: ``weight * relu(log(K) - CE(seeker(x * (1 - m)), y))``.

    ``output`` is ``model(inputs)``; its mask carries the binarizer's surrogate gradient to the hider.
    """
    hidden = model.adapter.apply_mask(inputs, 1.0 - output.mask)
    logits = detached_seeker_logits(model, hidden)
    ce = F.cross_entropy(logits.float(), targets, reduction="none")
    return weight * torch.relu(math.log(logits.shape[1]) - ce)


__all__ = ["complement_penalty", "detached_seeker_logits"]
