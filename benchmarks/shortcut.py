"""``hnsx bench shortcut``: a planted shortcut with known ground truth. Does each explainer point at it?

A shortcut is planted in the training data (:func:`plant`, the modality's ``plant_shortcut`` hook), in the spirit
of the biased-MNIST and biased-Yelp experiments of the contrastive-explanation thesis (a square on every "8", the
word "very" in positive reviews):

* **image**: a white 4 x 4 square at rows and columns 1-4 (the top-left corner, blank on MNIST) on every training
  image of class 8;
* **text**: the marker word ``"cinnamon"``, absent from the generated corpus, inserted at a random word position
  in the first half of every positive training sentence;
* **tabular**: the generated switch table (:mod:`hnsx.adapters.tabular.synthetic`, whose label is an XOR-like
  function of 2 or 3 features) with a twelfth column ``x11``, the leak, = class code + N(0, 0.3^2), on every row.
  (On breast cancer, whose 30 features are each informative, the MLP barely used such a column: 1-2 points of
  accuracy.)

The test split comes three ways: *biased* (as in training), *removed* (no shortcut; tabular: the leak filled with
its training mean, as a hidden feature is) and *added* (the shortcut on every row; tabular: the leak pointing to the
other class). *Affected* rows are the biased test rows that carry the shortcut (class 8 / positive / every row).

Per seed:

1. **Models.** The plain seeker trained on the biased data (:func:`~hnsx.benchmarks.common.train_seeker`), which the
   post-hoc methods explain; ``hns``, Hide-and-Seek trained jointly on the biased data with the modality's recipe
   (its own seeker); ``hns-frozen``, a hider trained against a frozen copy of the plain seeker
   (:func:`~hnsx.training.evaluator.train_hns_frozen`), so that it explains the same classifier as the post-hoc
   methods.
2. **Does the model use the shortcut?** Accuracy on affected rows with and without the shortcut, and the
   *following rate*: on rows of the added split whose true class is not the one the shortcut points to, the share
   predicted as that class.
3. **Where does the attribution go?** For affected rows and their true class: the share of the positive attribution
   (HnS: of the keep probability) that falls on the planted units, averaged over rows, and the hit rate, the share
   of the planted units among the ``|planted|`` top-ranked units. The random expectation of both is the planted
   units' share of the input. For the HnS masks: the share of kept units on the planted ones and the share of
   affected rows whose mask keeps at least half of them.
4. **Controls.** ``oracle`` scores exactly the planted units (share 1); ``random`` scores at random (share about
   the planted area).

Outputs: ``results.json``, ``report.md``, ``shortcut-share.png`` and, for images, ``shortcut-maps.png``.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from hnsx.benchmarks.common import (
    BenchData,
    accuracy,
    attribute_dataset,
    build_explainers,
    load_user_data,
    registry_name,
    train_hns,
    train_seeker,
)
from hnsx.benchmarks.contrastive import CONTRASTIVE_HNS, contrastive_hns_explainer, contrastive_request, with_generator
from hnsx.benchmarks.explainers import Explainer, build_explainer
from hnsx.benchmarks.hooks import Planted, hooks
from hnsx.benchmarks.leakage import QUICK_OPTIONS
from hnsx.benchmarks.ranking import order_ranks, rank_order, ranking_scores
from hnsx.benchmarks.removal import hns_masks, masked_predictions, unit_shape
from hnsx.benchmarks.reports import shortcut as reports_module
from hnsx.benchmarks.reports.shortcut import format_report
from hnsx.benchmarks.results import format_mean_std
from hnsx.benchmarks.runner import Benchmark
from hnsx.binarizers import ESTIMATORS
from hnsx.model import HideAndSeek
from hnsx.training.evaluator import train_hns_frozen

#: Runs on the user's data (the data options of ``hnsx train``; images: the stamp of the built-in set), not on a trained
#: ``--checkpoint``.
USER_DATA = True

#: Every modality whose hooks plant a shortcut (``plant_shortcut``).
MODALITIES = None


def plant(modality: str, *, quick: bool = False, seed: int = 0) -> Planted:
    """The planted-shortcut data of ``modality`` (its ``plant_shortcut`` hook); the split follows ``seed``."""
    return hooks(modality).plant_shortcut(quick=quick, seed=seed)


# --- explainers and scores -------------------------------------------------------------------------------------------


class OracleExplainer(Explainer):
    """Scores 1 on the planted units and 0 elsewhere: the ground truth as an explainer."""

    name = "oracle"

    def __init__(self, model: nn.Module, planted: Planted) -> None:
        super().__init__(model)
        self.planted = planted

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        region = self.planted.region(inputs.cpu()).float().to(inputs.device)
        return region.reshape(unit_shape(self.planted.data, inputs))


def region_scores(
    scores: torch.Tensor, ranking: torch.Tensor, region: torch.Tensor, valid: torch.Tensor
) -> dict[str, float]:
    """Attribution on the planted ``region`` of rows ``(N, U)``.

    ``share``: sum of positive ``scores`` on the region over their sum on all valid units (0 for a row without
    positive scores), averaged over rows; ``hit_rate``: share of the region among the ``|region|`` units of
    highest ``ranking`` (ties in a seeded random order,
    :func:`~hnsx.benchmarks.common.rank_order`); ``area``: the region's share of the valid units (the random
    expectation of both).
    """
    positive = scores.float().clamp_min(0) * valid
    on_region = (positive * region).sum(1)
    total = positive.sum(1)
    share = torch.where(total > 0, on_region / total.clamp_min(1e-12), torch.zeros_like(total))
    size = region.sum(1)
    ranks = order_ranks(rank_order(ranking, valid))
    hits = ((ranks < size.unsqueeze(1)) & region).sum(1).float()
    return {
        "share": float(share.mean()),
        "hit_rate": float((hits / size.clamp_min(1)).mean()),
        "area": float((size.float() / valid.sum(1).clamp_min(1)).mean()),
    }


def mask_scores(model: HideAndSeek, data: BenchData, inputs: torch.Tensor, region: torch.Tensor) -> dict[str, float]:
    """HnS masks of affected rows: kept fraction, share of kept units on the region, rows keeping >= half of it."""
    _, masks, valid = hns_masks(model, data, inputs)
    on_region = (masks & region).sum(1).float()
    kept = masks.sum(1).float()
    return {
        "kept_fraction": float((kept / valid.sum(1).clamp_min(1)).mean()),
        "kept_share": float(torch.where(kept > 0, on_region / kept.clamp_min(1), torch.zeros_like(kept)).mean()),
        "keeps_region": float((on_region >= region.sum(1).float() / 2).float().mean()),
    }


def usage(predict: Callable[[torch.Tensor], torch.Tensor], planted: Planted) -> dict[str, float]:
    """How much a model's predictions depend on the shortcut (see the module docstring)."""
    x, y = planted.data.test.tensors
    affected = planted.affected
    clean, added = planted.removed.tensors[0], planted.added.tensors[0]
    biased_pred, clean_pred, added_pred = predict(x), predict(clean), predict(added)
    conflict = planted.follows != y
    return {
        "accuracy_biased": float((biased_pred == y).float().mean()),
        "accuracy_removed": float((clean_pred == y).float().mean()),
        "affected_with": float((biased_pred[affected] == y[affected]).float().mean()),
        "affected_without": float((clean_pred[affected] == y[affected]).float().mean()),
        "following_rate": float((added_pred[conflict] == planted.follows[conflict]).float().mean()),
    }


