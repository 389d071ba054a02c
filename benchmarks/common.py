"""What every ``hnsx bench`` benchmark shares: data, models, explainers, unit removal and the output files.

Contract (one per modality: ``"image"``, ``"text"``, ``"tabular"``):

* **Data**: :func:`load_bench_data` returns a :class:`BenchData` with ``train`` and ``test``
  ``TensorDataset(inputs, labels)``, the modality's default Hide-and-Seek ``spec`` and its ``adapter`` (which
  numbers the mask units and fills hidden ones). Image: the 5,000 embedded MNIST digits (4,000 train, 1,000 test),
  hidden pixels filled with the per-channel training mean. Text: the generated sentiment corpus with its known
  rationale words (``test_rationale``), hidden words filled with the mask token. Tabular: breast cancer (or
  ``name="switch"``, the generated table whose relevant features are known), hidden features filled with their
  training mean (categorical: the missing code). The split is fixed by ``seed`` (0 for every benchmark run, as the
  ROAR protocol asks: one split for all runs); model seeds vary per repetition. :func:`subsample` takes seeded
  subsets (quick runs); :func:`image_bench_data` wraps any image tensors (toy sets with planted ground truth).
* **Models**: :func:`train_seeker` trains a fresh classifier of the modality's default seeker architecture from
  scratch (:func:`hnsx.training.pretrain.train_classifier`); :func:`train_hns` trains the default Hide-and-Seek model
  with :func:`hnsx.pipeline.run_training` and returns its best checkpoint (the one ``hnsx explain`` loads).
* **Explainers**: :func:`explainer_names` lists a modality's explainers by their plain names (``hns``,
  ``integrated-gradients``, ...; the registry's ``text-`` / ``tabular-`` prefixes dropped);
  :func:`build_explainers` builds them around ``(seeker, hns_model)``; :func:`attribute_dataset` attributes a whole
  split in batches and returns ``(scores (N, U), valid (N, U))``: one score per mask unit, flattened, with the units
  that exist (text: slots holding a word; special tokens and padding are no unit). :func:`ranking_scores` turns
  scores into a ranking (absolute value for signed methods); :func:`rank_order` orders units (ties at random per
  row); :func:`top_units` and :func:`top_counts` pick the top fraction or count per row.
* **Removal**: :func:`remove_units` fills the hidden units exactly as the adapter does (its ``apply_mask``).
* **Scoring under masks**: :func:`masked_predictions` (a model's classes with only some units kept) and
  :func:`hns_masks` (a Hide-and-Seek model's classes and binary masks, flattened per unit).

Results, reports and per-seed caching live in :mod:`hnsx.benchmarks.results`; the label-encoding evaluator and
Hide-and-Seek against a frozen seeker in :mod:`hnsx.benchmarks.evaluator`.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from hnsx.adapter import ADAPTERS, Adapter
from hnsx.benchmarks.explainers import EXPLAINERS, Explainer, build_explainer
from hnsx.binarizers import ESTIMATORS
from hnsx.model import HideAndSeek
from hnsx.registry import BUILTIN_MODALITIES, SEEKERS
from hnsx.spec import Component, ModelSpec
from hnsx.training.config import TrainConfig

MODALITIES = ("image", "text", "tabular")
#: Keys every benchmark's ``results.json`` has.


@dataclass(frozen=True)
class Recipe:
    """How a modality's models are trained in the benchmarks.

    ``seeker_epochs``, ``batch_size`` and ``lr`` train the plain seeker (Adam, cross-entropy); ``hns`` is the
    :class:`~hnsx.training.config.TrainConfig` of :func:`train_hns` (its seed, epochs and progress are set per call).
    """

    seeker_epochs: int
    batch_size: int
    lr: float
    hns: TrainConfig


#: The recipes. Image: the demo's setting (alpha 0.5, both components pretrained) at half the epochs; text and
#: tabular: their demos' settings (:mod:`hnsx.adapters.text.demo`, :mod:`hnsx.adapters.tabular.demo`).
RECIPES: dict[str, Recipe] = {
    "image": Recipe(
        seeker_epochs=4,
        batch_size=64,
        lr=1e-3,
        hns=TrainConfig(epochs=6, batch_size=64, lr=1e-3, alpha=0.5, init="both", pretrain_epochs=3),
    ),
    "text": Recipe(
        seeker_epochs=4,
        batch_size=64,
        lr=1e-3,
        hns=TrainConfig(epochs=8, batch_size=64, lr=1e-3, alpha=0.85, init="pretrained-seeker", pretrain_epochs=4),
    ),
    "tabular": Recipe(
        seeker_epochs=30,
        batch_size=128,
        lr=2e-3,
        hns=TrainConfig(epochs=30, batch_size=128, lr=2e-3, alpha=0.8, init="pretrained-seeker", pretrain_epochs=20),
    ),
}


@dataclass
class BenchData:
    """A benchmark data set of one modality, with the default model spec and the adapter that fills hidden units.

    Attributes
    ----------
    modality:
        ``"image"``, ``"text"`` or ``"tabular"``.
    name:
        The data set's name (``"mnist-embedded"``, ``"sentiment-generated"``, ``"breast-cancer"``, ...).
    train, test:
        ``TensorDataset(inputs, labels)``: images ``(N, C, H, W)`` float in [0, 1]; text ``(N, 2, L)`` int64 token
        and word ids; tables ``(N, F)`` float32. Labels ``(N,)`` int64.
    num_classes, input_shape, class_names:
        As the name says; ``input_shape`` is one input's shape.
    spec:
        The modality's default Hide-and-Seek :class:`~hnsx.spec.ModelSpec` (its adapter settings say how hidden units
        are filled; its seeker is the architecture :func:`train_seeker` trains).
    adapter:
        The adapter built from ``spec``: ``mask_shape``, ``valid_units``, ``apply_mask``.
    test_rationale:
        ``(M, U)`` float ground truth per mask unit of the test split, 1 for units that carry the label (text: the
        sentiment words; tabular ``switch``: the relevant features), else ``None``.
    source:
        What the modality's own loader returned (:class:`~hnsx.data.ImageData`, ``TextData``, ``TabularData``).
    """

    modality: str
    name: str
    train: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]
    spec: ModelSpec
    adapter: Adapter
    class_names: list[str] = field(default_factory=list)
    test_rationale: torch.Tensor | None = None
    source: Any = None

    @property
    def eval(self) -> TensorDataset:
        """The test split under the name :func:`hnsx.pipeline.run_training` and :func:`hnsx.data.make_loaders` use."""
        return self.test

    @classmethod
    def from_source(cls, modality: str, source: Any, spec: ModelSpec, **extra: Any) -> BenchData:
        """The benchmark view of a modality loader's result (``TextData``, ``TabularData``: ``train``, ``eval``,
        ``num_classes``, ``input_shape``, ``class_names``, ``name``), with the adapter built from ``spec``."""
        return cls(
            modality=modality,
            name=source.name,
            train=source.train,
            test=source.eval,
            num_classes=source.num_classes,
            input_shape=tuple(source.input_shape),
            spec=spec,
            adapter=_build_adapter(spec),
            class_names=list(source.class_names),
            source=source,
            **extra,
        )

    def with_splits(self, train: TensorDataset, test: TensorDataset, **changes: Any) -> BenchData:
        """A copy with other train and test splits (modified inputs) and the same spec and adapter."""
        return dataclasses.replace(self, train=train, test=test, **changes)

    def with_estimator(self, estimator: str | None) -> BenchData:
        """A copy whose Hide-and-Seek models use the stochastic binarizer with gradient ``estimator`` (``st1``,
        ``st2``, ``sa``, ``reinforce``); ``None`` keeps the modality's recipe. ``ValueError`` for an unknown name."""
        if estimator is None:
            return self
        ESTIMATORS.get(estimator)  # ValueError naming the choices for an unknown name
        binarizer = Component("stochastic", {"estimator": estimator})
        return dataclasses.replace(self, spec=dataclasses.replace(self.spec, binarizer=binarizer))


