"""Pretraining (paper 5.5): the seeker as a plain classifier, the hider as an autoencoder; the baseline seeker.

The hider is pretrained to reconstruct a target its modality derives from the input
(:meth:`hnsx.adapter.Adapter.pretrain_target`; images: the grayscale image), through a sigmoid on its logits and a
binary cross-entropy loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from hnsx.metrics import accuracy
from hnsx.training.leak_free import masking


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
    classifier: nn.Module,
    loader,
    epochs: int,
    lr: float,
    accelerator,
    progress: bool = True,
    *,
    mask_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> nn.Module:
    """Train ``classifier`` with cross-entropy for ``epochs`` on a (prepared) loader; returns it unwrapped.

    ``mask_fn`` transforms each batch's inputs first (the leak-free mode's random masks,
    :func:`hnsx.training.leak_free.masking`); ``None``: the inputs as they are."""
    if epochs <= 0:
        return classifier

    def step(module, inputs, targets):
        return F.cross_entropy(module(inputs if mask_fn is None else mask_fn(inputs)).float(), targets)

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


def init_components(
    model,
    train_loader,
    eval_loader,
    config,
    accelerator,
    baseline_accuracy: float | None,
    untrained_seeker: nn.Module | None,
    *,
    done: Sequence[str] = (),
    save: Callable[[list[str], float | None], None] | None = None,
) -> float:
    """Pretraining per ``config.init`` (phases ``hider``, ``seeker``) and the baseline accuracy (phase ``baseline``:
    ``untrained_seeker`` trained alone on unmasked data, unless ``baseline_accuracy`` is known); the baseline accuracy.

    Phases in ``done`` (finished before a resume) are skipped; ``save(phases_done, baseline_accuracy)`` is called
    after each phase, to checkpoint it (:data:`~hnsx.training.run_folder.PRETRAINING`: a run killed before its first
    epoch resumes after its last finished phase).
    """
    progress = config.progress and accelerator.is_main_process
    done = list(done)

    def finish(phase: str) -> None:
        done.append(phase)
        if save is not None:
            save(list(done), baseline_accuracy)

    if config.init in ("pretrained-hider", "both") and "hider" not in done:
        target = model.adapter.pretrain_target
        model.hider = pretrain_hider(
            model.hider, train_loader, config.pretrain_epochs, config.lr, accelerator, progress, target=target
        )
        finish("hider")
    # A frozen seeker (a wrapped classifier explained as it is) has nothing to train: it is never pretrained, and its
    # own accuracy is the baseline whatever config.init says.
    frozen = not any(p.requires_grad for p in model.seeker.parameters())
    if config.init in ("pretrained-seeker", "both") and "seeker" not in done:
        if not frozen:
            # Leak-free (REAL-X): the seeker is pretrained as the EVAL-X evaluator, on random masks only; so it is with
            # pretrain_random_masks, which leaves the joint training as it is.
            random_masks = config.leak_free or config.pretrain_random_masks
            masked = masking(model.adapter.to(accelerator.device)) if random_masks else None
            model.seeker = train_classifier(
                model.seeker, train_loader, config.pretrain_epochs, config.lr, accelerator, progress, mask_fn=masked
            )
        if baseline_accuracy is None and (config.pretrain_epochs == 0 or frozen):
            # An already trained seeker (a wrapped, deployed model): its own accuracy is the baseline.
            baseline_accuracy = accuracy(model.seeker, eval_loader, accelerator)
        finish("seeker")
    if "baseline" not in done:
        if baseline_accuracy is None and frozen:
            baseline_accuracy = accuracy(model.seeker, eval_loader, accelerator)
        elif baseline_accuracy is None:
            # A copy of the untrained seeker trained alone on unmasked data for the same budget.
            reference = train_classifier(
                untrained_seeker, train_loader, config.baseline_budget, config.lr, accelerator, progress
            )
            baseline_accuracy = accuracy(reference, eval_loader, accelerator)
        finish("baseline")
    return baseline_accuracy
