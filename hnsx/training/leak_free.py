"""The leak-free training mode (``TrainConfig(leak_free=True)``, ``hnsx train --leak-free``): REAL-X of Jethani et
al. 2021, "Have we learned to explain?".

A hider and a seeker trained together can agree on a code: the mask's shape carries the class (DESIGN.md, "the
scientific trap"). REAL-X removes the incentive. The seeker is the EVAL-X evaluator ``q``: it is trained with
cross-entropy on ``x`` under *random* masks only (:func:`~hnsx.training.evaluator.random_masks`: a keep rate
``r ~ U(0, 1)`` drawn per input, units kept i.i.d. with probability ``r``; images in square blocks of the modality's
:attr:`~hnsx.adapter.Adapter.mask_blocks`), never on the hider's masks. The hider maximises ``log q(y | x * m)``
minus the sparsity term, against ``q`` as it is. So ``q``'s answer to a mask is fixed by random-mask training alone,
and no code between hider and ``q`` can form.

As REAL-X's algorithm does, both train *jointly*, one step each per batch (not a pretrained, then frozen ``q``):

1. the hider's loss (:func:`hnsx.loss.hns_loss` on ``q(x * m)``) is backpropagated; what it leaves on the seeker's
   parameters is dropped, and the seeker's buffers (batch-norm statistics) are restored after that forward pass
   (:func:`buffers_kept`), so the seeker never learns anything from the hider's masks;
2. :func:`seeker_backward` adds the seeker's cross-entropy on the batch under fresh random masks;
3. one optimizer step applies both (Adam treats each parameter on its own: the same as two separate steps).

Seeker pretraining (``--init pretrained-seeker`` / ``both``) is EVAL-X training on random masks as well
(:func:`masking`); the baseline seeker, the denominator of Fidelity, is the plain classifier of the normal mode.
Random masks are drawn from torch's global generator, which checkpoints save: a resumed run continues bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from hnsx.adapter import Adapter
from hnsx.model import HideAndSeek


def random_masks(
    adapter: Adapter,
    inputs: torch.Tensor,
    generator: torch.Generator | None,
    *,
    rates: torch.Tensor | None = None,
    keep_range: tuple[float, float] = (0.0, 1.0),
    blocks: Sequence[int] = (1,),
) -> torch.Tensor:
    """Random {0, 1} masks in the adapter's mask shape (on the CPU), one keep rate per input.

    Each input draws a keep rate ``r`` (``rates``, or uniform in ``keep_range``) and keeps each unit with
    probability ``r``. Masks with two spatial axes ``(B, C, H, W)`` are drawn per block of ``s x s`` units, ``s``
    drawn per input from ``blocks``, and upsampled (blocks cut at the border); ``blocks=(1,)`` draws per unit, as
    for every other mask shape (text slots that hold no word are ignored by the adapter). ``generator=None`` draws
    from torch's global generator.
    """
    shape = tuple(adapter.mask_shape(inputs))
    n = shape[0]
    if rates is None:
        lo, hi = keep_range
        rates = lo + (hi - lo) * torch.rand(n, generator=generator)
    rates = rates.float().reshape(n, *([1] * (len(shape) - 1)))
    if len(shape) != 4 or tuple(blocks) == (1,):
        return (torch.rand(shape, generator=generator) < rates).float()
    _, c, h, w = shape
    sides = torch.tensor([int(b) for b in blocks])[torch.randint(len(blocks), (n,), generator=generator)]
    masks = torch.empty(shape)
    for side in sides.unique().tolist():
        rows = (sides == side).nonzero().flatten()
        coarse = torch.rand(len(rows), c, -(-h // side), -(-w // side), generator=generator) < rates[rows]
        masks[rows] = coarse.float().repeat_interleave(side, 2).repeat_interleave(side, 3)[:, :, :h, :w]
    return masks


def masking(adapter: Adapter, blocks: tuple[int, ...] | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``inputs -> adapter.apply_mask(inputs, random mask)``: a fresh random mask per input (global generator),
    in square blocks of ``blocks`` (default ``adapter.mask_blocks``)."""
    blocks = tuple(adapter.mask_blocks if blocks is None else blocks)

    def apply(inputs: torch.Tensor) -> torch.Tensor:
        mask = random_masks(adapter, inputs, None, blocks=blocks).to(inputs.device)
        return adapter.apply_mask(inputs, mask)

    return apply


@contextlib.contextmanager
def buffers_kept(module: nn.Module, active: bool = True) -> Iterator[None]:
    """Put ``module``'s buffers (batch-norm running statistics) back as they were when the block ends; nothing when
    ``active`` is false."""
    saved = [(b, b.detach().clone()) for b in module.buffers()] if active else []
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                if not torch.equal(buffer, value):  # only what changed: the others may be in the autograd graph
                    buffer.copy_(value)


def seeker_backward(model: HideAndSeek, inputs: torch.Tensor, targets: torch.Tensor, mask_fn, accelerator) -> float:
    """Replace whatever gradient the seeker's parameters hold by that of its cross-entropy on ``inputs`` under random
    masks (``mask_fn``, from :func:`masking`); the loss. Called after the hider's loss was backpropagated."""
    seeker_params = [p for p in model.seeker.parameters() if p.requires_grad]
    for p in seeker_params:
        p.grad = None
    loss = F.cross_entropy(model.seeker(mask_fn(inputs)).float(), targets)
    accelerator.backward(loss)
    if accelerator.num_processes > 1:  # this pass bypassed the distributed wrapper: average the gradients here
        for p in seeker_params:
            if p.grad is not None:
                p.grad = accelerator.reduce(p.grad, reduction="mean")
    return float(loss.detach())


__all__ = ["buffers_kept", "masking", "random_masks", "seeker_backward"]
