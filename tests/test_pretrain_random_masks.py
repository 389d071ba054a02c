"""``pretrain_random_masks``: the seeker's pretraining on inputs under random masks (the leak-free mode's), with the
joint training unchanged; it reaches the config from the command line and the objectives study's hard-concrete runs."""

from __future__ import annotations

import argparse

import pytest
import torch
from accelerate import Accelerator

import hnsx.training.leak_free as leak_free
from hnsx.adapters.image.spec import image_spec
from hnsx.cli import build_parser
from hnsx.data import make_loaders
from hnsx.spec import build_model
from hnsx.training import TrainConfig
from hnsx.training.pretrain import init_components


def _pretrained(data, monkeypatch, **settings) -> tuple[torch.nn.Module, int]:
    """The seeker after one epoch of pretraining with ``settings``, and how many random masks were drawn."""
    drawn = []
    draw = leak_free.random_masks

    def counting(adapter, inputs, generator, **kwargs):
        drawn.append(inputs.shape[0])
        return draw(adapter, inputs, generator, **kwargs)

    monkeypatch.setattr(leak_free, "random_masks", counting)
    torch.manual_seed(0)
    model = build_model(image_spec(data.input_shape, data.num_classes))
    train, evaluation = make_loaders(data, 32, seed=0)
    config = TrainConfig(
        init="pretrained-seeker", pretrain_epochs=1, batch_size=32, progress=False, cpu=True, **settings
    )
    torch.manual_seed(1)
    init_components(model, train, evaluation, config, Accelerator(cpu=True), 0.5, None)
    return model.seeker, len(drawn)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_seeker_is_pretrained_on_random_masks_as_in_the_leak_free_mode(digits_subset, monkeypatch):
    torch.set_num_threads(1)
    data = digits_subset(96, 32)  # three batches
    masked, n_masked = _pretrained(data, monkeypatch, pretrain_random_masks=True)
    leak, n_leak = _pretrained(data, monkeypatch, leak_free=True)
    whole, n_whole = _pretrained(data, monkeypatch)
    assert (n_masked, n_leak, n_whole) == (3, 3, 0)  # one random mask per batch with either setting, none without
    assert _same(masked, leak)
    assert not _same(masked, whole)


def test_the_setting_reaches_the_config_and_old_configs_resume():
    from hnsx.study.grid import OBJECTIVE_SETTINGS, RunConfig, StudySettings

    args = build_parser().parse_args(["train", "--pretrain-random-masks", "--out", "x"])
    assert TrainConfig.build(args).pretrain_random_masks is True
    assert TrainConfig.build(argparse.Namespace()).pretrain_random_masks is False
    run = RunConfig("stochastic", estimator="hard-concrete", init="pretrained-seeker", objective="hard-concrete")
    assert StudySettings().train_config(run, seed=0).pretrain_random_masks is True
    assert OBJECTIVE_SETTINGS["hard-concrete"] == {"pretrain_random_masks": True}
    saved = {k: v for k, v in TrainConfig().to_dict().items() if k != "pretrain_random_masks"}
    assert TrainConfig().resume_conflicts(saved) == []


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_a_setting_that_is_not_a_bool_is_refused(bad):
    with pytest.raises(ValueError, match="pretrain_random_masks must be True or False"):
        TrainConfig(pretrain_random_masks=bad)
