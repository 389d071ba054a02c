"""What every ``hnsx bench`` benchmark shares: the data, the models and the explainers of a modality.

* **Data**: :func:`load_bench_data` returns a :class:`BenchData` with ``train`` and ``test``
  ``TensorDataset(inputs, labels)``, the modality's default Hide-and-Seek ``spec`` and its ``adapter`` (which
  numbers the mask units and fills hidden ones), from the modality's ``load_bench_data`` hook
  (:mod:`hnsx.benchmarks.hooks`; the built-in data sets are described in ``hnsx.adapters.<modality>.bench``). The
  split is fixed by ``seed`` (0 for every benchmark run, as the ROAR protocol asks: one split for all runs); model
  seeds vary per repetition. :func:`subsample` takes seeded subsets.
* **Models**: :func:`train_seeker` trains a fresh classifier of the modality's default seeker architecture from
  scratch (:func:`hnsx.training.pretrain.train_classifier`); :func:`train_hns` trains the default Hide-and-Seek model
  with :func:`hnsx.pipeline.run_training` and returns its best checkpoint (the one ``hnsx explain`` loads); both
  follow the modality's :class:`~hnsx.benchmarks.hooks.Recipe`.
* **Explainers**: :func:`explainer_names` lists a modality's explainers by their plain names (``hns``,
  ``integrated-gradients``, ...; the registry prefix of the modality's hooks dropped); :func:`build_explainers`
  builds them around ``(seeker, hns_model)``; :func:`attribute_dataset` attributes a whole split in batches and
  returns ``(scores (N, U), valid (N, U))``: one score per mask unit, flattened, with the units that exist.

Ranking lives in :mod:`hnsx.benchmarks.ranking`, unit removal in :mod:`hnsx.benchmarks.removal`, results and
reports in :mod:`hnsx.benchmarks.results`, the runner in :mod:`hnsx.benchmarks.runner`; the label-encoding
evaluator and Hide-and-Seek against a frozen seeker are core science, in :mod:`hnsx.training.evaluator`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from hnsx.adapter import ADAPTERS, Adapter
from hnsx.benchmarks.explainers import EXPLAINERS, Explainer, build_explainer
from hnsx.benchmarks.hooks import Recipe, hooks
from hnsx.benchmarks.removal import device_of, flatten_units
from hnsx.binarizers import ESTIMATORS
from hnsx.model import HideAndSeek
from hnsx.spec import Component, ModelSpec
from hnsx.training.config import TrainConfig
from hnsx.training.evaluator import dataset_accuracy, new_classifier


@dataclass
class BenchData:
    """A benchmark data set of one modality, with the default model spec and the adapter that fills hidden units.

    It is an :class:`~hnsx.training.evaluator.ExperimentData`: the recipe's settings are properties.

    Attributes
    ----------
    modality:
        The registered modality's name (``"image"``, ``"text"``, ``"tabular"``, ...).
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
    trained:
        A trained Hide-and-Seek model to explain instead of training one per seed (``hnsx bench --checkpoint``,
        :func:`hnsx.benchmarks.compare`): its seeker is the classifier the post-hoc explainers explain.
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
    trained: HideAndSeek | None = None

    @property
    def eval(self) -> TensorDataset:
        """The test split under the name :func:`hnsx.pipeline.run_training` and :func:`hnsx.data.make_loaders` use."""
        return self.test

    @property
    def recipe(self) -> Recipe:
        """The modality's training recipe (its hooks' ``RECIPE``)."""
        return hooks(self.modality).RECIPE

    @property
    def batch_size(self) -> int:
        return self.recipe.batch_size

    @property
    def lr(self) -> float:
        return self.recipe.lr

    @property
    def hns_config(self) -> TrainConfig:
        return self.recipe.hns

    @property
    def mask_blocks(self) -> tuple[int, ...]:
        """Block sides of random masks (the modality's ``MASK_BLOCKS``)."""
        return tuple(hooks(self.modality).MASK_BLOCKS)

    @classmethod
    def from_source(cls, modality: str, source: Any, spec: ModelSpec, **extra: Any) -> BenchData:
        """The benchmark view of a modality loader's result (``train``, ``eval``, ``num_classes``, ``input_shape``,
        ``class_names``, ``name``), with the adapter built from ``spec``."""
        return cls(
            modality=modality,
            name=source.name,
            train=source.train,
            test=source.eval,
            num_classes=source.num_classes,
            input_shape=tuple(source.input_shape),
            spec=spec,
            adapter=build_adapter(spec),
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
    """``modality`` if it is registered and has benchmark hooks, else ``ValueError``."""
    hooks(modality)
    return modality


def build_adapter(spec: ModelSpec) -> Adapter:
    """The adapter of ``spec``, in eval mode."""
    return ADAPTERS.build(spec.adapter.name, **spec.adapter.kwargs).eval()


def subset(dataset: TensorDataset, size: int | None, seed: int) -> TensorDataset:
    """A seeded random subset of ``size`` rows (all of them when ``size`` is ``None`` or not smaller)."""
    n = len(dataset)
    if size is None or size >= n:
        return dataset
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size].sort().values
    return TensorDataset(*(t[index] for t in dataset.tensors))


