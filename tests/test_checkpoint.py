"""Checkpoints: pickle-free round trips, clear errors for foreign or corrupt folders, atomic replacement, optimizer
state, run folders and rebuilding a trained model from its spec.

The rebuild test is parametrised over :data:`hnsx.registry.HIDERS`, :data:`hnsx.registry.SEEKERS` and
:data:`hnsx.binarizers.BINARIZERS`, so a new entry must survive a checkpoint to pass.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import hnsx.adapters.image  # noqa: F401  (fills HIDERS and SEEKERS before the parametrisation below)
import hnsx.training.checkpoint as ckpt
from hnsx.adapters.image.spec import image_spec
from hnsx.binarizers import BINARIZERS
from hnsx.explain import load_trained
from hnsx.loss import hns_loss
from hnsx.model import HideAndSeek
from hnsx.registry import HIDERS, SEEKERS
from hnsx.spec import build_model
from hnsx.training.checkpoint import (
    CheckpointDir,
    CheckpointError,
    flatten_optimizer,
    load_model_state,
    read_state,
    resolve_checkpoint,
    save_checkpoint,
    unflatten_optimizer,
)
from hnsx.wrap import wrap_classifier

SHAPE = (1, 8, 8)
NUM_CLASSES = 3
BATCH = 4


def make_model(seed: int = 0, **spec_kwargs) -> tuple[HideAndSeek, dict]:
    torch.manual_seed(seed)
    spec = image_spec(SHAPE, NUM_CLASSES, **spec_kwargs)
    return build_model(spec), spec.to_dict()


def make_batch(shape: tuple[int, ...] = SHAPE) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(BATCH, *shape, generator=gen), torch.randint(0, NUM_CLASSES, (BATCH,), generator=gen)


def train_steps(model: HideAndSeek, steps: int = 2, shape: tuple[int, ...] = SHAPE) -> torch.optim.Optimizer:
    """A few Adam steps, so weights and BatchNorm statistics differ from a fresh build."""
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = make_batch(shape)
    for _ in range(steps):
        optimizer.zero_grad()
        hns_loss(model(x), y, 0.5, model.binarizer, model.adapter.kept_fraction).loss.backward()
        optimizer.step()
    return optimizer


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- round trips --------------------------------------------------------------------------------------------------


def test_save_and_load_model_state_round_trip(tmp_path):
    model, spec = make_model()
    train_steps(model)
    path = save_checkpoint(tmp_path / "ckpt", model.state_dict(), {"spec": spec, "epoch": 3})
    assert path == tmp_path / "ckpt"
    other, _ = make_model(seed=1)
    state = load_model_state(other, path)
    assert_same_state(other.state_dict(), model.state_dict())
    assert state["epoch"] == 3 and state["spec"] == spec
    assert state["format"] == "hnsx-checkpoint" and state["version"] == 1
    assert read_state(path) == state
    assert hidden_entries(tmp_path) == []


def test_checkpoint_holds_only_safetensors_and_json(tmp_path):
    model, spec = make_model()
    optimizer = train_steps(model)
    tensors, meta = flatten_optimizer(optimizer.state_dict())
    tensors["rng.torch"] = torch.get_rng_state()
    path = save_checkpoint(tmp_path / "ckpt", model.state_dict(), {"spec": spec, "optimizer": meta}, tensors)
    files = sorted(p.name for p in path.iterdir())
    assert files == ["model.safetensors", "state.json", "training.safetensors"]
    assert all(p.suffix in {".safetensors", ".json"} and p.is_file() for p in path.iterdir())
    # each file parses with a pickle-free reader
    assert_same_state(load_file(str(path / "training.safetensors")), tensors)
    assert json.loads((path / "state.json").read_text())["optimizer"] == json.loads(json.dumps(meta))
    for p in path.glob("*.safetensors"):  # safetensors layout: u64 header length, JSON header, raw bytes
        data = p.read_bytes()
        header_len = int.from_bytes(data[:8], "little")
        assert isinstance(json.loads(data[8 : 8 + header_len]), dict)


def test_saving_over_a_checkpoint_replaces_it(tmp_path):
    first, _ = make_model(seed=0)
    second, _ = make_model(seed=1)
    save_checkpoint(tmp_path / "ckpt", first.state_dict(), {"epoch": 1})
    save_checkpoint(tmp_path / "ckpt", second.state_dict(), {"epoch": 2})
    target, _ = make_model(seed=2)
    assert load_model_state(target, tmp_path / "ckpt")["epoch"] == 2
    assert_same_state(target.state_dict(), second.state_dict())
    assert hidden_entries(tmp_path) == []


# --- foreign, corrupt and incompatible folders --------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path) -> Path:
    model, spec = make_model()
    return save_checkpoint(tmp_path / "ckpt", model.state_dict(), {"spec": spec})


def test_folder_without_state_json_is_not_a_checkpoint(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"is not an hnsx checkpoint: state.json is missing"):
        load_model_state(make_model()[0], folder)


@pytest.mark.parametrize("content", [{"epoch": 1}, {"format": "other-tool", "version": 1}, [1, 2]])
def test_state_json_without_the_format_marker_is_foreign(saved, content):
    (saved / "state.json").write_text(json.dumps(content))
    with pytest.raises(CheckpointError, match=r"was not written by hnsx \(no 'hnsx-checkpoint' format marker"):
        load_model_state(make_model()[0], saved)


def test_state_json_of_another_version(saved):
    (saved / "state.json").write_text(json.dumps({"format": "hnsx-checkpoint", "version": 99}))
    with pytest.raises(CheckpointError, match=r"checkpoint version 99; this hnsx reads 1"):
        read_state(saved)


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00\x81garbage", b'{"format": "hnsx-checkpoint", '])
def test_corrupt_state_json(saved, garbage):
    (saved / "state.json").write_bytes(garbage)
    with pytest.raises(CheckpointError, match=r"state.json is corrupt"):
        load_model_state(make_model()[0], saved)


@pytest.mark.parametrize("keep", [0.5, 0.0, 0.01], ids=["half", "empty", "header-cut"])
def test_truncated_model_weights(saved, keep):
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match=r"model.safetensors is corrupt or not a safetensors file"):
        load_model_state(make_model()[0], saved)


def test_missing_model_weights(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model.safetensors is missing"):
        load_model_state(make_model()[0], saved)


@pytest.mark.parametrize(
    "spec_kwargs",
    [{"hider": "unet"}, {"seeker_kwargs": {"width": 8}}, {"hider_kwargs": {"width": 8}}],
    ids=["other-hider", "narrower-seeker", "narrower-hider"],
)
def test_weights_of_another_architecture_do_not_fit(saved, spec_kwargs):
    other, _ = make_model(**spec_kwargs)
    with pytest.raises(CheckpointError, match=r"do not fit this model"):
        load_model_state(other, saved)


# --- atomic writes ------------------------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def fail_on_call(real, n: int):
    """A wrapper of ``real`` that raises :class:`Boom` on its ``n``-th call (1-based)."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise Boom(f"simulated failure in call {n}")
        return real(*args, **kwargs)

    return wrapper


