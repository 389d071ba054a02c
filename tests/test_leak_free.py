"""The leak-free training mode (REAL-X, :mod:`hnsx.training.leak_free`): the seeker learns from random masks only,
the settings reach it from every source, and on image, text and tabular data it trains, resumes bit for bit and
explains through the command line."""

from __future__ import annotations

import argparse
import copy
import importlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

import hnsx.training.leak_free as leak_free
from hnsx.adapters.image.spec import image_spec
from hnsx.cli import main
from hnsx.data import make_loaders
from hnsx.explain import load_trained
from hnsx.spec import build_model
from hnsx.training import TrainConfig, fit

fit_module = importlib.import_module("hnsx.training.fit")  # the package exports the function under the same name
pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")


def _one_step(data, leak: bool, monkeypatch) -> tuple[torch.nn.Module, torch.nn.Module, dict]:
    """One optimizer step of ``fit`` on a single batch; the model, a copy of its seeker from before the step, and
    the batch and random mask the seeker's leak-free pass used."""
    torch.manual_seed(0)
    model = build_model(image_spec(data.input_shape, data.num_classes))
    before = copy.deepcopy(model.seeker)
    seen: dict = {}
    draw, backward = leak_free.random_masks, fit_module.seeker_backward

    def recording_masks(adapter, inputs, generator, **kwargs):
        seen["mask"] = draw(adapter, inputs, generator, **kwargs)
        return seen["mask"]

    def recording_backward(model, inputs, targets, mask_fn, accelerator):
        seen["inputs"], seen["targets"] = inputs.clone(), targets.clone()
        return backward(model, inputs, targets, mask_fn, accelerator)

    monkeypatch.setattr(leak_free, "random_masks", recording_masks)
    monkeypatch.setattr(fit_module, "seeker_backward", recording_backward)
    train, evaluation = make_loaders(data, 32, seed=0)
    config = TrainConfig(epochs=1, batch_size=32, alpha=0.5, init="scratch", leak_free=leak, progress=False, cpu=True)
    fit(model, train, evaluation, config, baseline_accuracy=0.5)
    return model, before, seen


def test_a_leak_free_step_moves_the_seeker_only_by_its_random_mask_loss(digits_subset, monkeypatch):
    torch.set_num_threads(1)
    data = digits_subset(32, 16)  # one batch: one optimizer step
    model, before, seen = _one_step(data, True, monkeypatch)
    assert set(seen["mask"].unique().tolist()) <= {0.0, 1.0} and 0 < float(seen["mask"].mean()) < 1

    # The reference: the untrained seeker, one Adam step on cross-entropy of the same batch under the same mask.
    reference = copy.deepcopy(before).train()
    optimizer = torch.optim.Adam(reference.parameters(), lr=TrainConfig().lr)
    masked = model.adapter.apply_mask(seen["inputs"], seen["mask"])
    F.cross_entropy(reference(masked), seen["targets"]).backward()
    optimizer.step()
    for (name, got), want in zip(model.seeker.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=f"seeker parameter {name}")
    assert any(not torch.equal(a, b) for a, b in zip(model.seeker.parameters(), before.parameters(), strict=True))

    # Without leak_free the hider's masks do reach the seeker: the same comparison fails.
    joint, _, _ = _one_step(data, False, monkeypatch)
    moved = [
        float((a - b).detach().abs().max())
        for a, b in zip(joint.seeker.parameters(), reference.parameters(), strict=True)
    ]
    assert max(moved) > 1e-4


def test_the_hider_still_learns_against_the_leak_free_seeker(digits_subset, monkeypatch):
    torch.set_num_threads(1)
    data = digits_subset(32, 16)
    torch.manual_seed(0)
    untrained = build_model(image_spec(data.input_shape, data.num_classes)).hider
    model, _, _ = _one_step(data, True, monkeypatch)
    changed = [not torch.equal(a, b) for a, b in zip(model.hider.parameters(), untrained.parameters(), strict=True)]
    assert all(changed)


def test_buffers_kept_restores_batch_norm_statistics():
    net = torch.nn.BatchNorm1d(3).train()
    with leak_free.buffers_kept(net):
        net(torch.randn(8, 3) + 5.0)
    assert torch.equal(net.running_mean, torch.zeros(3)) and int(net.num_batches_tracked) == 0
    with leak_free.buffers_kept(net, active=False):
        net(torch.randn(8, 3) + 5.0)
    assert float(net.running_mean.min()) > 0.1


