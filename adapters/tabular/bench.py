"""Benchmark hooks of the tabular modality (the vocabulary: :mod:`hnsx.benchmarks.hooks`).

Data: breast cancer (or ``name="switch"``, the generated table whose relevant features are known, or ``"wine"``),
hidden features filled with their training mean (categorical: the missing code). The faithfulness benchmark runs
on the switch table. The planted shortcut is a noisy copy of the class as an extra column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hnsx.benchmarks.common import BenchData
from hnsx.benchmarks.hooks import Planted, Recipe
from hnsx.training.config import TrainConfig

#: The tabular demo's setting (:mod:`hnsx.adapters.tabular.demo`).
RECIPE = Recipe(
    seeker_epochs=30,
    batch_size=128,
    lr=2e-3,
    hns=TrainConfig(epochs=30, batch_size=128, lr=2e-3, alpha=0.8, init="pretrained-seeker", pretrain_epochs=20),
)
EVALUATOR_EPOCHS = {False: 40, True: 20}
SETTINGS: dict[str, dict[bool, dict[str, Any]]] = {
    "roar": {
        q: {"explainers": ("hns", "integrated-gradients", "feature-ablation", "random"), "explainer_options": {}}
        for q in (False, True)
    },
    "sanity": {True: {"samples": 200, "hns_epochs": 15}},
    # The switch table: its relevant features are known (rationale scores).
    "faithfulness": {False: {"dataset": "switch"}, True: {"samples": 300, "hns_epochs": 15, "dataset": "switch"}},
}

#: The planted leak column's name, its noise, and the rows of the generated switch table under it.
LEAK = "leak"
LEAK_NOISE = 0.3
SWITCH_ROWS = 6000


def load_bench_data(*, quick: bool = False, seed: int = 0, name: str | None = None) -> BenchData:
    """Breast cancer, or the table ``name`` of :func:`hnsx.adapters.tabular.data.load_tabular`, whole (``quick``
    changes nothing: the tables are small)."""
    from hnsx.adapters.tabular.data import load_tabular

    return bench_data(load_tabular(name or "breast-cancer", seed=seed))


def bench_data(source: Any) -> BenchData:
    """The benchmark view of a table (``TabularData`` of ``load_data``): the MLP spec over its schema, and the
    relevant features as the rationale where they are known."""
    from hnsx.adapters.tabular.spec import tabular_spec

    spec = tabular_spec(source.schema, source.num_classes, classes=source.class_names, target=source.target)
    rationale = source.relevant.float() if getattr(source, "relevant", None) is not None else None
    return BenchData.from_source("tabular", source, spec, test_rationale=rationale)


def ignored_units(data: BenchData) -> torch.Tensor | None:
    """``(U,)`` 0 for units left out of the rationale scores (the switch table's switch column), else ``None``."""
    if data.test_rationale is None:
        return None
    from hnsx.adapters.tabular.synthetic import SWITCH

    keep = torch.ones(data.test_rationale.shape[1])
    keep[SWITCH] = 0  # the switch is scored apart (see hnsx.adapters.tabular.synthetic)
    return keep


def plant_tabular(*, seed: int = 0, noise: float = LEAK_NOISE, rows: int = SWITCH_ROWS) -> Planted:
    """The generated switch table (:func:`~hnsx.adapters.tabular.synthetic.make_switch`, ``rows`` rows) with a column
    ``leak`` = class code + N(0, ``noise``^2); split and noise follow ``seed``."""
    from hnsx.adapters.tabular.data import tabular_data
    from hnsx.adapters.tabular.spec import tabular_spec
    from hnsx.adapters.tabular.synthetic import make_switch

    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    features, codes, _ = make_switch(rows, seed=seed)
    leak = codes + np.random.default_rng(seed + 1).normal(0.0, noise, len(codes))
    table = np.concatenate([features, leak[:, None].astype(np.float32)], axis=1)
    raw = tabular_data(table, codes, name="switch+leak", classes=["0", "1"], seed=seed)
    spec = tabular_spec(raw.schema, raw.num_classes, classes=raw.class_names, target=raw.target)
    data = BenchData.from_source("tabular", raw, spec)
    column = table.shape[1] - 1
    leak = raw.schema.columns[column]
    x, y = raw.eval.tensors
    keep = torch.ones(x.shape, dtype=torch.bool)
    keep[:, column] = False
    flipped = x.clone()
    raw_leak = x[:, column] * leak.scale + leak.mean
    flipped[:, column] = ((1 - y).float() + (raw_leak - y.float()) - leak.mean) / leak.scale
    region = torch.zeros(x.shape[1], dtype=torch.bool)
    region[column] = True
    return Planted(
        data=data,
        removed=TensorDataset(data.adapter.apply_mask(x, keep.float()), y),
        added=TensorDataset(flipped, y),
        affected=torch.ones(len(y), dtype=torch.bool),
        follows=1 - y,
        region=lambda inputs: region.expand(inputs.shape[0], -1).clone(),
        description=f"a column {raw.schema.names[column]!r} ({LEAK}) = class code + N(0, {noise}^2) on every row of "
        "the switch table",
    )


def plant_shortcut(*, quick: bool = False, seed: int = 0) -> Planted:
    """The switch table with the leak column of :func:`plant_tabular`."""
    return plant_tabular(seed=seed)
