"""The benchmark hooks of a modality: everything ``hnsx bench`` needs to know about one kind of input.

The benchmarks never branch on a modality's name. They ask the registered :class:`~hnsx.modality.Modality` for its
hooks module (``get_modality(name).bench()``, for the built-ins ``hnsx.adapters.<name>.bench``) through
:func:`hooks`, which fills in the defaults below for what the module leaves out. A new modality needs only the two
required hooks to run ``hnsx bench faithfulness`` and ``sanity``; the optional ones tune it.

Required
--------
``RECIPE``
    A :class:`Recipe`: how the benchmarks train the modality's plain seeker and its Hide-and-Seek model.
``load_bench_data(*, quick: bool, seed: int, name: str | None) -> BenchData``
    The benchmark data (:class:`~hnsx.benchmarks.common.BenchData`): ``quick`` takes the smaller seeded subsets,
    ``name`` another data set of the modality (``ValueError`` for one it does not know).

Optional (default in brackets)
------------------------------
``remove_units(adapter, inputs, keep) -> inputs``
    ``inputs`` with the units where ``keep`` (the adapter's mask shape, {0, 1}) is 0 filled, as an input any
    classifier can train on [``adapter.apply_mask(inputs, keep)``].
``EXPLAINER_PREFIX``
    The prefix of the modality's :data:`~hnsx.benchmarks.explainers.EXPLAINERS` entries [``"<modality>-"``].
``SETTINGS``
    ``{benchmark: {quick: {config field: value}}}``: the modality's defaults of a benchmark's configuration for
    the full (``False``) and the ``--quick`` (``True``) run, over the benchmark's own defaults [``{}``].
``EVALUATOR_EPOCHS``
    ``{quick: epochs}`` of the label-encoding evaluator [``{False: 8, True: 4}``].
``MASK_BLOCKS``
    Block sides of random masks (:func:`hnsx.training.evaluator.random_masks`) [the modality's ``mask_blocks``,
    :attr:`hnsx.modality.Modality.mask_blocks`; ``(1,)``: per unit].
``SPATIAL_MAPS``
    The attribution maps are 2-D images: SSIM applies and example maps are drawn [``False``].
``CONTRASTIVE``
    ``hnsx bench shortcut`` adds contrastive Hide-and-Seek (:mod:`hnsx.benchmarks.contrastive`) [``False``].
``ignored_units(data) -> (U,) tensor | None``
    0 for units the rationale scores of ``hnsx bench faithfulness`` leave out [``None``: none].
``plant_shortcut(*, quick: bool, seed: int) -> Planted``
    The data with a planted shortcut of ``hnsx bench shortcut`` (a :class:`Planted`) [none: ``ValueError``].
``plant_on(data) -> Planted``
    The shortcut of ``plant_shortcut`` planted on the user's data (a :class:`BenchData` of ``bench_data``), for
    ``hnsx bench shortcut`` with the data options [none: ``ValueError``].
``render_examples(data, inputs, scores) -> str``
    An HTML fragment for ``report.html`` showing each explainer's scores (``scores[name]``, the adapter's mask shape)
    on a few ``inputs`` side by side (image: a grid of maps; text: highlighted words) [none: no such section].
``bench_data(source) -> BenchData``
    The benchmark view of what the modality's ``load_data`` returned, for ``hnsx bench`` on the user's data
    (``--data-file``, ``--dataset``, ``--checkpoint``; :func:`~hnsx.benchmarks.common.load_user_data`) [none:
    ``ValueError``].
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

import torch
from torch.utils.data import TensorDataset

from hnsx.adapter import Adapter
from hnsx.modality import get_modality, modality_names
from hnsx.training.config import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """How a modality's models are trained in the benchmarks.

    ``seeker_epochs``, ``batch_size`` and ``lr`` train the plain seeker (Adam, cross-entropy); ``hns`` is the
    :class:`~hnsx.training.config.TrainConfig` of Hide-and-Seek training (its seed, epochs and progress are set per
    call).
    """

    seeker_epochs: int
    batch_size: int
    lr: float
    hns: TrainConfig


@dataclass
class Planted:
    """Data with a planted shortcut and what is known about it (``hnsx bench shortcut``).

    Attributes
    ----------
    data:
        Train and test splits with the shortcut as in training (biased), with the modality's spec and adapter.
    removed, added:
        The test split without the shortcut and with it on every row (same rows and labels as ``data.test``).
    affected:
        ``(M,)`` bool: the biased test rows that carry the shortcut.
    follows:
        ``(M,)`` int64: the class the shortcut points to in ``added``.
    region:
        ``region(inputs) -> (B, U)`` bool: the planted units of a batch (flattened like
        :func:`~hnsx.benchmarks.removal.flatten_units`).
    description:
        One line saying what was planted.
    """

    data: Any
    removed: TensorDataset
    added: TensorDataset
    affected: torch.Tensor
    follows: torch.Tensor
    region: Callable[[torch.Tensor], torch.Tensor]
    description: str


class BenchHooks(Protocol):
    """The hook vocabulary (module docstring); :func:`hooks` returns an object with all of it."""

    name: str
    RECIPE: Recipe
    EXPLAINER_PREFIX: str
    SETTINGS: dict[str, dict[bool, dict[str, Any]]]
    EVALUATOR_EPOCHS: dict[bool, int]
    MASK_BLOCKS: tuple[int, ...]
    SPATIAL_MAPS: bool
    CONTRASTIVE: bool

    def load_bench_data(self, *, quick: bool = False, seed: int = 0, name: str | None = None) -> Any: ...

    def remove_units(self, adapter: Adapter, inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor: ...

    def ignored_units(self, data: Any) -> torch.Tensor | None: ...

    def plant_shortcut(self, *, quick: bool = False, seed: int = 0) -> Planted: ...

    def bench_data(self, source: Any) -> Any: ...

    def plant_on(self, data: Any) -> Planted: ...

    def render_examples(self, data: Any, inputs: torch.Tensor, scores: dict[str, torch.Tensor]) -> str: ...

    def settings(self, benchmark: str, quick: bool) -> dict[str, Any]: ...


#: The optional hooks a module may define (the required ones: ``RECIPE``, ``load_bench_data``).
OPTIONAL = (
    "remove_units",
    "EXPLAINER_PREFIX",
    "SETTINGS",
    "EVALUATOR_EPOCHS",
    "MASK_BLOCKS",
    "SPATIAL_MAPS",
    "CONTRASTIVE",
    "ignored_units",
    "plant_shortcut",
    "bench_data",
    "plant_on",
    "render_examples",
)


def _remove_units(adapter: Adapter, inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return adapter.apply_mask(inputs, keep.float()).detach()


def _no_ignored_units(data: Any) -> None:
    return None


def _no_examples(data: Any, inputs: torch.Tensor, scores: dict[str, torch.Tensor]) -> str:
    return ""


class _Hooks:
    """A modality's hooks module with the defaults filled in."""

    def __init__(self, name: str, module: ModuleType, mask_blocks: tuple[int, ...] = (1,)) -> None:
        for required in ("RECIPE", "load_bench_data"):
            if not hasattr(module, required):
                raise ValueError(f"the benchmark hooks of modality {name!r} ({module.__name__}) lack {required}")
        self.name = name
        self.RECIPE: Recipe = module.RECIPE
        self.load_bench_data = module.load_bench_data
        self.EXPLAINER_PREFIX = f"{name}-"
        self.SETTINGS: dict[str, dict[bool, dict[str, Any]]] = {}
        self.EVALUATOR_EPOCHS = {False: 8, True: 4}
        self.MASK_BLOCKS: tuple[int, ...] = tuple(mask_blocks)
        self.SPATIAL_MAPS = False
        self.CONTRASTIVE = False
        self.remove_units = _remove_units
        self.ignored_units = _no_ignored_units
        self.render_examples = _no_examples
        for hook in OPTIONAL:
            if hasattr(module, hook):
                setattr(self, hook, getattr(module, hook))

    def plant_shortcut(self, *, quick: bool = False, seed: int = 0) -> Planted:
        raise ValueError(f"the shortcut benchmark has no planted shortcut for --modality {self.name}")

    def bench_data(self, source: Any) -> Any:
        raise ValueError(f"the benchmarks run on the built-in data only for --modality {self.name}")

    def plant_on(self, data: Any) -> Planted:
        raise ValueError(f"the shortcut benchmark plants no shortcut on your own data for --modality {self.name}")

    def settings(self, benchmark: str, quick: bool) -> dict[str, Any]:
        """This modality's configuration defaults of ``benchmark`` (full run or ``quick``)."""
        return dict(self.SETTINGS.get(benchmark, {}).get(bool(quick), {}))