def check_modality(modality: str) -> str:
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of: {', '.join(MODALITIES)}")
    return modality


def _build_adapter(spec: ModelSpec) -> Adapter:
    for module in BUILTIN_MODALITIES:
        import_module(module)
    return ADAPTERS.build(spec.adapter.name, **spec.adapter.kwargs).eval()


def _subset(dataset: TensorDataset, size: int | None, seed: int) -> TensorDataset:
    """A seeded random subset of ``size`` rows (all of them when ``size`` is ``None`` or not smaller)."""
    n = len(dataset)
    if size is None or size >= n:
        return dataset
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size].sort().values
    return TensorDataset(*(t[index] for t in dataset.tensors))


def subsample(data: BenchData, n_train: int | None, n_test: int | None, *, seed: int = 0) -> BenchData:
    """A copy of ``data`` with seeded random subsets of ``n_train`` training and ``n_test`` test rows (``None``:
    all); the test rationale follows its rows."""
    train = _subset(data.train, n_train, seed)
    n = len(data.test)
    if n_test is None or n_test >= n:
        return data.with_splits(train, data.test)
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))[:n_test].sort().values
    rationale = data.test_rationale[index] if data.test_rationale is not None else None
    test = TensorDataset(*(t[index] for t in data.test.tensors))
    return data.with_splits(train, test, test_rationale=rationale)


