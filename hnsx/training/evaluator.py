"""The independent evaluator of the label-encoding check, and Hide-and-Seek against a frozen seeker.

A hider and seeker trained together can agree on a code (the mask's *shape* carries the class; DESIGN.md, "the
scientific trap"). The tools here measure it:

* :func:`train_evaluator`: a classifier of the seeker's architecture trained from scratch on inputs under random
  masks (:func:`~hnsx.training.leak_free.random_masks`: a keep rate drawn per input; masks with two spatial axes in
  square blocks), hidden units filled as the adapter fills them. It never sees an explainer's mask, so its accuracy
  on a mask measures what the kept units say by themselves (``hnsx bench leakage``, the E column of ``hnsx study``,
  ``hnsx train --evaluator-epochs``: :func:`run_label_check`).
* :func:`train_hns_frozen`: the hider trained against a frozen classifier, post-hoc Hide-and-Seek of a deployed
  classifier (``hnsx bench shortcut``).

The training mode that removes the incentive to encode, REAL-X, is ``TrainConfig(leak_free=True)``
(:mod:`hnsx.training.leak_free`): the seeker is trained on random masks as an evaluator is, jointly with the hider.

Both take an :class:`ExperimentData`: the splits, the Hide-and-Seek spec and its adapter, and the training recipe
(batch size, learning rate, the Hide-and-Seek :class:`~hnsx.training.config.TrainConfig`). The benchmarks'
``BenchData`` is one; anything with these attributes is another.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from hnsx.adapter import Adapter
from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec
from hnsx.training.config import TrainConfig
from hnsx.training.leak_free import random_masks

#: Evaluator epochs when the caller names none.
DEFAULT_EVALUATOR_EPOCHS = 8
#: The evaluator of a run (or a study's seed) ``n`` is trained with seed ``n + EVALUATOR_SEED_OFFSET``: other
#: weights than the run's.
EVALUATOR_SEED_OFFSET = 2000


class ExperimentData(Protocol):
    """What the evaluator and frozen-seeker training need to know about a data set and its models.

    ``train``, ``test``: ``TensorDataset(inputs, labels)``; ``spec``: the Hide-and-Seek spec (its seeker is the
    evaluator's architecture); ``adapter``: built from ``spec``; ``batch_size``, ``lr``: Adam settings of a plain
    classifier; ``hns_config``: the Hide-and-Seek training recipe; ``mask_blocks``: block sides of random masks
    (``(1,)``: per unit).
    """

    train: TensorDataset
    test: TensorDataset
    spec: ModelSpec
    adapter: Adapter
    batch_size: int
    lr: float
    hns_config: TrainConfig
    mask_blocks: Sequence[int]


def new_classifier(spec: ModelSpec, *, seed: int) -> nn.Module:
    """An untrained classifier of ``spec``'s seeker architecture, its weights drawn with ``seed``."""
    from accelerate.utils import set_seed

    from hnsx.registry import SEEKERS

    set_seed(seed)
    return SEEKERS.build(
        spec.seeker.name, input_shape=spec.input_shape, num_classes=spec.num_classes, **spec.seeker.kwargs
    )


@torch.no_grad()
def dataset_accuracy(model: nn.Module, dataset: TensorDataset, batch_size: int = 256) -> float:
    """Accuracy of a classifier on ``dataset`` (inputs as they are), in eval mode."""
    from hnsx.metrics import accuracy

    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    loader = ((x.to(device), y.to(device)) for x, y in DataLoader(dataset, batch_size=batch_size))
    return accuracy(model, loader)


def train_evaluator(
    data: ExperimentData,
    *,
    seed: int,
    epochs: int,
    blocks: Sequence[int] | None = None,
    keep_range: tuple[float, float] = (0.0, 1.0),
    batch_size: int | None = None,
    lr: float | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> nn.Module:
    """A classifier of the seeker's architecture trained from scratch on ``data.train`` under random masks.

    Every batch gets fresh masks from :func:`random_masks` (``blocks``: default ``data.mask_blocks``), filled by
    ``data.adapter.apply_mask`` (what the seeker of a Hide-and-Seek model receives); Adam with cross-entropy,
    ``data.batch_size`` and ``data.lr`` unless given. Weights, data order and masks follow ``seed``. Returned in
    eval mode.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    blocks = tuple(data.mask_blocks) if blocks is None else tuple(blocks)
    model = new_classifier(data.spec, seed=seed).to(device)
    adapter = data.adapter.to(device)
    masks = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        data.train,
        batch_size=batch_size or data.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr or data.lr)
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


def evaluator_accuracy(
    evaluator: nn.Module, model: HideAndSeek, dataset: TensorDataset, batch_size: int = 256
) -> float:
    """Accuracy of ``evaluator`` on ``dataset``'s inputs under ``model``'s deterministic masks (its adapter fills)."""
    device = next(model.parameters()).device
    evaluator = evaluator.to(device).eval()
    correct = total = 0
    for inputs, labels in DataLoader(dataset, batch_size=batch_size):
        inputs, labels = inputs.to(device), labels.to(device)
        mask = model.explain(inputs)
        with torch.inference_mode():
            predicted = evaluator(model.adapter.apply_mask(inputs, mask)).argmax(1)
        correct += int((predicted == labels).sum())
        total += len(labels)
    return correct / total


def evaluator_data(data: Any, spec: ModelSpec, config: TrainConfig, mask_blocks: Sequence[int]) -> SimpleNamespace:
    """The :class:`ExperimentData` of a run of ``spec`` on ``data`` (``train`` and ``eval`` splits) with ``config``:
    the run's batch size and learning rate, the modality's random-mask blocks ``mask_blocks``."""
    from hnsx.spec import build_model

    return SimpleNamespace(
        train=data.train,
        test=data.eval,
        spec=spec,
        adapter=build_model(spec).adapter,
        batch_size=config.batch_size,
        lr=config.lr,
        hns_config=config,
        mask_blocks=tuple(mask_blocks),
    )


def run_label_check(run_dir: str | Path, data: Any, config: TrainConfig, mask_blocks: Sequence[int]) -> float:
    """The label-encoding check of a finished run: an evaluator (:func:`train_evaluator`, ``config.evaluator_epochs``
    epochs, seed ``config.seed + EVALUATOR_SEED_OFFSET``) scores the eval inputs under the masks of the run's last
    checkpoint; the accuracy is added to the run's ``metrics.json`` as ``evaluator_accuracy`` and returned."""
    from hnsx.explain import load_trained
    from hnsx.training.checkpoint import read_state, resolve_checkpoint, write_json_atomic

    if config.evaluator_epochs < 1:
        raise ValueError(
            f"evaluator_epochs must be at least 1 for the label-encoding check, got {config.evaluator_epochs}"
        )
    run_dir = Path(run_dir)
    model = load_trained(run_dir, which="latest")
    spec = ModelSpec.from_dict(read_state(resolve_checkpoint(run_dir, "latest"))["spec"])
    experiment = evaluator_data(data, spec, config, mask_blocks)
    evaluator = train_evaluator(experiment, seed=config.seed + EVALUATOR_SEED_OFFSET, epochs=config.evaluator_epochs)
    accuracy = evaluator_accuracy(evaluator, model, data.eval)
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    metrics.update(evaluator_accuracy=accuracy, evaluator_epochs=config.evaluator_epochs)
    write_json_atomic(metrics_file, metrics)
    return accuracy


def frozen_seeker_config(config: TrainConfig) -> TrainConfig:
    """``config`` without the seeker's pretraining: ``both`` -> ``pretrained-hider``, ``pretrained-seeker`` ->
    ``scratch`` (the seeker is frozen and already trained)."""
    init = {"both": "pretrained-hider", "pretrained-seeker": "scratch"}.get(config.init, config.init)
    return dataclasses.replace(config, init=init)


def train_hns_frozen(
    data: ExperimentData,
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
    """Train the hider of ``data.spec`` against the frozen classifier ``seeker``; returns the model and its metrics.

    The model is ``data.spec`` with ``freeze_seeker=True`` around ``seeker`` (wrapped in
    :class:`~hnsx.model.FrozenModule`: its weights never change and it stays in eval mode), trained by
    :func:`hnsx.pipeline.run_training` with ``data.hns_config`` minus seeker pretraining
    (:func:`frozen_seeker_config`; ``overrides`` are other :class:`~hnsx.training.config.TrainConfig` fields): with a
    deployed classifier, post-hoc Hide-and-Seek of that classifier. (The leak-free mode trains its seeker on random
    masks jointly instead: ``leak_free=True``.)

    ``baseline_accuracy`` is the denominator of Fidelity (default: ``seeker``'s own accuracy on unmasked
    ``data.test``). Returns the best checkpoint (``checkpoints/best`` of :mod:`hnsx.training.run_folder`) in eval mode;
    the run folder is ``out_dir`` or a temporary folder. ``seeker``'s parameters are left with
    ``requires_grad=False``.
    """
    from hnsx.pipeline import run_training
    from hnsx.training.checkpoint import load_model_state, resolve_checkpoint

    seeker = seeker.to(device).eval()
    if baseline_accuracy is None:
        baseline_accuracy = dataset_accuracy(seeker, data.test)
    settings = {"seed": seed, "progress": progress, "cpu": device == "cpu", **overrides}
    if epochs is not None:
        settings["epochs"] = epochs
    config = frozen_seeker_config(dataclasses.replace(data.hns_config, **settings))
    spec = dataclasses.replace(data.spec, freeze_seeker=True)
    with tempfile.TemporaryDirectory(prefix="hnsx-frozen-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        result = run_training(data, spec, config, out, seeker=seeker, baseline_accuracy=baseline_accuracy)
        if result.fit.best is not None:
            load_model_state(result.model, resolve_checkpoint(out, "best"))
    return result.model.eval(), result.metrics


__all__ = [
    "DEFAULT_EVALUATOR_EPOCHS",
    "EVALUATOR_SEED_OFFSET",
    "ExperimentData",
    "dataset_accuracy",
    "evaluator_accuracy",
    "evaluator_data",
    "frozen_seeker_config",
    "new_classifier",
    "random_masks",
    "run_label_check",
    "train_evaluator",
    "train_hns_frozen",
]
