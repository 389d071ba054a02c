"""The independent evaluator of the label-encoding check, and Hide-and-Seek against a frozen seeker.

* :func:`train_evaluator`: a classifier of the seeker's architecture trained from scratch on inputs under random
  masks (:func:`random_masks`: a keep rate drawn per input, image masks in square blocks), hidden units filled as
  the adapter fills them. It never sees an explainer's mask, so its accuracy on a mask measures what the kept units
  say by themselves (``hnsx bench leakage``, and the E column of ``hnsx study``).
* :func:`train_hns_frozen`: the modality's hider trained against a frozen classifier. Against an evaluator this is
  the *leak-free* mode (:func:`leak_free_hns`): no seeker can learn a code from the masks; against a deployed
  classifier it is post-hoc Hide-and-Seek of that classifier (``hnsx bench shortcut``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from hnsx.benchmarks.common import RECIPES, BenchData, accuracy, new_seeker
from hnsx.model import HideAndSeek
from hnsx.training.config import TrainConfig

#: Evaluator epochs per modality (full run, ``--quick``).
EVALUATOR_EPOCHS: dict[str, dict[bool, int]] = {
    "image": {False: 8, True: 5},
    "text": {False: 6, True: 3},
    "tabular": {False: 40, True: 20},
}
#: Side lengths (pixels) of the square blocks of random image masks; one drawn per input.
IMAGE_BLOCKS = (1, 2, 4, 7)


def random_masks(
    adapter,
    inputs: torch.Tensor,
    generator: torch.Generator,
    *,
    rates: torch.Tensor | None = None,
    keep_range: tuple[float, float] = (0.0, 1.0),
    blocks: Sequence[int] = (1,),
) -> torch.Tensor:
    """Random {0, 1} masks in the adapter's mask shape (on the CPU), one keep rate per input.

    Each input draws a keep rate ``r`` (``rates``, or uniform in ``keep_range``) and keeps each unit with
    probability ``r``. Image masks ``(B, 1, H, W)`` are drawn per block of ``s x s`` pixels, ``s`` drawn per input
    from ``blocks``, and upsampled (blocks cut at the border); ``blocks=(1,)`` draws per pixel. Text and table
    masks are drawn per unit slot (slots that hold no word are ignored by the adapter).
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


def train_evaluator(
    data: BenchData,
    *,
    seed: int,
    epochs: int,
    blocks: Sequence[int] = IMAGE_BLOCKS,
    keep_range: tuple[float, float] = (0.0, 1.0),
    batch_size: int | None = None,
    lr: float | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> nn.Module:
    """A classifier of the seeker's architecture trained from scratch on ``data.train`` under random masks.

    Every batch gets fresh masks from :func:`random_masks`, filled by ``data.adapter.apply_mask`` (what the seeker
    of a Hide-and-Seek model receives); Adam with cross-entropy, the modality's batch size and learning rate
    (:data:`~hnsx.benchmarks.common.RECIPES`). Weights, data order and masks follow ``seed``. Returned in eval mode.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    recipe = RECIPES[data.modality]
    model = new_seeker(data, seed=seed).to(device)
    adapter = data.adapter.to(device)
    masks = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        data.train,
        batch_size=batch_size or recipe.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr or recipe.lr)
    model.train()
    for epoch in range(epochs):
        bar = tqdm(loader, desc=f"evaluator {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for inputs, labels in bar:
            inputs, labels = inputs.to(device), labels.to(device)
            mask = random_masks(adapter, inputs, masks, keep_range=keep_range, blocks=blocks).to(device)
            loss = F.cross_entropy(model(adapter.apply_mask(inputs, mask)).float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    return model.eval()


# --- Hide-and-Seek against a frozen seeker (the leak-free mode) ------------------------------------------------------


def leak_free_config(config: TrainConfig) -> TrainConfig:
    """``config`` without the seeker's pretraining: ``both`` -> ``pretrained-hider``, ``pretrained-seeker`` ->
    ``scratch`` (the seeker is frozen and already trained)."""
    init = {"both": "pretrained-hider", "pretrained-seeker": "scratch"}.get(config.init, config.init)
    return dataclasses.replace(config, init=init)


def train_hns_frozen(
    data: BenchData,
    seeker: nn.Module,
    *,
    seed: int,
    baseline_accuracy: float | None = None,
    epochs: int | None = None,
    progress: bool = False,
    device: str = "cpu",
    out_dir: str | Path | None = None,
    **overrides: Any,
) -> tuple[HideAndSeek, dict[str, Any]]:
    """Train the modality's hider against the frozen classifier ``seeker``; returns the model and its metrics.

    The model is ``data.spec`` with ``freeze_seeker=True`` around ``seeker`` (wrapped in
    :class:`~hnsx.model.FrozenModule`: its weights never change and it stays in eval mode), trained by
    :func:`hnsx.pipeline.run_training` with the modality's recipe minus seeker pretraining
    (:func:`leak_free_config`; ``overrides`` are other :class:`~hnsx.training.config.TrainConfig` fields). With an
    evaluator from :func:`train_evaluator` as ``seeker`` this is the *leak-free* mode: no seeker learns a code from
    the masks. With a deployed classifier it is post-hoc Hide-and-Seek of that classifier.

    ``baseline_accuracy`` is the denominator of Fidelity (default: ``seeker``'s own accuracy on unmasked
    ``data.test``). Returns the best checkpoint (highest FII among the epochs that did not collapse) in eval mode;
    the run folder is ``out_dir`` or a temporary folder. ``seeker``'s parameters are left with
    ``requires_grad=False``.
    """
    from hnsx.pipeline import run_training
    from hnsx.training.checkpoint import load_model_state, resolve_checkpoint

    recipe = RECIPES[data.modality]
    seeker = seeker.to(device).eval()
    if baseline_accuracy is None:
        baseline_accuracy = accuracy(seeker, data.test)
    settings = {"seed": seed, "progress": progress, "cpu": device == "cpu", **overrides}
    if epochs is not None:
        settings["epochs"] = epochs
    config = leak_free_config(dataclasses.replace(recipe.hns, **settings))
    spec = dataclasses.replace(data.spec, freeze_seeker=True)
    with tempfile.TemporaryDirectory(prefix="hnsx-bench-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        result = run_training(data, spec, config, out, seeker=seeker, baseline_accuracy=baseline_accuracy)
        if result.fit.best is not None:
            load_model_state(result.model, resolve_checkpoint(out, "best"))
    return result.model.eval(), result.metrics


def leak_free_hns(
    data: BenchData,
    *,
    seed: int,
    evaluator_epochs: int | None = None,
    baseline_accuracy: float | None = None,
    progress: bool = False,
    device: str = "cpu",
    **options: Any,
) -> tuple[HideAndSeek, nn.Module]:
    """The leak-free mode in one call: an evaluator (:func:`train_evaluator`, seed ``seed``) frozen as the seeker of
    :func:`train_hns_frozen`. Returns the model and the evaluator (its seeker). ``options`` go to
    :func:`train_hns_frozen`."""
    epochs = evaluator_epochs or EVALUATOR_EPOCHS[data.modality][False]
    evaluator = train_evaluator(data, seed=seed, epochs=epochs, progress=progress, device=device)
    model, _ = train_hns_frozen(
        data, evaluator, seed=seed, baseline_accuracy=baseline_accuracy, progress=progress, device=device, **options
    )
    return model, evaluator


__all__ = [
    "EVALUATOR_EPOCHS",
    "IMAGE_BLOCKS",
    "leak_free_config",
    "leak_free_hns",
    "random_masks",
    "train_evaluator",
    "train_hns_frozen",
]
