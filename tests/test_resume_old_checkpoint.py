"""A run folder written by hnsx at commit ce1a1a5 (before the schedule owned alpha's smoothing and ``fit`` was split)
still resumes, bit for bit: its epoch-1 checkpoint, continued to epoch 2 by this code, ends with the weights, alpha
state and history of a 2-epoch run trained straight through by this code.

The fixture ``tests/fixtures/run-ce1a1a5`` is the run folder of :func:`settings` with ``epochs=1``, written by that
commit (its phase checkpoints left out: resuming does not read them). Its ``state.json`` holds the old keys
(``smoothed_loss`` beside ``alpha``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.image.data import ImageData, load_sklearn_digits
from hnsx.adapters.image.spec import image_spec
from hnsx.explain import load_trained
from hnsx.pipeline import run_training
from hnsx.spec import ModelSpec
from hnsx.training.checkpoint import read_state
from hnsx.training.config import TrainConfig

FIXTURE = Path(__file__).parent / "fixtures" / "run-ce1a1a5"


def settings(epochs: int) -> tuple[ImageData, ModelSpec, TrainConfig]:
    """256 training and 64 evaluation digits, a tiny U-Net hider and CNN seeker, adaptive alpha with a window of 3
    (alpha drops a few times per epoch), seed 3."""
    digits = load_sklearn_digits(seed=0)
    data = ImageData(
        train=TensorDataset(*[t[:256] for t in digits.train.tensors]),
        eval=TensorDataset(*[t[:64] for t in digits.eval.tensors]),
        num_classes=digits.num_classes,
        input_shape=digits.input_shape,
        name="digits-small",
        class_names=digits.class_names,
    )
    spec = image_spec(
        data.input_shape,
        data.num_classes,
        hider="unet",
        hider_kwargs={"base_channels": 2, "depth": 1},
        seeker_kwargs={"width": 4},
    )
    config = TrainConfig(
        epochs=epochs,
        batch_size=32,
        alpha="adaptive",
        alpha_window=3,
        alpha_tolerance=0.05,
        alpha_step=0.1,
        pretrain_epochs=1,
        baseline_epochs=2,
        seed=3,
        progress=False,
    )
    return data, spec, config


def without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_the_fixture_has_the_old_layout():
    state = read_state(FIXTURE / "checkpoints" / "epoch-0001")
    assert "smoothed_loss" in state and "smoothed" not in state["alpha"]
    assert state["alpha"]["name"] == "adaptive" and state["alpha"]["phase"] >= 1


@pytest.fixture
def one_thread():
    """The fixture was written with one torch thread (tests/conftest.py); a test before this one may have changed
    the count (``hnsx bench --threads``), and another count sums in another order: bit-for-bit needs the same."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")
def test_an_old_run_folder_resumes_bit_for_bit(tmp_path, one_thread):
    split = tmp_path / "split"
    shutil.copytree(FIXTURE, split)
    data, spec, config = settings(epochs=2)
    resumed = run_training(data, spec, config, split, resume=True)
    straight = run_training(data, spec, config, tmp_path / "straight")

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resuming the old checkpoint"
    assert without_time(resumed.fit.history) == without_time(straight.fit.history)
    new = read_state(tmp_path / "straight" / "checkpoints" / "epoch-0002")
    assert read_state(split / "checkpoints" / "epoch-0002")["alpha"] == new["alpha"]
    assert new["alpha"]["smoothed"] is not None


def test_an_old_checkpoint_still_loads_for_explaining():
    model = load_trained(FIXTURE, which="latest")
    x = load_sklearn_digits(seed=0).eval.tensors[0][:8]
    with torch.no_grad():
        out = model(x)
    assert out.mask.shape == (8, 1, 8, 8)
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}
