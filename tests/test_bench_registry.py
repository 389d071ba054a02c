"""Tests that loop over the benchmark registries: every registered explainer, every metric class, the hooks.

* Every :data:`~hnsx.benchmarks.explainers.EXPLAINERS` entry is built the one way the benchmarks build it
  (:func:`~hnsx.benchmarks.common.build_explainers`, with the modality's adapter) around tiny untrained models of its
  modality, gives one finite score per mask unit, predicts and attributes in one call, and leaves no hook behind.
* Every :data:`~hnsx.benchmarks.metrics.METRICS` entry states its direction, and its direction is right: the ground
  truth scores better than its reverse (perturbation, localisation), a randomised map better than an unchanged one
  (randomisation).
* The hooks of a modality fill in their defaults, and a module without the required hooks is refused.
"""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hnsx.adapters.image.bench import image_bench_data
from hnsx.adapters.image.data import load_sklearn_digits
from hnsx.benchmarks import hooks as hooks_module
from hnsx.benchmarks.common import build_explainers, load_bench_data, new_seeker
from hnsx.benchmarks.explainers import EXPLAINERS
from hnsx.benchmarks.hooks import OPTIONAL, Recipe, hooks
from hnsx.benchmarks.metrics import METRICS, PerturbationMetric, RationaleF1, Spearman
from hnsx.benchmarks.removal import flatten_units, remove_units
from hnsx.spec import build_model
from hnsx.training.config import TrainConfig

#: Cheap settings of the slow explainers (what is tested is the contract, not the attributions).
CHEAP = {"integrated-gradients": {"n_steps": 4}, "smoothgrad-sq": {"nt_samples": 2}, "vargrad": {"nt_samples": 2}}


def hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in module.modules())


@pytest.fixture(scope="module")
def tiny() -> dict:
    """Per modality: data, an untrained seeker and an untrained Hide-and-Seek model (seeded)."""
    import hnsx.adapters.text.data as text_module

    digits = load_sklearn_digits(seed=0)
    image = image_bench_data(
        "digits",
        TensorDataset(*(t[:64] for t in digits.train.tensors)),
        TensorDataset(*(t[:8] for t in digits.eval.tensors)),
        10,
    )
    original = text_module.generated_data
    text_module.generated_data = lambda n, m, **kw: original(40, 8, **kw)
    try:
        text = load_bench_data("text")
    finally:
        text_module.generated_data = original
    out = {}
    for data in (image, text, load_bench_data("tabular")):
        torch.manual_seed(0)
        out[data.modality] = (data, new_seeker(data, seed=0).eval(), build_model(data.spec).eval())
    return out


@pytest.mark.parametrize("entry", EXPLAINERS.names())
def test_every_registered_explainer_gives_one_finite_score_per_unit_and_leaves_no_hooks(entry, tiny):
    modality = EXPLAINERS.modality(entry)
    data, seeker, hns = tiny[modality]
    name = entry[len(hooks(modality).EXPLAINER_PREFIX) :]
    before = hook_count(seeker) + hook_count(hns)
    explainer = build_explainers(data, seeker, hns, [name], options={name: CHEAP.get(name, {})})[name]
    x, y = (t[:4] for t in data.test.tensors)
    scores = explainer.attribute(x, y)
    assert tuple(scores.shape) == tuple(data.adapter.mask_shape(x))
    assert torch.isfinite(scores).all()
    flat, valid = flatten_units(data, x, scores)
    assert flat.shape == valid.shape and bool(valid.any(1).all()), "every input has units to rank"
    classes, predicted_scores = explainer.predict_and_attribute(x)
    assert classes.shape == (4,) and predicted_scores.shape == scores.shape
    assert hook_count(seeker) + hook_count(hns) == before, f"{entry} left hooks behind"


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_states_its_direction_and_the_direction_is_right(name):
    metric = METRICS[name]
    assert metric.name == name and metric.category and metric.title
    assert metric.arrow == ("↑" if metric.higher_is_better else "↓")
    assert metric.direction == ("higher is better" if metric.higher_is_better else "lower is better")
    generator = torch.Generator().manual_seed(0)
    truth = torch.zeros(16, 12)
    truth[:, :3] = 1.0  # the units that carry the class
    if isinstance(metric, PerturbationMetric):
        # p(class 1) = sigmoid(4 * (number of kept true units - 1.5)): only the first three units matter.
        def prob_fn(x, keep):
            z = 4 * ((x * keep)[:, :3].sum(1) - 1.5)
            return torch.stack([torch.sigmoid(-z), torch.sigmoid(z)], 1)

        x, target = torch.ones(16, 12), torch.ones(16, dtype=torch.long)
        good = metric(prob_fn, x, truth + 0.01 * torch.rand(16, 12, generator=generator), target)[name].mean()
        bad = metric(prob_fn, x, -truth, target)[name].mean()
    elif isinstance(metric, RationaleF1):
        good, bad = metric(truth, truth).mean(), metric(-truth, truth).mean()
    else:
        assert isinstance(metric, Spearman)
        maps = torch.rand(16, 1, 12, 12, generator=generator) - 0.3
        good = metric(maps, torch.rand(16, 1, 12, 12, generator=generator) - 0.3).mean()  # randomised: unrelated
        bad = metric(maps, maps).mean()  # unchanged by the randomisation
    assert (good > bad) if metric.higher_is_better else (good < bad), f"{name}: {good} vs {bad}"


