"""Explaining sentences with a trained text model, and scoring kept words against known rationales.

Rationale precision, recall and F1 are micro-averaged over the eval set: over all valid units (words) of all
sentences, ``P = |kept ∩ gold| / |kept|``, ``R = |kept ∩ gold| / |gold|``, ``F1 = 2PR / (P + R)``. Masks are the
deterministic evaluation masks (``p >= 0.5``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hnsx.model import HideAndSeek


@dataclass
class Explained:
    """Explanations of ``N`` encoded sentences.

    Attributes
    ----------
    mask:
        ``(N, L)`` unit masks in {0, 1}.
    valid:
        ``(N, L)`` which unit slots hold a word (or token).
    keep_prob:
        ``(N, L)`` keep probability per unit.
    prediction:
        ``(N,)`` predicted class on the masked input.
    confidence:
        ``(N,)`` softmax probability of the predicted class.
    logits:
        ``(N, C)`` the seeker's class logits on the masked input.
    """

    mask: torch.Tensor
    valid: torch.Tensor
    keep_prob: torch.Tensor
    prediction: torch.Tensor
    confidence: torch.Tensor
    logits: torch.Tensor


@torch.no_grad()
def explain_encoded(model: HideAndSeek, x: torch.Tensor, batch_size: int = 256) -> Explained:
    """Run ``model`` in eval mode on encoded sentences ``x`` ``(N, 2, L)`` (train/eval mode is restored)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = []
    try:
        for start in range(0, x.shape[0], batch_size):
            batch = x[start : start + batch_size].to(device)
            out = model(batch)
            probs = out.logits.float().softmax(1)
            conf, pred = probs.max(1)
            parts.append((out.mask.float(), out.valid.float(), out.keep_prob.float(), pred, conf, out.logits.float()))
    finally:
        model.train(was_training)
    cat = [torch.cat([p[i] for p in parts]).cpu() for i in range(6)]
    return Explained(*cat)


def rationale_scores(mask: torch.Tensor, valid: torch.Tensor, gold: torch.Tensor) -> dict[str, float]:
    """Micro-averaged rationale precision, recall and F1 of unit masks ``(N, L)`` against gold units ``(N, L)``."""
    mask, valid, gold = mask.float() * valid.float(), valid.float(), gold.float() * valid.float()
    hit = float((mask * gold).sum())
    kept, wanted = float(mask.sum()), float(gold.sum())
    precision = hit / kept if kept else 0.0
    recall = hit / wanted if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"rationale_precision": precision, "rationale_recall": recall, "rationale_f1": f1}