def image_bench_data(
    name: str,
    train: TensorDataset,
    test: TensorDataset,
    num_classes: int,
    *,
    class_names: Sequence[str] = (),
    source: Any = None,
    **spec_options: Any,
) -> BenchData:
    """Image :class:`BenchData` from two ``TensorDataset(images (N, C, H, W), labels)``, hidden pixels filled with
    the per-channel training mean (``spec_options`` go to :func:`hnsx.spec.image_spec`)."""
    from hnsx.adapters.image.data import channel_mean
    from hnsx.adapters.image.spec import image_spec

    shape = tuple(int(s) for s in train.tensors[0].shape[1:])
    spec = image_spec(shape, num_classes, **{"fill": "mean", "mean": channel_mean(train), **spec_options})
    return BenchData(
        modality="image",
        name=name,
        train=train,
        test=test,
        num_classes=num_classes,
        input_shape=shape,
        spec=spec,
        adapter=_build_adapter(spec),
        class_names=list(class_names),
        source=source,
    )


#: Split sizes (train, test) of the full and the quick data per modality; ``None`` keeps the whole split.
SIZES: dict[str, dict[bool, tuple[int | None, int | None]]] = {
    "image": {False: (None, None), True: (1200, 400)},
    "text": {False: (3000, 600), True: (800, 200)},
    "tabular": {False: (None, None), True: (None, None)},
}


def load_bench_data(modality: str, *, quick: bool = False, seed: int = 0, name: str | None = None) -> BenchData:
    """The benchmark data of ``modality`` (see the module docstring); ``quick`` takes smaller seeded subsets.

    ``name`` picks another data set: image ``"digits"`` (any :data:`hnsx.data.DATASETS` name), tabular ``"switch"``
    or ``"wine"``.
    """
    check_modality(modality)
    n_train, n_test = SIZES[modality][bool(quick)]
    if modality == "image":
        from hnsx.adapters.image.data import load_dataset

        data = load_dataset(name or "mnist-embedded", seed=seed)
        train, test = _subset(data.train, n_train, seed), _subset(data.eval, n_test, seed + 1)
        return image_bench_data(data.name, train, test, data.num_classes, class_names=data.class_names, source=data)
    if modality == "text":
        from hnsx.adapters.text.data import GENERATED, generated_data
        from hnsx.adapters.text.demo import MAX_LENGTH, demo_spec

        if name not in (None, GENERATED):
            raise ValueError(f"the text benchmarks run on the generated corpus {GENERATED!r}, not {name!r}")
        data = generated_data(n_train, n_test, seed=seed, max_length=MAX_LENGTH)
        return BenchData.from_source("text", data, demo_spec(data), test_rationale=data.eval_rationale)
    from hnsx.adapters.tabular.data import load_tabular
    from hnsx.adapters.tabular.spec import tabular_spec

    data = load_tabular(name or "breast-cancer", seed=seed)
    spec = tabular_spec(data.schema, data.num_classes, classes=data.class_names, target=data.target)
    rationale = data.relevant.float() if data.relevant is not None else None
    return BenchData.from_source("tabular", data, spec, test_rationale=rationale)