def hooks(modality: str) -> BenchHooks:
    """The benchmark hooks of ``modality``, defaults filled in; ``ValueError`` for an unknown modality or one
    without benchmark hooks."""
    found = get_modality(modality)
    return _Hooks(modality, found.bench(), getattr(found, "mask_blocks", (1,)))


def modality_settings(modality: str, benchmark: str, quick: bool) -> dict[str, Any]:
    """``hooks(modality).settings(benchmark, quick)`` (empty when the modality sets nothing)."""
    return hooks(modality).settings(benchmark, quick)


class PerModality(Mapping[str, Any]):
    """A read-only view ``{modality: setting}`` of one field of a benchmark's modality defaults
    (``PerModality("roar", True, "explainer_options")["image"]``), looked up in the hooks on every access, for
    code that wants the defaults by modality name. Iterates over the modalities that set the field."""

    def __init__(self, benchmark: str, quick: bool, field: str | None = None) -> None:
        self.benchmark, self.quick, self.field = benchmark, bool(quick), field

    def __getitem__(self, modality: str) -> Any:
        settings = modality_settings(modality, self.benchmark, self.quick)
        if self.field is None:
            return settings
        if self.field not in settings:
            raise KeyError(modality)
        return settings[self.field]

    def __iter__(self) -> Iterator[str]:
        for name in modality_names():
            try:
                self[name]
            except (KeyError, ValueError):
                continue
            yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)


__all__ = ["OPTIONAL", "BenchHooks", "PerModality", "Planted", "Recipe", "hooks", "modality_settings"]