# --- the benchmark ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShortcutConfig:
    """What ``hnsx bench shortcut`` runs: explainers (default all of the modality), joint epochs of both HnS models
    (``None``: the recipe's), extra explainer options, whether to train ``hns-frozen``, batch size, ``--quick``, and
    the gradient estimator of both HnS models (``estimator``: the stochastic binarizer with ``st1``, ``st2``, ``sa``
    or ``reinforce``, see :meth:`~hnsx.benchmarks.common.BenchData.with_estimator`; ``None``: the recipe's binarizer)
    ``contrastive-hns`` (images) may be listed among the explainers and is part of the default list.
    """

    explainers: tuple[str, ...] | None = None
    hns_epochs: int | None = None
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    frozen: bool = True
    batch_size: int = 128
    quick: bool = False
    estimator: str | None = None

    def __post_init__(self) -> None:
        if self.estimator is not None:
            ESTIMATORS.get(self.estimator)  # ValueError naming the choices for an unknown name


def run_seed(planted: Planted, config: ShortcutConfig, seed: int, *, progress: bool = False, device: str = "cpu"):
    """Everything of one seed: ``(results, examples)`` (``examples``: maps of one affected row, for plots)."""
    start = time.perf_counter()
    data = planted.data.with_estimator(config.estimator)
    names, contrastive = contrastive_request(data.modality, config.explainers)
    seeker = train_seeker(data, seed=seed, progress=progress, device=device)
    used = {"seeker": usage(lambda x: masked_predictions(seeker, data, x), planted)}
    hns = train_hns(data, seed=seed, epochs=config.hns_epochs, progress=progress, device=device)
    used["hns"] = usage(lambda x: hns_masks(hns, data, x)[0], planted)
    models = {"hns": hns}
    options = {**(QUICK_OPTIONS if config.quick else {}), **config.explainer_options}
    options = with_generator(data, names, options, seed=seed, quick=config.quick)
    explainers = build_explainers(data, seeker, hns, names, options=options, seed=seed)
    if contrastive:
        explainers[CONTRASTIVE_HNS] = contrastive_hns_explainer(data, seeker, seed=seed, quick=config.quick)
    if config.frozen:
        frozen, _ = train_hns_frozen(
            data,
            copy.deepcopy(seeker),  # frozen in place: the post-hoc methods keep their own copy
            seed=seed,
            baseline_accuracy=accuracy(seeker, data.test),
            epochs=config.hns_epochs,
            progress=progress,
            device=device,
        )
        models["hns-frozen"] = frozen
        explainers["hns-frozen"] = build_explainer(registry_name(data.modality, "hns"), frozen, adapter=data.adapter)
    explainers["oracle"] = OracleExplainer(seeker, planted)

    x, y = data.test.tensors
    rows = planted.affected
    affected = TensorDataset(x[rows], y[rows])
    region = planted.region(x[rows])
    scores: dict[str, dict[str, float]] = {}
    examples: dict[str, torch.Tensor] = {"input": x[rows][:1]}
    for name, explainer in tqdm(explainers.items(), desc=f"explainers (seed {seed})", disable=not progress):
        raw, valid = attribute_dataset(explainer, data, affected, batch_size=config.batch_size, desc=name)
        scores[name] = region_scores(raw, ranking_scores(explainer, raw), region, valid)
        examples[name] = raw[:1]
    masks = {name: mask_scores(model, data, x[rows], region) for name, model in models.items()}
    return {"usage": used, "attribution": scores, "masks": masks, "seconds": time.perf_counter() - start}, examples