# --- models ----------------------------------------------------------------------------------------------------------


def _accelerator(seed: int, device: str = "cpu"):
    from hnsx.training.fit import make_accelerator

    return make_accelerator(TrainConfig(seed=seed, cpu=device == "cpu"))


def new_seeker(data: BenchData, *, seed: int) -> nn.Module:
    """An untrained seeker of the modality's default architecture (``data.spec.seeker``), seeded."""
    from accelerate.utils import set_seed

    for module in BUILTIN_MODALITIES:
        import_module(module)
    set_seed(seed)
    spec = data.spec
    return SEEKERS.build(
        spec.seeker.name, input_shape=spec.input_shape, num_classes=spec.num_classes, **spec.seeker.kwargs
    )


def train_seeker(
    data: BenchData,
    *,
    seed: int,
    epochs: int | None = None,
    progress: bool = False,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "cpu",
) -> nn.Module:
    """A fresh classifier of the modality's seeker architecture, trained from scratch on ``data.train``.

    Adam with cross-entropy (:func:`hnsx.training.pretrain.train_classifier`) for ``epochs`` (default: the
    modality's :data:`RECIPES` entry); weights and data order follow ``seed``, so the same seed and data give the
    same model. Returned in eval mode.
    """
    from hnsx.data import make_loaders
    from hnsx.training.pretrain import train_classifier

    recipe = RECIPES[check_modality(data.modality)]
    seeker = new_seeker(data, seed=seed)
    loader, _ = make_loaders(data, batch_size or recipe.batch_size, seed=seed)
    accelerator = _accelerator(seed, device)
    seeker = train_classifier(
        seeker,
        accelerator.prepare(loader),
        recipe.seeker_epochs if epochs is None else epochs,
        lr or recipe.lr,
        accelerator,
        progress,
    )
    return seeker.eval()


def train_hns(
    data: BenchData,
    *,
    seed: int,
    epochs: int | None = None,
    progress: bool = False,
    out_dir: str | Path | None = None,
    device: str = "cpu",
    baseline_accuracy: float | None = None,
    **overrides: Any,
) -> HideAndSeek:
    """The modality's default Hide-and-Seek model (``data.spec``) trained on ``data`` by
    :func:`hnsx.pipeline.run_training` with the :data:`RECIPES` settings (``overrides``: other
    :class:`~hnsx.training.config.TrainConfig` fields).

    Returns the best checkpoint (highest FII among the epochs that did not collapse; the last epoch if none
    qualifies), in eval mode. The run folder is ``out_dir``, or a temporary folder removed afterwards.
    ``baseline_accuracy`` (the denominator of Fidelity, e.g. a :func:`train_seeker` model's accuracy) spares
    ``run_training`` from training its own baseline seeker.
    """
    from hnsx.pipeline import run_training
    from hnsx.training.checkpoint import load_model_state, resolve_checkpoint

    recipe = RECIPES[check_modality(data.modality)]
    settings = {"seed": seed, "progress": progress, "cpu": device == "cpu", **overrides}
    if epochs is not None:
        settings["epochs"] = epochs
    config = TrainConfig.build(recipe.hns, **settings)
    with tempfile.TemporaryDirectory(prefix="hnsx-bench-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        result = run_training(data, data.spec, config, out, baseline_accuracy=baseline_accuracy)
        if result.fit.best is not None:
            load_model_state(result.model, resolve_checkpoint(out, "best"))
    return result.model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, dataset: TensorDataset, batch_size: int = 256) -> float:
    """Accuracy of a classifier on ``dataset`` (inputs as they are), in eval mode."""
    from hnsx.metrics import accuracy as loader_accuracy

    device = next(model.parameters()).device
    loader = ((x.to(device), y.to(device)) for x, y in DataLoader(dataset, batch_size=batch_size))
    return loader_accuracy(model, loader)


