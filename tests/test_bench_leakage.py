"""The label-encoding check: random masks, the random-mask evaluator, training against a frozen seeker, the leak-free
mode in the benchmark and the benchmark's files.

Tiny data (scikit-learn's 8x8 digits, small subsets) and one-epoch trainings; assertions on what must hold whatever
the numbers: an evaluator is accurate on unmasked digits and at chance on fully hidden ones, training against a frozen
seeker never changes it, matched explainers keep exactly HnS's count, and the report names every row.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.image.bench import image_bench_data
from hnsx.adapters.image.data import load_sklearn_digits
from hnsx.benchmarks.leakage import (
    LeakageConfig,
    run_leakage,
)
from hnsx.benchmarks.ranking import top_counts
from hnsx.benchmarks.removal import masked_predictions
from hnsx.model import FrozenModule
from hnsx.training.config import TrainConfig
from hnsx.training.evaluator import (
    frozen_seeker_config,
    random_masks,
    train_evaluator,
    train_hns_frozen,
)


def digits(n_train: int | None = None, n_test: int | None = None):
    data = load_sklearn_digits(seed=0)
    train, test = data.train.tensors, data.eval.tensors
    train = TensorDataset(*(t[:n_train] for t in train))
    test = TensorDataset(*(t[:n_test] for t in test))
    return image_bench_data("digits", train, test, 10, class_names=data.class_names)


@pytest.fixture(scope="module")
def full_digits():
    return digits()


@pytest.fixture(scope="module")
def evaluator(full_digits):
    torch.manual_seed(0)
    return train_evaluator(full_digits, seed=0, epochs=12, blocks=(1, 2))


def test_random_masks_keep_the_drawn_rate_in_square_blocks(full_digits):
    x = torch.zeros(400, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    rates = torch.full((400,), 0.3)
    masks = random_masks(full_digits.adapter, x, generator, rates=rates, blocks=(4,))
    assert masks.shape == (400, 1, 8, 8)
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    blocks = masks.reshape(400, 1, 2, 4, 2, 4)
    assert torch.equal(blocks.amin(dim=(3, 5)), blocks.amax(dim=(3, 5))), "a 4x4 block is not all kept or all hidden"
    assert abs(float(masks.mean()) - 0.3) < 0.05
    drawn = random_masks(full_digits.adapter, x, generator, keep_range=(0.2, 0.4), blocks=(1,))
    per_input = drawn.flatten(1).mean(1)
    assert float(per_input.min()) > 0.05 and float(per_input.max()) < 0.6
    assert abs(float(per_input.mean()) - 0.3) < 0.03


def test_top_counts_keeps_exactly_the_requested_highest_units():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7], [1.0, 1.0, 1.0, 1.0], [0.3, 0.2, 0.1, 0.4]])
    valid = torch.tensor([[True, True, True, True], [True, True, True, False], [True, True, True, True]])
    top = top_counts(scores, valid, torch.tensor([2, 3, 0]))
    assert top[0].tolist() == [False, True, False, True]
    assert top[1].tolist() == [True, True, True, False]  # invalid units are never kept, even in a tie
    assert not top[2].any()
    ties = top_counts(torch.zeros(200, 10), torch.ones(200, 10, dtype=torch.bool), torch.full((200,), 3))
    assert (ties.sum(1) == 3).all()
    assert ties.float().mean(0).min() > 0.1, "ties are not broken at random"


def test_the_evaluator_is_accurate_unmasked_and_at_chance_fully_masked(full_digits, evaluator):
    x, y = full_digits.test.tensors
    everything = torch.ones(x.shape[0], 64, dtype=torch.bool)
    nothing = torch.zeros_like(everything)
    unmasked = float((masked_predictions(evaluator, full_digits, x, everything) == y).float().mean())
    hidden = float((masked_predictions(evaluator, full_digits, x, nothing) == y).float().mean())
    almost = random_masks(full_digits.adapter, x, torch.Generator().manual_seed(1), rates=torch.full((len(y),), 0.03))
    sparse = float((masked_predictions(evaluator, full_digits, x, almost.flatten(1).bool()) == y).float().mean())
    assert unmasked > 0.85
    assert hidden < 0.15  # every input is the same mean image: one class for all, about 1 in 10
    assert sparse < 0.35
    half = random_masks(full_digits.adapter, x, torch.Generator().manual_seed(2), rates=torch.full((len(y),), 0.5))
    assert float((masked_predictions(evaluator, full_digits, x, half.flatten(1).bool()) == y).float().mean()) > 0.5


def test_frozen_seeker_config_drops_only_the_seeker_pretraining():
    assert frozen_seeker_config(TrainConfig(init="both")).init == "pretrained-hider"
    assert frozen_seeker_config(TrainConfig(init="pretrained-seeker")).init == "scratch"
    assert frozen_seeker_config(TrainConfig(init="scratch", epochs=3)) == TrainConfig(init="scratch", epochs=3)


def test_frozen_seeker_training_keeps_the_evaluator_bitwise_frozen():
    data = digits(300, 100)
    frozen = train_evaluator(data, seed=3, epochs=1, blocks=(1, 2))
    before = {k: v.clone() for k, v in frozen.state_dict().items()}
    model, metrics = train_hns_frozen(data, frozen, seed=0, epochs=1, pretrain_epochs=1)
    assert isinstance(model.seeker, FrozenModule) and model.seeker.module is frozen
    after = frozen.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the frozen evaluator changed in training"
    assert all(not p.requires_grad for p in frozen.parameters())
    assert not frozen.training
    hider_changed = any(p.requires_grad for p in model.hider.parameters())
    assert hider_changed and metrics["epochs"] == 1
    assert 0.0 <= metrics["interpretability"] <= 1.0


def test_the_benchmark_writes_tables_naming_every_explainer_and_both_modes(tmp_path):
    data = digits(300, 80)
    config = LeakageConfig(
        explainers=("hns", "saliency", "random"),
        evaluator_epochs=1,
        hns_epochs=1,
        blocks=(1, 2),
        quick=True,
    )
    results = run_leakage(data, config, [0], tmp_path, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["benchmark"] == "leakage" and saved["explainers"] == ["hns", "saliency", "random"]
    modes = saved["results"]["modes"]
    assert set(modes) == {"hns", "hns-leak-free"}
    normal = modes["hns"]
    assert normal["fidelity"]["mean"] == pytest.approx(
        normal["accuracy"]["mean"] / saved["results"]["reference"]["baseline_accuracy"]["mean"]
    )
    rows = saved["results"]["explainers"]
    # The hns row's per-input figure is the HnS mask itself, scored by the same evaluator.
    assert rows["hns"]["evaluator_accuracy"]["mean"] == pytest.approx(normal["evaluator_accuracy"]["mean"])
    for figures in rows.values():
        for stats in figures.values():
            assert 0.0 <= stats["mean"] <= 1.0 and stats["values"] == [stats["mean"]]
    report = (tmp_path / "report.md").read_text()
    for name in ("hns", "hns-leak-free", "saliency", "random", "evaluator F", "Explainers at HnS's kept fraction"):
        assert name in report
    for plot in ("leakage-explainers.png", "leakage-modes.png", "leakage-masks.png"):
        assert (tmp_path / plot).stat().st_size > 1000
    assert results["seconds"] > 0
    # Each seed is kept: the same run again reads it instead of training (and gives the same figures).
    assert (tmp_path / "seeds" / "seed-0.json").is_file()
    again = run_leakage(data, config, [0], tmp_path, progress=False)
    assert again["results"] == results["results"] and again["seconds"] < results["seconds"]
