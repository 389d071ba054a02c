"""One configuration path: :meth:`TrainConfig.build` from a command line, scikit-learn parameters, study settings
and a benchmark recipe gives equal configs for equal settings; :func:`hnsx.spec.binarizer_component` builds the
binarizer entry of every spec."""

from __future__ import annotations

import argparse
from dataclasses import replace
from types import SimpleNamespace

import pytest

import hnsx.pipeline
from hnsx.adapters.image.spec import image_spec
from hnsx.adapters.tabular.estimator import HnSClassifier
from hnsx.benchmarks import common
from hnsx.binarizers import SlopeAnnealing
from hnsx.cli import build_parser
from hnsx.spec import Component, binarizer_component, build_model
from hnsx.study import RunConfig, StudySettings
from hnsx.training.config import TrainConfig

SETTINGS = {"epochs": 3, "batch_size": 32, "lr": 0.002, "alpha": 0.7, "init": "pretrained-seeker", "pretrain_epochs": 1}
SEED = 5


def from_command_line(*extra: str) -> TrainConfig:
    argv = ["train", "--out", "unused", "--epochs", "3", "--batch-size", "32", "--lr", "0.002", "--alpha", "0.7"]
    argv += ["--init", "pretrained-seeker", "--pretrain-epochs", "1", "--seed", str(SEED), *extra]
    return TrainConfig.build(build_parser().parse_args(argv))


def from_recipe(monkeypatch: pytest.MonkeyPatch, hns: TrainConfig, **settings) -> TrainConfig:
    """The config :func:`hnsx.benchmarks.common.train_hns` trains with (caught where it calls run_training)."""

    class Caught(Exception):
        pass

    def catch(data, spec, config, out, **kwargs):
        raise Caught(config)

    monkeypatch.setattr(hnsx.pipeline, "run_training", catch)
    with pytest.raises(Caught) as caught:
        common.train_hns(SimpleNamespace(modality="tabular", spec=None, hns_config=hns), **settings)
    return caught.value.args[0]


def test_every_source_gives_the_same_config_for_the_same_settings(monkeypatch):
    expected = TrainConfig(**SETTINGS, seed=SEED, cpu=True, progress=False)
    assert from_command_line("--cpu", "--no-progress") == expected
    estimator = HnSClassifier(**SETTINGS, random_state=SEED, cpu=True, progress=False)
    assert estimator._config(estimator._seed()) == expected
    recipe = TrainConfig(**{**SETTINGS, "epochs": 9})
    assert from_recipe(monkeypatch, recipe, seed=SEED, epochs=3, device="cpu") == expected
    # A study trains every run for its whole budget, keeps one epoch checkpoint and shows no progress bar.
    study = {k: v for k, v in SETTINGS.items() if k != "init"}
    run = RunConfig("deterministic", init="pretrained-seeker")
    study_config = StudySettings(**study).train_config(run, seed=SEED)
    assert study_config == replace(expected, cpu=False, keep_last=1, stop_on_converge=False)


def test_command_line_defaults_are_the_config_defaults():
    args = build_parser().parse_args(["train", "--out", "unused"])
    assert TrainConfig.build(args) == TrainConfig()
    assert TrainConfig.build(args, epochs=4) == TrainConfig(epochs=4)


def test_build_reads_mappings_dataclasses_and_namespaces_alike():
    values = {**SETTINGS, "seed": SEED, "hider": "pyramid", "no_progress": True}
    expected = TrainConfig(**SETTINGS, seed=SEED, progress=False)
    assert TrainConfig.build(values) == expected
    assert TrainConfig.build(argparse.Namespace(**values)) == expected
    assert TrainConfig.build(expected) == expected
    assert TrainConfig.build(None, **SETTINGS) == TrainConfig(**SETTINGS)
    assert TrainConfig.build({"progress": True, "no_progress": True}).progress  # an explicit progress wins


def test_build_names_what_it_cannot_use():
    with pytest.raises(ValueError, match="unknown training settings: epoch"):
        TrainConfig.build(None, epoch=3)
    with pytest.raises(ValueError, match="alpha must lie in"):
        TrainConfig.build({"alpha": 1.5})
    with pytest.raises(TypeError, match="cannot read training settings from a int"):
        TrainConfig.build(3)


def test_binarizer_component_as_the_command_lines_and_studies_built_it():
    # hnsx train passes --slope-rate and --slope-cap whatever the estimator: only sa keeps them.
    assert binarizer_component("deterministic", None, 0.5, 100.0) == Component("deterministic", {"estimator": "st1"})
    assert binarizer_component("stochastic", "st2", 0.5, 100.0) == Component("stochastic", {"estimator": "st2"})
    sa = binarizer_component("stochastic", "sa", 0.5, 100.0)
    assert sa == Component("stochastic", {"estimator": "sa", "rate": 0.5, "cap": 100.0})
    # A study gives the rate alone; the cap stays the estimator's default.
    assert binarizer_component("stochastic", "sa", slope_rate=10.0).kwargs == {"estimator": "sa", "rate": 10.0}
    spec = image_spec((1, 8, 8), 3, binarizer=binarizer_component("stochastic", "sa", slope_rate=10.0))
    estimator = build_model(spec).binarizer.estimator
    assert isinstance(estimator, SlopeAnnealing) and (estimator.rate, estimator.cap) == (10.0, 100.0)


def test_spec_builders_give_the_same_entry_either_way():
    by_name = image_spec((1, 8, 8), 3, binarizer="stochastic", estimator="sa", estimator_kwargs={"rate": 2.0})
    by_component = image_spec((1, 8, 8), 3, binarizer=binarizer_component("stochastic", "sa", slope_rate=2.0))
    assert by_name == by_component
    with pytest.raises(ValueError, match="already names its estimator"):
        image_spec((1, 8, 8), 3, binarizer=by_name.binarizer, estimator="st1")
