"""Pretraining (paper 5.5): the seeker as a plain classifier, the hider as an autoencoder.

The hider is pretrained to reconstruct its input in one channel: the grayscale image (mean over colour channels,
min-max scaled per image to [0, 1]) for RGB inputs, the image itself for one channel, through a sigmoid on its
logits and a binary cross-entropy loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm


def grayscale_target(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, 1, H, W)`` grayscale in [0, 1], min-max scaled per image."""
    gray = x.float().mean(1, keepdim=True)
    lo = gray.amin(dim=(2, 3), keepdim=True)
    hi = gray.amax(dim=(2, 3), keepdim=True)
    return (gray - lo) / (hi - lo).clamp_min(1e-8)


def _loop(module, loader, epochs, lr, accelerator, step_loss, desc, progress):
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    module, optimizer = accelerator.prepare(module, optimizer)
    module.train()
    for epoch in range(epochs):
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        bar = tqdm(loader, desc=f"{desc} {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for inputs, targets in bar:
            loss = step_loss(module, inputs, targets)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            optimizer.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
    module.eval()
    return accelerator.unwrap_model(module)


def train_classifier(
    classifier: nn.Module, loader, epochs: int, lr: float, accelerator, progress: bool = True
) -> nn.Module:
    """Train ``classifier`` with cross-entropy for ``epochs`` on a (prepared) loader; returns it unwrapped."""
    if epochs <= 0:
        return classifier

    def step(module, inputs, targets):
        return F.cross_entropy(module(inputs).float(), targets)

    return _loop(classifier, loader, epochs, lr, accelerator, step, "seeker pretraining", progress)


def pretrain_hider(hider: nn.Module, loader, epochs: int, lr: float, accelerator, progress: bool = True) -> nn.Module:
    """Train ``hider`` as an autoencoder (logits -> sigmoid -> grayscale input); returns it unwrapped."""
    if epochs <= 0:
        return hider

    def step(module, inputs, targets):
        return F.binary_cross_entropy_with_logits(module(inputs).float(), grayscale_target(inputs))

    return _loop(hider, loader, epochs, lr, accelerator, step, "hider pretraining", progress)
