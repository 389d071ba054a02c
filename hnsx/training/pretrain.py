"""Pretraining (paper 5.5): the seeker as a plain classifier, the hider as an autoencoder.

The hider is pretrained to reconstruct a target its modality derives from the input
(:meth:`hnsx.adapter.Adapter.pretrain_target`; images: the grayscale image), through a sigmoid on its logits and a
binary cross-entropy loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm


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


def pretrain_hider(
    hider: nn.Module,
    loader,
    epochs: int,
    lr: float,
    accelerator,
    progress: bool = True,
    *,
    target: Callable[[torch.Tensor], torch.Tensor],
) -> nn.Module:
    """Train ``hider`` as an autoencoder (logits -> sigmoid -> ``target(inputs)``); returns it unwrapped."""
    if epochs <= 0:
        return hider

    def step(module, inputs, targets):
        return F.binary_cross_entropy_with_logits(module(inputs).float(), target(inputs))

    return _loop(hider, loader, epochs, lr, accelerator, step, "hider pretraining", progress)