# --- explainers ------------------------------------------------------------------------------------------------------


def registry_name(modality: str, name: str) -> str:
    """The :data:`~hnsx.benchmarks.explainers.EXPLAINERS` entry of explainer ``name`` for ``modality``."""
    return name if check_modality(modality) == "image" else f"{modality}-{name}"


def explainer_names(modality: str) -> list[str]:
    """The plain names of ``modality``'s explainers (``hns``, ``integrated-gradients``, ..., ``random``)."""
    prefix = "" if check_modality(modality) == "image" else f"{modality}-"
    return [n[len(prefix) :] for n in EXPLAINERS.names(modality)]


def check_explainers(modality: str, names: Sequence[str]) -> list[str]:
    """``names`` as a list, or ``ValueError`` naming the unknown ones and the choices."""
    known = explainer_names(modality)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {modality} explainer(s) {', '.join(unknown)}; choose from: {', '.join(known)}")
    if not names:
        raise ValueError("no explainers chosen")
    return list(names)


def build_explainers(
    data: BenchData,
    seeker: nn.Module,
    hns_model: HideAndSeek | None = None,
    names: Sequence[str] | None = None,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
) -> dict[str, Explainer]:
    """The explainers ``names`` (default: all of the modality) by plain name: ``hns`` around ``hns_model``, the
    others around ``seeker``. ``options[name]`` are extra builder arguments (e.g. ``{"integrated-gradients":
    {"n_steps": 16}}``); ``random`` is seeded with ``seed``."""
    names = check_explainers(data.modality, list(names) if names is not None else explainer_names(data.modality))
    built = {}
    for name in names:
        kwargs = dict((options or {}).get(name, {}))
        if name == "random":
            kwargs.setdefault("seed", seed)
        if data.modality != "image":
            kwargs["adapter"] = data.adapter
        if name == "hns":
            if hns_model is None:
                raise ValueError("the hns explainer needs a trained Hide-and-Seek model (hns_model=...)")
            model = hns_model
        else:
            model = seeker
        built[name] = build_explainer(registry_name(data.modality, name), model, **kwargs)
    return built


