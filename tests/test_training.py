"""End-to-end training: learned F and I ranges, checkpoints, adaptive-alpha phases, resume, 2 processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from hnsx.adapters.image.data import ImageData, load_embedded_mnist, load_sklearn_digits
from hnsx.adapters.image.spec import image_spec
from hnsx.data import make_loaders
from hnsx.explain import load_trained
from hnsx.pipeline import run_training
from hnsx.spec import build_model
from hnsx.training.checkpoint import CheckpointError
from hnsx.training.config import TrainConfig
from hnsx.training.fit import fit

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_sklearn_digits(seed=0)


def _small(data: ImageData, n_train: int, n_eval: int) -> ImageData:
    return ImageData(
        train=TensorDataset(*[t[:n_train] for t in data.train.tensors]),
        eval=TensorDataset(*[t[:n_eval] for t in data.eval.tensors]),
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        name=f"{data.name}-small",
        class_names=data.class_names,
    )


def test_tiny_mnist_run_learns_to_hide_while_staying_faithful(tmp_path):
    """A real small training run on MNIST digits: the hider hides most pixels, the seeker keeps its accuracy."""
    data = _small(load_embedded_mnist(seed=0), 1500, 500)
    config = TrainConfig(epochs=6, alpha=0.5, init="both", pretrain_epochs=4, seed=0, progress=False)
    result = run_training(data, image_spec(data.input_shape, data.num_classes), config, tmp_path)
    m = result.metrics
    assert 0.6 <= m["baseline_accuracy"] <= 1.0
    assert m["fidelity"] >= 0.9, m
    assert m["interpretability"] >= 0.75, m
    assert not m["collapsed"]
    assert m["fii"] == pytest.approx(m["fidelity"] * m["interpretability"])
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == list(range(1, 7))
    # Hiding grows over training (the first epoch starts from the autoencoder's reconstruction).
    assert history[-1]["interpretability"] > history[0]["interpretability"]
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"] == 6


def test_checkpoint_every_epoch_and_best_reloads(tmp_path, digits):
    config = TrainConfig(epochs=3, alpha=0.5, pretrain_epochs=1, keep_last=2, progress=False)
    data = _small(digits, 400, 200)
    result = run_training(data, image_spec(data.input_shape, data.num_classes), config, tmp_path)
    ckpts = tmp_path / "checkpoints"
    index = json.loads((ckpts / "index.json").read_text())
    assert index["latest"] == "epoch-0003"
    # keep_last=2: epoch 1 was pruned unless it is the best.
    assert (ckpts / "epoch-0003").is_dir() and (ckpts / "epoch-0002").is_dir()
    assert not (ckpts / "epoch-0001").exists()
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")], "temporary folders left behind"
    latest = load_trained(tmp_path, which="latest")
    x = data.eval.tensors[0][:16]
    with torch.no_grad():
        assert torch.equal(latest(x).logits, result.model.eval()(x).logits)


def test_adaptive_alpha_phases_leave_checkpoints_and_converge(tmp_path, digits):
    """A tiny window with a huge tolerance plateaus every 5 steps: alpha walks down to its floor and stops."""
    data = _small(digits, 640, 100)
    config = TrainConfig(
        epochs=20,
        batch_size=64,
        alpha="adaptive",
        alpha_window=5,
        alpha_tolerance=100.0,
        alpha_step=0.3,
        alpha_floor=0.1,
        pretrain_epochs=1,
        progress=False,
    )
    model = build_model(image_spec(data.input_shape, data.num_classes))
    train, evaluation = make_loaders(data, 64, seed=0)
    result = fit(model, train, evaluation, config, out_dir=tmp_path)
    phases = sorted(p.name for p in (tmp_path / "checkpoints").glob("phase-*"))
    assert phases == ["phase-01-alpha-1.00", "phase-02-alpha-0.70", "phase-03-alpha-0.40"]
    # Alpha 1.0 -> 0.7 -> 0.4 -> 0.1 (floor) in 15 steps, then the floor plateaus after 5 more: converged.
    assert result.stopped == "converged"
    assert result.history[-1]["alpha"] == pytest.approx(0.1)
    assert len(result.history) == 2  # 10 steps per epoch: stopped during epoch 2
    state = json.loads((tmp_path / "checkpoints" / "phase-02-alpha-0.70" / "state.json").read_text())
    assert state["kind"] == "phase" and state["phase_alpha"] == pytest.approx(0.7)


@pytest.mark.parametrize("binarizer,estimator", [("deterministic", None), ("stochastic", "reinforce")])
def test_resume_continues_the_same_run(tmp_path, digits, binarizer, estimator):
    """Two epochs in one go and one epoch + resume + one epoch end with the same weights."""
    data = _small(digits, 256, 64)
    spec = image_spec(data.input_shape, data.num_classes, binarizer=binarizer, estimator=estimator)
    # baseline_epochs is fixed: by default it grows with the epoch budget, which differs between the two runs.
    base = {"alpha": 0.6, "pretrain_epochs": 1, "baseline_epochs": 2, "progress": False, "seed": 3}

    straight = run_training(data, spec, TrainConfig(epochs=2, **base), tmp_path / "straight")
    run_training(data, spec, TrainConfig(epochs=1, **base), tmp_path / "split")
    resumed = run_training(data, spec, TrainConfig(epochs=2, **base), tmp_path / "split", resume=True)

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=f"{key} differs after resume")
    lines = (tmp_path / "split" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert resumed.metrics["baseline_accuracy"] == straight.metrics["baseline_accuracy"]


def test_resume_refuses_incompatible_settings(tmp_path, digits):
    data = _small(digits, 128, 64)
    spec = image_spec(data.input_shape, data.num_classes)
    run_training(data, spec, TrainConfig(epochs=1, pretrain_epochs=1, alpha=0.5, progress=False), tmp_path)
    with pytest.raises(CheckpointError, match="alpha"):
        run_training(
            data, spec, TrainConfig(epochs=2, pretrain_epochs=1, alpha=0.7, progress=False), tmp_path, resume=True
        )
    other = image_spec(data.input_shape, data.num_classes, hider="unet")
    with pytest.raises(CheckpointError):
        run_training(
            data, other, TrainConfig(epochs=2, pretrain_epochs=1, alpha=0.5, progress=False), tmp_path, resume=True
        )


def test_metrics_use_the_eval_split_only(digits):
    """Evaluation counts every eval sample once and never a training batch."""
    data = _small(digits, 200, 77)
    model = build_model(image_spec(data.input_shape, data.num_classes))
    train = DataLoader(data.train, batch_size=50, shuffle=True)
    evaluation = DataLoader(data.eval, batch_size=20)
    result = fit(model, train, evaluation, TrainConfig(epochs=1, alpha=0.5, pretrain_epochs=1, progress=False))
    assert result.scores.samples == 77


def test_accelerate_launch_two_cpu_processes(tmp_path):
    """The same training under `accelerate launch --num_processes 2 --cpu`: metrics over the whole eval split."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu",
        "-m", "hnsx.cli", "train", "--dataset", "digits", "--epochs", "2", "--pretrain-epochs", "1",
        "--alpha", "0.5", "--no-progress", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2]  # one process writes the history
    digits_eval = len(load_sklearn_digits(seed=0).eval)
    assert metrics["samples"] == digits_eval  # gathered from both processes, duplicates dropped
    assert 0.0 <= metrics["interpretability"] <= 1.0 and metrics["accuracy"] > 0.2
    model = load_trained(out, which="latest")
    assert model.num_classes == 10