def test_the_settings_reach_the_config_from_every_source_and_old_configs_resume():
    from hnsx.adapters.tabular.estimator import HnSClassifier
    from hnsx.study.grid import RunConfig, StudySettings

    args = argparse.Namespace(leak_free=True, complement_weight=0.5)
    assert TrainConfig.build(args) == TrainConfig(leak_free=True, complement_weight=0.5)
    estimator = HnSClassifier(leak_free=True, complement_weight=0.25)
    assert (estimator._config(0).leak_free, estimator._config(0).complement_weight) == (True, 0.25)
    study = StudySettings(leak_free=True, complement_weight=2.0).train_config(RunConfig("deterministic"), seed=0)
    assert (study.leak_free, study.complement_weight) == (True, 2.0)
    saved = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("leak_free", "complement_weight")}
    assert TrainConfig().resume_conflicts(saved) == []
    assert TrainConfig(leak_free=True).resume_conflicts(saved) == ["leak_free: False -> True"]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_a_bad_complement_weight_is_refused(bad):
    with pytest.raises(ValueError, match="complement_weight"):
        TrainConfig(complement_weight=bad)


def test_a_frozen_seeker_cannot_train_leak_free(digits_subset):
    from dataclasses import replace

    from hnsx.model import FrozenModule

    data = digits_subset(32, 16)
    spec = replace(image_spec(data.input_shape, data.num_classes), freeze_seeker=True)
    seeker = build_model(image_spec(data.input_shape, data.num_classes)).seeker
    model = build_model(spec, seeker=FrozenModule(seeker))
    train, evaluation = make_loaders(data, 32, seed=0)
    with pytest.raises(ValueError, match="leak_free .* frozen"):
        fit(model, train, evaluation, TrainConfig(epochs=1, leak_free=True, progress=False), baseline_accuracy=0.5)


# --- the command line: train, resume, explain on every built-in modality ----------------------------------------


def _table(tmp_path) -> str:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=160), rng.normal(size=160)
    frame = pd.DataFrame({"a": a, "b": b, "noise": rng.normal(size=160), "label": (a > 0).astype(int)})
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _image(tmp_path) -> str:
    from PIL import Image

    from hnsx.adapters.image.data import load_sklearn_digits

    images, _ = load_sklearn_digits(seed=0).eval.tensors
    path = tmp_path / "img.png"
    Image.fromarray((images[0, 0] * 255).round().to(torch.uint8).numpy(), mode="L").save(path)
    return str(path)


def _case(modality: str, tmp_path) -> tuple[list[str], list[str]]:
    """``hnsx train`` arguments (without ``--out``) and ``hnsx explain`` inputs of a tiny leak-free run."""
    common = ["--epochs", "2", "--pretrain-epochs", "1", "--init", "pretrained-seeker", "--leak-free"]
    common += ["--no-progress", "--cpu", "--seed", "0"]
    if modality == "image":
        argv = ["--dataset", "digits", "--batch-size", "128", "--alpha", "0.5", "--evaluator-epochs", "1"]
        return argv + common, [_image(tmp_path), "--out", str(tmp_path / "explained")]
    if modality == "text":
        argv = ["--modality", "text", "--limit", "192", "--max-length", "24", "--batch-size", "64", "--alpha", "0.8"]
        return argv + common, ["the film was not pleasant", "a cute ending"]
    table = _table(tmp_path)
    argv = ["--modality", "tabular", "--data-file", table, "--target", "label", "--batch-size", "32", "--alpha", "0.8"]
    return argv + common, [table, "--out", str(tmp_path / "explained")]


@pytest.mark.parametrize("modality", ["image", "text", "tabular"])
@pytest.mark.filterwarnings("ignore::UserWarning")  # text: a few generated sentences are truncated at 24 tokens
def test_leak_free_trains_resumes_bit_for_bit_and_explains(modality, tmp_path, killed_after_epoch, capsys):
    torch.set_num_threads(1)

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    argv, inputs = _case(modality, tmp_path)
    straight, split = tmp_path / "straight", tmp_path / "split"
    code, _, err = run(["train", *argv, "--out", str(straight)])
    assert code == 0, err
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and 0.0 <= metrics["interpretability"] <= 1.0
    state = json.loads((straight / "checkpoints" / "epoch-0002" / "state.json").read_text())
    assert state["config"]["leak_free"] is True
    if modality == "image":  # the label-encoding check is reported beside the run's own figures
        assert 0.0 <= metrics["evaluator_accuracy"] <= 1.0 and metrics["evaluator_epochs"] == 1

    killed_after_epoch(1, main, ["train", *argv, "--out", str(split)])
    code, _, err = run(["train", *argv, "--out", str(split), "--resume"])
    assert code == 0, err
    a, b = load_trained(straight, which="latest").state_dict(), load_trained(split, which="latest").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "the resumed run took another path"

    code, out, err = run(["explain", "--checkpoint", str(straight), *inputs])
    assert code == 0, err
    written = {"image": "img-explained.png", "tabular": "table-kept.csv"}
    if modality == "text":
        assert sum(" -> " in line for line in out.splitlines()) == 2
    else:
        assert (tmp_path / "explained" / written[modality]).is_file()
