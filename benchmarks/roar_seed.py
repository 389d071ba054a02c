"""One seed of ROAR / KAR (:mod:`hnsx.benchmarks.roar`): its models trained on demand, the explainers' rankings of
every training and test input cached on disk, and a seeker retrained from scratch on each modified data set.

A seed's folder holds ``<explainer>.pt`` (per split: the unit order of every input, int16, and its number of valid
units) and ``accuracy.json`` (every retrained accuracy, written as soon as it is known), so a stopped run resumes
where it stopped; :func:`_seed_mode_job` runs one seed and mode in a worker process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from hnsx.benchmarks.common import (
    BenchData,
    accuracy,
    attribute_dataset,
    build_explainers,
    check_explainers,
    hns_model,
    seeker_model,
    train_seeker,
)
from hnsx.benchmarks.explainers import Explainer
from hnsx.benchmarks.ranking import fraction_counts, rank_order, ranking_scores, top_from_order
from hnsx.benchmarks.removal import remove_units
from hnsx.benchmarks.reports.roar import fraction_key
from hnsx.model import HideAndSeek
from hnsx.training.checkpoint import write_json_atomic

#: ``builder(seeker, hns_model, seed) -> Explainer``: how a run builds one explainer around one seed's models.
ExplainerBuilder = Callable[[nn.Module, "HideAndSeek | None", int], Explainer]


class _SeedRun:
    """One seed: models trained on demand, rankings and accuracies cached on disk."""

    def __init__(self, data: BenchData, config: Any, folder: Path, seed: int, progress: bool) -> None:
        self.data, self.config, self.folder, self.seed, self.progress = data, config, folder, seed, progress
        self.accuracy_file = folder / "accuracy.json"
        self.accuracies: dict[str, float] = (
            json.loads(self.accuracy_file.read_text()) if self.accuracy_file.is_file() else {}
        )
        self._seeker: nn.Module | None = None
        self._hns: HideAndSeek | None = None
        self._ranks: dict[str, dict[str, torch.Tensor]] = {}

    def record(self, key: str, value: float) -> None:
        self.accuracies[key] = float(value)
        write_json_atomic(self.accuracy_file, self.accuracies)

    def seeker(self) -> nn.Module:
        """The classifier the post-hoc explainers explain: the user's (``data.trained``) or one trained here."""
        if self._seeker is None:
            self._seeker = seeker_model(
                self.data, seed=self.seed, epochs=self.config.seeker_epochs, device=self.config.device
            )
            if "unmodified" not in self.accuracies:
                self.record("unmodified", accuracy(self._seeker, self.data.test))
        return self._seeker

    def unmodified(self) -> float:
        if "unmodified" not in self.accuracies:
            self.seeker()
        return self.accuracies["unmodified"]

    def hns(self) -> HideAndSeek:
        if self._hns is None:
            overrides = {}
            if self.config.hns_pretrain_epochs is not None:
                overrides["pretrain_epochs"] = self.config.hns_pretrain_epochs
            self._hns = hns_model(
                self.data,
                seed=self.seed,
                epochs=self.config.hns_epochs,
                device=self.config.device,
                baseline_accuracy=self.unmodified(),
                **overrides,
            )
            x, y = self.data.test.tensors
            device = next(self._hns.parameters()).device
            classes, mask, _ = self._hns.predict_explain(x.to(device))
            kept = self.data.adapter.kept_fraction(mask, self.data.adapter.valid_units(x.to(device)))
            self.record("hns/accuracy", float((classes.cpu() == y).float().mean()))
            self.record("hns/kept_fraction", float(kept.mean()))
        return self._hns

    def rankings(self, name: str, builder: ExplainerBuilder) -> dict[str, torch.Tensor]:
        """``{"train_order", "train_valid", "test_order", "test_valid"}`` of explainer ``name``, cached."""
        if name in self._ranks:
            return self._ranks[name]
        path = self.folder / f"{name}.pt"
        if path.is_file():
            self._ranks[name] = torch.load(path, weights_only=True)
            return self._ranks[name]
        seeker = self.seeker()
        hns = self.hns() if name == "hns" else None
        explainer = builder(seeker, hns, self.seed)
        ranks = {}
        for split in ("train", "test"):
            scores, valid = attribute_dataset(
                explainer,
                self.data,
                getattr(self.data, split),
                batch_size=self.config.batch_size,
                progress=self.progress,
                desc=f"seed {self.seed} {name} {split}",
            )
            order = rank_order(ranking_scores(explainer, scores), valid, seed=self.seed)
            small = torch.int16 if order.shape[1] < 2**15 else torch.int32
            ranks[f"{split}_order"] = order.to(small)
            ranks[f"{split}_valid"] = valid.sum(1).to(torch.int32)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(ranks, tmp)
        tmp.replace(path)
        self._ranks[name] = ranks
        return ranks

    def retrain(self, ranks: dict[str, torch.Tensor], mode: str, fraction: float) -> float:
        """Accuracy on the modified test set of a seeker trained from scratch on the modified training set."""
        splits = []
        for split in ("train", "test"):
            inputs, labels = getattr(self.data, split).tensors
            top = top_from_order(ranks[f"{split}_order"], fraction_counts(ranks[f"{split}_valid"], fraction))
            keep = ~top if mode == "roar" else top
            splits.append(TensorDataset(remove_units(self.data, inputs, keep), labels))
        modified = self.data.with_splits(*splits)
        seeker = train_seeker(modified, seed=self.seed, epochs=self.config.seeker_epochs, device=self.config.device)
        return accuracy(seeker, modified.test)


def explainer_builders(data: BenchData, config: Any) -> dict[str, ExplainerBuilder]:
    """``config.explainers`` as builders for :func:`run_roar` (registry explainers with ``config``'s options)."""
    names = check_explainers(data.modality, config.explainers)

    def builder_for(name: str) -> ExplainerBuilder:
        def build(seeker: nn.Module, hns: HideAndSeek | None, seed: int) -> Explainer:
            built = build_explainers(data, seeker, hns, [name], options=config.explainer_options, seed=seed)
            return built[name]

        return build

    return {name: builder_for(name) for name in names}


def _run_seed_mode(
    run: _SeedRun, builders: Mapping[str, ExplainerBuilder], mode: str, step: Callable[[str], None]
) -> dict[str, float]:
    """Every retraining of one seed and mode (cached ones are skipped); ``step(label)`` after each."""
    run.unmodified()
    for name, builder in builders.items():
        for fraction in run.config.fractions:
            key = f"{mode}/{name}/{fraction_key(fraction)}"
            if key not in run.accuracies:
                run.record(key, run.retrain(run.rankings(name, builder), mode, fraction))
            step(f"{mode} seed {run.seed} {name} {fraction_key(fraction)}")
    if "hns" in builders and "hns/accuracy" not in run.accuracies:
        run.hns()
    return run.accuracies


def _seed_mode_job(data: BenchData, config: Any, folder: Path, seed: int, mode: str, threads: int):
    """:func:`_run_seed_mode` in a worker process, with the registry explainers of ``config``."""
    torch.set_num_threads(threads)
    run = _SeedRun(data, config, folder, seed, progress=False)
    return _run_seed_mode(run, explainer_builders(data, config), mode, lambda label: None)