class Shortcut(Benchmark):
    """``hnsx bench shortcut`` on the shared runner; its data is the :class:`~hnsx.benchmarks.hooks.Planted` of the
    modality (one seed: :func:`run_seed`)."""

    name = "shortcut"
    reports = reports_module
    config_class = ShortcutConfig
    quick_seeds = 1
    outputs = "plots"

    def cli_overrides(self, args: Any) -> dict[str, Any]:
        return {**super().cli_overrides(args), "estimator": getattr(args, "estimator", None)}

    def run(self, planted: Planted, config: ShortcutConfig, seeds, out_dir, *, progress=True, device="cpu"):
        if not bool(planted.affected.any()):
            raise ValueError("no test row carries the planted shortcut")
        return super().run(planted, config, seeds, out_dir, progress=progress, device=device)

    def load_data(self, modality: str, config: ShortcutConfig, *, quick: bool) -> Planted:
        return plant(modality, quick=quick, seed=0)

    def data_for(self, args: Any, config: ShortcutConfig) -> Planted:
        """The built-in planted data, or the shortcut planted on the user's data (the data options); a trained
        ``--checkpoint`` has not seen the shortcut, so it is refused."""
        if getattr(args, "checkpoint", None) is not None:
            raise ValueError(
                "the shortcut benchmark trains its models on the data with the planted shortcut; --checkpoint does "
                "not apply (give the data options alone)"
            )
        settings = getattr(args, "data_settings", None)
        if settings is None:
            return super().data_for(args, config)
        return hooks(args.modality).plant_on(load_user_data(args.modality, settings))

    def key(self, planted: Planted, config: ShortcutConfig) -> str:
        return super().key(planted.data, config)

    def run_seed(self, planted: Planted, config: ShortcutConfig, seed: int, *, progress: bool, device: str):
        return run_seed(planted, config, seed, progress=progress, device=device)

    def record(self, planted: Planted, config: ShortcutConfig, seeds, per_seed) -> dict[str, Any]:
        data = planted.data
        return {
            **super().record(data, config, seeds, per_seed),
            "planted": planted.description,
            "binarizer": dataclasses.asdict(data.with_estimator(config.estimator).spec.binarizer),
            "affected": int(planted.affected.sum()),
        }

    def explainers_of(self, per_seed: list[dict]) -> list[str]:
        return list(per_seed[0]["attribution"])

    def summary(self, results: dict[str, Any]) -> str:
        agg = results["results"]
        lines = [
            f"seeker on affected rows: {format_mean_std(agg['usage']['seeker']['affected_with'])} with the shortcut, "
            f"{format_mean_std(agg['usage']['seeker']['affected_without'])} without"
        ]
        for name, figures in agg["attribution"].items():
            lines.append(f"  {name}: share on planted units {format_mean_std(figures['share'])}")
        return "\n".join(lines)


BENCHMARK = Shortcut()
main = BENCHMARK.main


#: ``run_shortcut(planted, config, seeds, out_dir, *, progress=True, device="cpu")``: run the benchmark over
#: ``seeds`` and write ``results.json``, ``report.md`` and the plots; returns the results. Each seed's figures are
#: kept under ``out_dir/seeds/``, so a rerun with the same settings resumes, and seeds may run in parallel
#: processes into the same folder.
run_shortcut = BENCHMARK.run


__all__ = [
    "BENCHMARK",
    "MODALITIES",
    "OracleExplainer",
    "ShortcutConfig",
    "format_report",
    "main",
    "mask_scores",
    "plant",
    "region_scores",
    "run_shortcut",
    "usage",
]