def subsample(data: BenchData, n_train: int | None, n_test: int | None, *, seed: int = 0) -> BenchData:
    """A copy of ``data`` with seeded random subsets of ``n_train`` training and ``n_test`` test rows (``None``:
    all); the test rationale follows its rows."""
    train = subset(data.train, n_train, seed)
    n = len(data.test)
    if n_test is None or n_test >= n:
        return data.with_splits(train, data.test)
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))[:n_test].sort().values
    rationale = data.test_rationale[index] if data.test_rationale is not None else None
    test = TensorDataset(*(t[index] for t in data.test.tensors))
    return data.with_splits(train, test, test_rationale=rationale)


def load_bench_data(modality: str, *, quick: bool = False, seed: int = 0, name: str | None = None) -> BenchData:
    """The benchmark data of ``modality`` (its ``load_bench_data`` hook); ``quick`` takes smaller seeded subsets,
    ``name`` another data set of the modality (image: any :data:`hnsx.data.DATASETS` name; tabular ``"switch"``
    or ``"wine"``)."""
    return hooks(modality).load_bench_data(quick=bool(quick), seed=seed, name=name)


def load_user_data(modality: str, settings: Any, checkpoint: str | Path | None = None, which: str = "best"):
    """The benchmark data named by ``hnsx train``'s data options in ``settings`` (the modality's ``load_data``,
    then its ``bench_data`` hook); with ``checkpoint`` (a run folder of ``hnsx train``) the run's model is loaded
    (:func:`hnsx.explain.load_trained`) as :attr:`BenchData.trained`, the data prepared for it (text: the run's
    tokenizer) and its spec and adapter used. ``ValueError`` when the data does not fit the model."""
    from hnsx.modality import get_modality

    check_modality(modality)
    if checkpoint is None:
        return hooks(modality).bench_data(get_modality(modality).load_data(settings))
    from hnsx.explain import load_trained
    from hnsx.training.checkpoint import read_state, resolve_checkpoint

    path = resolve_checkpoint(checkpoint, which)
    model = load_trained(path)
    spec = ModelSpec.from_dict(read_state(path)["spec"])
    source = get_modality(modality).load_run_data(settings, model, path)
    if source.num_classes != spec.num_classes:
        raise ValueError(f"the data has {source.num_classes} classes, the model of {checkpoint} {spec.num_classes}")
    shape = tuple(source.input_shape)
    if tuple(spec.input_shape) != shape:
        raise ValueError(f"the data's inputs have shape {shape}, the model of {checkpoint} takes {spec.input_shape}")
    data = hooks(modality).bench_data(source)
    name = f"{data.name}, model {checkpoint}"
    return dataclasses.replace(data, name=name, spec=spec, adapter=model.adapter.eval(), trained=model.eval())


def hns_model(data: BenchData, *, seed: int, device: str = "cpu", **train: Any) -> HideAndSeek:
    """``data.trained`` (on ``device``) where the user gave a model, else :func:`train_hns` with ``train``."""
    if data.trained is not None:
        return data.trained.to(device).eval()
    return train_hns(data, seed=seed, device=device, **train)


def seeker_model(data: BenchData, *, seed: int, device: str = "cpu", **train: Any) -> nn.Module:
    """The classifier post-hoc explainers explain: the user's model's seeker (``data.trained``, on ``device``),
    else :func:`train_seeker` with ``train``."""
    if data.trained is not None:
        return data.trained.to(device).seeker.eval()
    return train_seeker(data, seed=seed, device=device, **train)


# --- models ----------------------------------------------------------------------------------------------------------


def _accelerator(seed: int, device: str = "cpu"):
    from hnsx.training.fit import make_accelerator

    return make_accelerator(TrainConfig(seed=seed, cpu=device == "cpu"))