def fail_on_final_rename(real):
    """``os.replace`` that fails when the finished temporary folder is renamed onto the checkpoint path."""

    def wrapper(src, dst, *args, **kwargs):
        if ".tmp-" in Path(src).name:
            raise Boom("simulated failure of the final rename")
        return real(src, dst, *args, **kwargs)

    return wrapper


@pytest.mark.parametrize(
    "failure",
    ["second-save_file", "write_json_atomic", "final-rename"],
)
def test_failed_save_leaves_the_previous_checkpoint_and_no_temporary_folders(tmp_path, monkeypatch, failure):
    old_model, _ = make_model(seed=0)
    save_checkpoint(tmp_path / "ckpt", old_model.state_dict(), {"epoch": 1})
    new_model, _ = make_model(seed=1)
    if failure == "second-save_file":
        monkeypatch.setattr(ckpt, "save_file", fail_on_call(ckpt.save_file, 2))
    elif failure == "write_json_atomic":
        monkeypatch.setattr(ckpt, "write_json_atomic", fail_on_call(ckpt.write_json_atomic, 1))
    else:
        monkeypatch.setattr(ckpt.os, "replace", fail_on_final_rename(os.replace))
    with pytest.raises(Boom):
        save_checkpoint(tmp_path / "ckpt", new_model.state_dict(), {"epoch": 2}, {"rng": torch.get_rng_state()})
    monkeypatch.undo()
    assert hidden_entries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    target, _ = make_model(seed=2)
    assert load_model_state(target, tmp_path / "ckpt")["epoch"] == 1
    assert_same_state(target.state_dict(), old_model.state_dict())
    assert not (tmp_path / "ckpt" / "training.safetensors").exists()


