"""Per-part optimisation (:mod:`hnsx.training.optim`): hider / seeker learning rates, gradient clipping, a torch
learning-rate schedule that is saved in checkpoints and continued on resume."""

from __future__ import annotations

import argparse

import pytest
import torch

from hnsx.adapters.image.spec import image_spec
from hnsx.pipeline import run_training
from hnsx.spec import build_model
from hnsx.training.checkpoint import read_state
from hnsx.training.config import TrainConfig
from hnsx.training.optim import build_optimizer


@pytest.fixture
def tiny(digits_subset):
    """128 training and 64 evaluation digits and the default image spec."""
    data = digits_subset(128, 64)
    return data, image_spec(data.input_shape, data.num_classes)


def test_hider_and_seeker_train_at_their_own_rates(tiny):
    _, spec = tiny
    model = build_model(spec)
    optimizer = build_optimizer(model, TrainConfig(lr=1e-3, hider_lr=1e-2, seeker_lr=1e-5))
    rate = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert {rate[id(p)] for p in model.hider.parameters()} == {1e-2}
    assert {rate[id(p)] for p in model.seeker.parameters()} == {1e-5}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sorted(rate) == sorted(id(p) for p in trainable)
    single = build_optimizer(model, TrainConfig(lr=1e-3))
    assert len(single.param_groups) == 1  # old checkpoints' optimizer states keep loading


def test_the_options_reach_the_config_and_bad_values_are_refused():
    args = argparse.Namespace(hider_lr=0.01, seeker_lr=1e-4, grad_clip=1.0, lr_schedule="cosine")
    config = TrainConfig.build(args)
    assert (config.hider_lr, config.seeker_lr, config.grad_clip, config.lr_schedule) == (0.01, 1e-4, 1.0, "cosine")
    for bad in ({"hider_lr": 0.0}, {"seeker_lr": -1.0}, {"grad_clip": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="warmup")


@pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")
def test_gradient_clipping_bounds_every_step(tmp_path, monkeypatch, tiny):
    data, spec = tiny
    norms = []
    step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
        return step(self, *args, **kwargs)

    config = TrainConfig(epochs=1, batch_size=32, pretrain_epochs=0, alpha=0.5, grad_clip=1e-3, progress=False)
    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    run_training(data, spec, config, tmp_path / "run", baseline_accuracy=0.5)
    assert len(norms) == 4 and max(norms) <= 1e-3 * (1 + 1e-4)


@pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")
@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_a_schedule_anneals_to_zero_and_resumes_bit_for_bit(tmp_path, killed_after_epoch, tiny, schedule):
    data, spec = tiny
    config = TrainConfig(
        epochs=2, batch_size=32, pretrain_epochs=0, alpha=0.7, lr_schedule=schedule, hider_lr=3e-3, progress=False
    )
    straight = run_training(data, spec, config, tmp_path / "straight", baseline_accuracy=0.5)
    last = read_state(tmp_path / "straight" / "checkpoints" / "epoch-0002")["optimizer"]
    assert [g["lr"] for g in last["param_groups"]] == pytest.approx([0.0] * len(last["param_groups"]), abs=1e-12)
    assert last["scheduler"]["last_epoch"] == 8  # 4 steps per epoch
    half = read_state(tmp_path / "straight" / "checkpoints" / "epoch-0001")["optimizer"]
    assert 0 < half["param_groups"][0]["lr"] < 3e-3

    killed_after_epoch(1, run_training, data, spec, config, tmp_path / "split", baseline_accuracy=0.5)
    resumed = run_training(data, spec, config, tmp_path / "split", resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_state(tmp_path / "split" / "checkpoints" / "epoch-0002")["optimizer"] == last