def new_seeker(data: BenchData, *, seed: int) -> nn.Module:
    """An untrained seeker of the modality's default architecture (``data.spec.seeker``), seeded."""
    return new_classifier(data.spec, seed=seed)


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
    modality's recipe); weights and data order follow ``seed``, so the same seed and data give the same model.
    Returned in eval mode.
    """
    from hnsx.data import make_loaders
    from hnsx.training.pretrain import train_classifier

    recipe = data.recipe
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
    :func:`hnsx.pipeline.run_training` with the recipe's settings (``overrides``: other
    :class:`~hnsx.training.config.TrainConfig` fields).

    Returns the best checkpoint (highest FII among the epochs that did not collapse; the last epoch if none
    qualifies), in eval mode. The run folder is ``out_dir``, or a temporary folder removed afterwards.
    ``baseline_accuracy`` (the denominator of Fidelity, e.g. a :func:`train_seeker` model's accuracy) spares
    ``run_training`` from training its own baseline seeker.
    """
    from hnsx.pipeline import run_training
    from hnsx.training.checkpoint import load_model_state, resolve_checkpoint

    settings = {"seed": seed, "progress": progress, "cpu": device == "cpu", **overrides}
    if epochs is not None:
        settings["epochs"] = epochs
    config = TrainConfig.build(data.hns_config, **settings)
    with tempfile.TemporaryDirectory(prefix="hnsx-bench-") as tmp:
        out = Path(out_dir) if out_dir is not None else Path(tmp)
        result = run_training(data, data.spec, config, out, baseline_accuracy=baseline_accuracy)
        if result.fit.best is not None:
            load_model_state(result.model, resolve_checkpoint(out, "best"))
    return result.model.eval()


def accuracy(model: nn.Module, dataset: TensorDataset, batch_size: int = 256) -> float:
    """Accuracy of a classifier on ``dataset`` (inputs as they are), in eval mode."""
    return dataset_accuracy(model, dataset, batch_size)


# --- explainers ------------------------------------------------------------------------------------------------------


def registry_name(modality: str, name: str) -> str:
    """The :data:`~hnsx.benchmarks.explainers.EXPLAINERS` entry of explainer ``name`` for ``modality``."""
    return f"{hooks(modality).EXPLAINER_PREFIX}{name}"


def explainer_names(modality: str, *, defaults_only: bool = False) -> list[str]:
    """The plain names of ``modality``'s explainers (``hns``, ``integrated-gradients``, ..., ``random``);
    ``defaults_only``: those of a benchmark's default list (``Explainer.by_default``)."""
    prefix = hooks(modality).EXPLAINER_PREFIX
    names = [n for n in EXPLAINERS.names(modality) if n.startswith(prefix)]
    if defaults_only:
        names = [n for n in names if getattr(EXPLAINERS.get(n), "by_default", True)]
    return [n[len(prefix) :] for n in names]


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
    others around ``seeker``, every one with ``data.adapter``. ``options[name]`` are extra builder arguments (e.g.
    ``{"integrated-gradients": {"n_steps": 16}}``); ``random`` is seeded with ``seed``."""
    default = explainer_names(data.modality, defaults_only=True)
    names = check_explainers(data.modality, list(names) if names is not None else default)
    built = {}
    for name in names:
        kwargs = dict((options or {}).get(name, {}))
        if name == "random":
            kwargs.setdefault("seed", seed)
        if name == "hns":
            if hns_model is None:
                raise ValueError("the hns explainer needs a trained Hide-and-Seek model (hns_model=...)")
            model = hns_model
        else:
            model = seeker
        built[name] = build_explainer(registry_name(data.modality, name), model, adapter=data.adapter, **kwargs)
    return built


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

    Returns ``scores (N, U)`` float32 and ``valid (N, U)`` bool on the CPU
    (:func:`~hnsx.benchmarks.removal.flatten_units`); the scores are what the explainer returns
    (:func:`~hnsx.benchmarks.ranking.ranking_scores` turns them into a ranking).
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


__all__ = [
    "BenchData",
    "accuracy",
    "attribute_dataset",
    "build_adapter",
    "build_explainers",
    "check_explainers",
    "check_modality",
    "explainer_names",
    "load_bench_data",
    "new_seeker",
    "registry_name",
    "subsample",
    "subset",
    "train_hns",
    "train_seeker",
]