def test_failed_json_write_leaves_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "index.json"
    ckpt.write_json_atomic(target, {"latest": "epoch-1"})

    def broken_dump(*args, **kwargs):
        raise Boom("disk full")

    monkeypatch.setattr(ckpt.json, "dump", broken_dump)
    with pytest.raises(Boom):
        ckpt.write_json_atomic(target, {"latest": "epoch-2"})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"latest": "epoch-1"}
    assert hidden_entries(tmp_path) == []


# --- optimizer state ----------------------------------------------------------------------------------------------


def test_flatten_and_unflatten_adam_resume_the_same_next_step(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.8, 0.95), weight_decay=1e-3)
    x = torch.randn(5, 4)

    def step(model: nn.Module, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()

    for _ in range(2):
        step(net, optimizer)
    reference_net = copy.deepcopy(net)
    reference_opt = torch.optim.Adam(reference_net.parameters())
    reference_opt.load_state_dict(optimizer.state_dict())

    # Through the files a checkpoint uses: safetensors for the tensors, JSON for the rest.
    tensors, meta = flatten_optimizer(optimizer.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    save_file(tensors, str(tmp_path / "optim.safetensors"))
    (tmp_path / "optim.json").write_text(json.dumps(meta))
    restored = unflatten_optimizer(
        load_file(str(tmp_path / "optim.safetensors")), json.loads((tmp_path / "optim.json").read_text())
    )

    resumed_net = copy.deepcopy(net)
    resumed_opt = torch.optim.Adam(resumed_net.parameters())
    resumed_opt.load_state_dict(restored)
    assert resumed_opt.param_groups[0]["lr"] == 1e-2
    assert tuple(resumed_opt.param_groups[0]["betas"]) == (0.8, 0.95)
    for key, value in optimizer.state_dict()["state"][0].items():
        assert torch.equal(resumed_opt.state_dict()["state"][0][key], value), key

    step(reference_net, reference_opt)
    step(resumed_net, resumed_opt)
    assert_same_state(resumed_net.state_dict(), reference_net.state_dict())
    assert not torch.equal(resumed_net[0].weight, net[0].weight)  # the step did move the weights


# --- run folders --------------------------------------------------------------------------------------------------


def test_resolve_checkpoint_reads_the_run_index(tmp_path):
    model, spec = make_model()
    run = tmp_path / "run"
    for name in ("epoch-0001", "epoch-0002"):
        save_checkpoint(run / "checkpoints" / name, model.state_dict(), {"spec": spec, "name": name})
    CheckpointDir(run).update_index(latest="epoch-0002", best="epoch-0001")
    assert resolve_checkpoint(run) == run / "checkpoints" / "epoch-0001"
    assert resolve_checkpoint(run, "best") == run / "checkpoints" / "epoch-0001"
    assert resolve_checkpoint(run, "latest") == run / "checkpoints" / "epoch-0002"
    assert resolve_checkpoint(run / "checkpoints" / "epoch-0002") == run / "checkpoints" / "epoch-0002"
    assert read_state(resolve_checkpoint(run))["name"] == "epoch-0001"
    assert hidden_entries(run / "checkpoints") == []


def test_resolve_checkpoint_falls_back_to_the_latest(tmp_path):
    run = tmp_path / "run"
    CheckpointDir(run).update_index(latest="epoch-0003")
    assert resolve_checkpoint(run, "best") == run / "checkpoints" / "epoch-0003"


def test_resolve_checkpoint_of_an_unrelated_folder(tmp_path):
    with pytest.raises(CheckpointError, match=r"neither an hnsx checkpoint nor a run folder with checkpoints/index"):
        resolve_checkpoint(tmp_path)


@pytest.mark.parametrize("index", ["{not json", "{}", "[]"], ids=["garbage", "no-latest", "list"])
def test_resolve_checkpoint_with_a_corrupt_index(tmp_path, index):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "index.json").write_text(index)
    with pytest.raises(CheckpointError, match=r"index.json is corrupt"):
        resolve_checkpoint(tmp_path)


# --- rebuilding a trained model -----------------------------------------------------------------------------------

COMPONENTS = (
    [("hider", name) for name in HIDERS.names("image")]
    + [("seeker", name) for name in SEEKERS.names("image")]
    + [("binarizer", name) for name in BINARIZERS.names()]
)
assert HIDERS.names() and SEEKERS.names() and BINARIZERS.names(), "empty registry: nothing would be parametrised"


@pytest.mark.parametrize(("kind", "name"), COMPONENTS, ids=[f"{k}-{n}" for k, n in COMPONENTS])
def test_load_trained_rebuilds_identical_outputs(tmp_path, kind, name):
    shape = (3, 8, 8)
    torch.manual_seed(0)
    kwargs = {kind: name, "fill": "mean", "mean": [0.1, 0.2, 0.3]}
    if kind == "binarizer":
        kwargs["estimator"] = "sa"  # its slope is state that must be saved with the weights
    spec = image_spec(shape, NUM_CLASSES, **kwargs)
    model = build_model(spec)
    train_steps(model, shape=shape)
    model.binarizer.set_progress(2.0)
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints" / "epoch-0001", model.state_dict(), {"spec": spec.to_dict()})
    CheckpointDir(run).update_index(latest="epoch-0001", best="epoch-0001")

    loaded = load_trained(run)
    assert not loaded.training
    assert loaded.adapter.config() == model.adapter.config()
    assert float(loaded.binarizer.slope) == float(model.binarizer.slope)
    model.eval()
    x, _ = make_batch(shape)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a.logits, b.logits)
    assert torch.equal(a.mask, b.mask)
    assert torch.equal(a.keep_prob, b.keep_prob)


def test_load_trained_of_a_wrapped_classifier_needs_the_classifier(tmp_path):
    torch.manual_seed(0)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, NUM_CLASSES))
    model, spec = wrap_classifier(classifier, SHAPE, freeze=True)
    train_steps(model)
    save_checkpoint(tmp_path / "ckpt", model.state_dict(), {"spec": spec.to_dict()})
    with pytest.raises(ValueError, match=r"pass the same classifier as seeker="):
        load_trained(tmp_path / "ckpt")
    loaded = load_trained(tmp_path / "ckpt", seeker=copy.deepcopy(classifier))
    model.eval()
    x, _ = make_batch()
    with torch.no_grad():
        assert torch.equal(loaded(x).logits, model(x).logits)


def test_load_trained_without_a_spec(saved):
    state = json.loads((saved / "state.json").read_text())
    del state["spec"]
    (saved / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"has no model spec; build the model yourself"):
        load_trained(saved)


def test_load_trained_with_a_broken_spec(saved):
    state = json.loads((saved / "state.json").read_text())
    del state["spec"]["hider"]
    (saved / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"not a valid hnsx model spec"):
        load_trained(saved)