def flatten_units(data: BenchData, inputs: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of one batch as ``(B, U)`` and which of the ``U`` unit slots exist ``(B, U)`` bool.

    Image ``(B, 1, H, W)`` -> ``U = H * W``; text ``(B, L)`` (slots without a word are not valid); tabular ``(B, F)``.
    """
    flat = scores.reshape(scores.shape[0], -1)
    valid = data.adapter.valid_units(inputs)
    valid = torch.ones_like(flat, dtype=torch.bool) if valid is None else valid.reshape(flat.shape).bool()
    return flat, valid


def unit_shape(data: BenchData, inputs: torch.Tensor) -> tuple[int, ...]:
    """The mask shape of ``inputs`` (image ``(B, 1, H, W)``, text ``(B, L)``, tabular ``(B, F)``)."""
    return tuple(data.adapter.mask_shape(inputs))


def ranking_scores(explainer: Explainer, scores: torch.Tensor) -> torch.Tensor:
    """Scores to rank units by: ``|scores|`` for signed methods (``explainer.rank_by_abs``), else the scores."""
    return scores.abs() if explainer.rank_by_abs else scores


def attribute_dataset(
    explainer: Explainer,
    data: BenchData,
    dataset: TensorDataset,
    *,
    batch_size: int = 128,
    progress: bool = False,
    desc: str = "attributing",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attribute every row of ``dataset`` for its true label, in batches.

    Returns ``scores (N, U)`` float32 and ``valid (N, U)`` bool on the CPU (:func:`flatten_units`); the scores are
    what the explainer returns (apply :func:`ranking_scores` to rank).
    """
    device = device_of(explainer.model)
    all_scores, all_valid = [], []
    loader = DataLoader(dataset, batch_size=batch_size)
    for inputs, labels in tqdm(loader, desc=desc, disable=not progress, leave=False):
        inputs, labels = inputs.to(device), labels.to(device)
        scores = explainer.attribute(inputs, labels).detach()
        flat, valid = flatten_units(data, inputs, scores)
        all_scores.append(flat.float().cpu())
        all_valid.append(valid.cpu())
    return torch.cat(all_scores), torch.cat(all_valid)


def device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def rank_order(scores: torch.Tensor, valid: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` int64: per row, the unit indices from the highest score to the lowest, invalid units last.

    Ties are broken in a random order drawn per row (seeded), so that flat maps (Grad-CAM's zeros, a constant keep
    probability) pick neither the first units nor the same units on every row.
    """
    n, u = scores.shape
    perm = torch.argsort(torch.rand(n, u, generator=torch.Generator().manual_seed(seed)), dim=1)
    shuffled = scores.float().gather(1, perm).masked_fill(~valid.bool().gather(1, perm), -math.inf)
    return perm.gather(1, torch.argsort(shuffled, dim=1, descending=True, stable=True))


def order_ranks(order: torch.Tensor) -> torch.Tensor:
    """``(N, U)`` int64: the rank of every unit (0 for the first) of a :func:`rank_order` (its inverse permutation)."""
    n, u = order.shape
    ranks = torch.empty(n, u, dtype=torch.long, device=order.device)
    ranks.scatter_(1, order.long(), torch.arange(u, device=order.device).expand(n, u).contiguous())
    return ranks


def fraction_counts(valid_counts: torch.Tensor, fraction: float) -> torch.Tensor:
    """``round(fraction * valid_counts)`` per row, for ``fraction`` in [0, 1] (``ValueError`` otherwise)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fractions must lie in [0, 1], got {fraction}")
    return torch.round(valid_counts.double() * fraction).long()


def top_from_order(order: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``(N, U)`` bool: the first ``counts[i]`` units of row ``i`` of a :func:`rank_order`."""
    n, u = order.shape
    top = torch.zeros(n, u, dtype=torch.bool)
    top.scatter_(1, order.long(), torch.arange(u).expand(n, u) < counts.long().unsqueeze(1))
    return top


def top_counts(scores: torch.Tensor, valid: torch.Tensor, counts: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` bool: per row ``i``, the ``counts[i]`` valid units with the highest ``scores`` (ties in a seeded
    random order per row, :func:`rank_order`)."""
    return top_from_order(rank_order(scores, valid, seed=seed), counts)


def top_units(scores: torch.Tensor, valid: torch.Tensor, fraction: float, *, seed: int = 0) -> torch.Tensor:
    """``(N, U)`` bool: per row, the ``round(fraction * valid units)`` valid units with the highest ``scores``."""
    return top_counts(scores, valid, fraction_counts(valid.sum(1), fraction), seed=seed)


def remove_units(data: BenchData, inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``inputs`` with the units where ``keep`` is 0 filled as the modality's adapter fills hidden units.

    ``keep`` is the unit mask, in the adapter's mask shape or flattened ``(B, U)``. Image and tabular: exactly
    ``adapter.apply_mask`` (image: the per-channel training mean; tabular: training mean or missing code). Text:
    the token ids of hidden words become the fill token, which for a binary mask is what ``apply_mask`` does to the
    seeker's embeddings (``keep * E(id) + (1 - keep) * E(fill)``), written into the ``(B, 2, L)`` input so that
    any seeker trains on it.
    """
    keep = keep.reshape(unit_shape(data, inputs)).to(inputs.device)
    masked = data.adapter.apply_mask(inputs, keep.float())
    if data.modality != "text":
        return masked.detach()
    out = inputs.clone()
    out[:, 0] = torch.where(masked.keep > 0.5, masked.input_ids, torch.full_like(masked.input_ids, masked.fill_id))
    return out


# --- scoring under masks --------------------------------------------------------------------------------------------


@torch.no_grad()
def masked_predictions(
    model: nn.Module, data: BenchData, inputs: torch.Tensor, keep: torch.Tensor | None = None, batch_size: int = 256
) -> torch.Tensor:
    """Predicted classes ``(N,)`` of ``model`` on ``inputs`` with only the units where ``keep (N, U)`` is 1 kept
    (hidden units filled by :func:`~hnsx.benchmarks.common.remove_units`); all units when ``keep`` is ``None``."""
    device = device_of(model)
    out = []
    for start in range(0, inputs.shape[0], batch_size):
        x = inputs[start : start + batch_size].to(device)
        if keep is not None:
            x = remove_units(data, x, keep[start : start + batch_size])
        out.append(model(x).argmax(1).cpu())
    return torch.cat(out)


@torch.no_grad()
def hns_masks(model: HideAndSeek, data: BenchData, inputs: torch.Tensor, batch_size: int = 256):
    """HnS predictions ``(N,)``, masks ``(N, U)`` bool and valid units ``(N, U)`` bool (deterministic masks)."""
    device = device_of(model)
    classes, masks, valid = [], [], []
    for start in range(0, inputs.shape[0], batch_size):
        x = inputs[start : start + batch_size].to(device)
        predicted, mask, _ = model.predict_explain(x)
        flat, ok = flatten_units(data, x, mask)
        classes.append(predicted.cpu())
        masks.append((flat > 0.5).cpu() & ok.cpu())
        valid.append(ok.cpu())
    return torch.cat(classes), torch.cat(masks), torch.cat(valid)


# --- command line ---------------------------------------------------------------------------------------------------


def seed_list(seeds: int) -> list[int]:
    """Seeds ``0 .. seeds - 1``; ``ValueError`` for fewer than one."""
    if isinstance(seeds, bool) or int(seeds) < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    return list(range(int(seeds)))


def cli_options(args: Any) -> dict[str, Any]:
    """Config fields every benchmark takes from ``hnsx bench``: ``--explainers a,b`` (plain names) and
    ``--epochs`` (joint epochs of the Hide-and-Seek models, ``hns_epochs``); absent options are left out."""
    options: dict[str, Any] = {}
    if getattr(args, "explainers", None):
        options["explainers"] = tuple(n.strip() for n in args.explainers.split(",") if n.strip())
    if getattr(args, "epochs", None) is not None:
        options["hns_epochs"] = int(args.epochs)
    return options


def cli_run_settings(args: Any, *, quick_seeds: int = 3) -> tuple[list[int], str]:
    """Seeds and device of a ``hnsx bench`` run (``--seeds``: default 3, ``quick_seeds`` under ``--quick``);
    sets torch's thread count from ``--threads``; ``ValueError`` for CUDA without a CUDA device."""
    default = quick_seeds if getattr(args, "quick", False) else 3
    seeds = seed_list(args.seeds if getattr(args, "seeds", None) is not None else default)
    threads = getattr(args, "threads", None)
    if threads is not None:
        torch.set_num_threads(int(threads))
    device = getattr(args, "device", "cpu") or "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    return seeds, device


__all__ = [
    "BenchData",
    "MODALITIES",
    "RECIPES",
    "Recipe",
    "accuracy",
    "attribute_dataset",
    "build_explainers",
    "check_explainers",
    "check_modality",
    "cli_options",
    "cli_run_settings",
    "device_of",
    "explainer_names",
    "flatten_units",
    "fraction_counts",
    "order_ranks",
    "hns_masks",
    "image_bench_data",
    "load_bench_data",
    "masked_predictions",
    "new_seeker",
    "rank_order",
    "ranking_scores",
    "registry_name",
    "remove_units",
    "seed_list",
    "subsample",
    "top_counts",
    "top_from_order",
    "top_units",
    "train_hns",
    "train_seeker",
    "unit_shape",
]