def _toy_hooks_module() -> types.ModuleType:
    module = types.ModuleType("toy_signal_bench")
    module.RECIPE = Recipe(seeker_epochs=1, batch_size=8, lr=1e-3, hns=TrainConfig(epochs=1))
    module.load_bench_data = lambda *, quick=False, seed=0, name=None: None
    return module


def test_hooks_fill_in_the_defaults_and_refuse_a_module_without_the_required_ones(monkeypatch):
    module = _toy_hooks_module()
    monkeypatch.setattr(hooks_module, "get_modality", lambda name: types.SimpleNamespace(bench=lambda: module))
    toy = hooks("toy-signal")
    assert toy.RECIPE is module.RECIPE and toy.EXPLAINER_PREFIX == "toy-signal-"
    assert toy.MASK_BLOCKS == (1,) and not toy.SPATIAL_MAPS and toy.settings("roar", True) == {}
    assert toy.ignored_units(None) is None
    with pytest.raises(ValueError, match="no planted shortcut for --modality toy-signal"):
        toy.plant_shortcut(quick=True)
    module.MASK_BLOCKS = (3,)
    module.SETTINGS = {"sanity": {True: {"samples": 5}}}
    assert hooks("toy-signal").MASK_BLOCKS == (3,) and hooks("toy-signal").settings("sanity", True) == {"samples": 5}
    assert set(OPTIONAL) >= {"remove_units", "plant_shortcut", "SETTINGS"}
    del module.load_bench_data
    with pytest.raises(ValueError, match="lack load_bench_data"):
        hooks("toy-signal")


def test_the_default_removal_hook_is_the_adapters_fill(tiny):
    data, _, _ = tiny["tabular"]
    x = data.test.tensors[0][:4]
    keep = torch.ones(4, x.shape[1])
    keep[:, ::2] = 0
    default = hooks_module._Hooks("tabular", types.SimpleNamespace(RECIPE=None, load_bench_data=None))
    expected = data.adapter.apply_mask(x, keep)
    assert torch.equal(default.remove_units(data.adapter, x, keep), expected)
    assert torch.equal(remove_units(data, x, keep), expected)  # the tabular hooks keep the default


@pytest.mark.parametrize("modality", ["image", "text", "tabular"])
def test_every_built_in_modality_has_the_hooks_its_benchmarks_use(modality):
    h = hooks(modality)
    assert h.RECIPE.batch_size > 0 and h.RECIPE.hns.epochs > 0
    assert set(h.EVALUATOR_EPOCHS) == {False, True} and all(b >= 1 for b in h.MASK_BLOCKS)
    for benchmark in ("roar", "sanity", "faithfulness", "leakage"):
        for quick in (False, True):
            assert isinstance(h.settings(benchmark, quick), dict)
    roar = h.settings("roar", False)
    assert set(roar["explainers"]) <= set(n[len(h.EXPLAINER_PREFIX) :] for n in EXPLAINERS.names(modality))
