"""The modality contract, proven by a new modality that lives in this file only: a 1-D "signal" whose label is
the sign of a bump at positions 4-7. It is registered here (adapter, hider, seeker, modality, two explainers and
the two required benchmark hooks) and then trained, resumed, explained and benchmarked through the public command
line, exactly as the built-in modalities are. See docs/extending.md for the same modality, step by step."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hnsx.adapter import ADAPTERS, Adapter, InputError
from hnsx.cli import main
from hnsx.modality import MODALITIES, Modality
from hnsx.registry import HIDERS, SEEKERS
from hnsx.spec import Component, ModelSpec, binarizer_component

LENGTH = 16
SIGNAL = slice(4, 8)


class SignalAdapter(Adapter):
    """Masks ``(B, L)`` over signals ``(B, 1, L)``; a hidden sample becomes 0."""

    name = "signal"

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length

    def validate(self, x):
        if x.dim() != 3 or tuple(x.shape[1:]) != (1, self.length):
            raise InputError(f"a signal batch has shape (B, 1, {self.length}), got {tuple(x.shape)}")

    def mask_shape(self, x):
        return (x.shape[0], self.length)

    def apply_mask(self, x, mask):
        return x * mask.unsqueeze(1).to(x.dtype)

    def config(self):
        return {"length": self.length}


class SignalHider(nn.Module):
    def __init__(self, input_shape):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.Conv1d(8, 1, 5, padding=2))

    def forward(self, x):
        return self.conv(x).squeeze(1)


def signal_seeker(*, input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[-1], 32), nn.ReLU(), nn.Linear(32, num_classes))


@dataclass
class SignalData:
    train: TensorDataset
    eval: TensorDataset
    num_classes: int = 2
    input_shape: tuple[int, ...] = (1, LENGTH)
    name: str = "bumps"
    class_names: list[str] = field(default_factory=lambda: ["down", "up"])


def make_bumps(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, LENGTH, generator=g)
    x[:, 0, SIGNAL] += (2.0 * labels - 1.0).unsqueeze(1)
    return TensorDataset(x, labels)


def load_bench_data(*, quick=False, seed=0, name=None):
    """The benchmark data: the bumps, with the known evidence (positions 4-7) as the test split's rationale."""
    from hnsx.benchmarks.common import BenchData, build_adapter
    from hnsx.modality import get_modality

    spec = get_modality("signal").example(num_classes=2)[0]
    test = make_bumps(200, seed + 1)
    rationale = torch.zeros(200, LENGTH)
    rationale[:, SIGNAL] = 1.0
    return BenchData(
        modality="signal", name="bumps", train=make_bumps(600, seed), test=test, num_classes=2,
        input_shape=(1, LENGTH), spec=spec, adapter=build_adapter(spec), test_rationale=rationale,
    )  # fmt: skip


def bench_hooks():
    from hnsx.benchmarks.hooks import Recipe
    from hnsx.training.config import TrainConfig

    hns = TrainConfig(epochs=4, batch_size=32, lr=0.01, alpha=0.6, init="pretrained-seeker", pretrain_epochs=3)
    return SimpleNamespace(
        __name__=__name__,
        RECIPE=Recipe(seeker_epochs=3, batch_size=32, lr=0.01, hns=hns),
        load_bench_data=load_bench_data,
    )


class SignalModality(Modality):
    adapter = "signal"
    default_hider = "signal-conv"
    default_seeker = "signal-mlp"
    default_dataset = "bumps"

    def load_data(self, args):
        return SignalData(make_bumps(600, args.seed), make_bumps(200, args.seed + 1))

    def build_spec(self, data, args):
        return ModelSpec(
            modality=self.name,
            input_shape=data.input_shape,
            num_classes=data.num_classes,
            adapter=Component("signal", {"length": LENGTH}),
            hider=Component(args.hider),
            seeker=Component(args.seeker),
            binarizer=binarizer_component(args.binarizer, args.estimator),
        )

    def explain(self, args, model):
        for text in args.inputs:
            x = torch.tensor([float(v) for v in text.split(",")]).view(1, 1, -1)
            out = model(x)
            kept = out.mask[0].nonzero().flatten().tolist()
            print(f"class {int(out.logits.argmax())}, kept positions {kept}")
        return 0

    def bench(self):
        return bench_hooks()

    def example(self, hider=None, seeker=None, *, num_classes=3):
        args = type("Args", (), {"hider": hider or self.default_hider, "seeker": seeker or self.default_seeker,
                                 "binarizer": "deterministic", "estimator": None})()  # fmt: skip
        spec = self.build_spec(SignalData(make_bumps(4, 0), make_bumps(4, 1), num_classes=num_classes), args)
        return spec, make_bumps(4, 0).tensors[0]


@pytest.fixture(scope="module")
def signal_modality():
    """Register the toy modality for this module's tests and remove it afterwards."""
    from hnsx.benchmarks.explainers import EXPLAINERS, HnSExplainer, RandomExplainer

    registered = [
        (ADAPTERS, "signal", SignalAdapter),
        (HIDERS, "signal-conv", SignalHider),
        (SEEKERS, "signal-mlp", signal_seeker),
        (MODALITIES, "signal", SignalModality),
        (EXPLAINERS, "signal-hns", HnSExplainer),  # the generic classes: scores in the adapter's mask shape
        (EXPLAINERS, "signal-random", RandomExplainer),
    ]
    for registry, name, entry in registered:
        registry.register(name, modality="signal")(entry)
    yield
    for registry, name, _ in registered:
        registry.unregister(name)


TRAIN = ["train", "--modality", "signal", "--epochs", "4", "--alpha", "0.6", "--init", "pretrained-seeker",
         "--pretrain-epochs", "3", "--lr", "0.01", "--batch-size", "32", "--no-progress"]  # fmt: skip


def test_a_new_modality_trains_resumes_and_explains(signal_modality, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*TRAIN, "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["baseline_accuracy"] >= 0.95
    assert metrics["best"]["fidelity"] >= 0.9
    assert metrics["best"]["interpretability"] >= 0.3  # the bump is 4 of 16 positions

    assert main([*TRAIN[:3], "--epochs", "5", *TRAIN[5:], "--out", str(run), "--resume"]) == 0
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5]

    capsys.readouterr()
    up = ",".join(["0"] * 4 + ["1"] * 4 + ["0"] * 8)
    assert main(["explain", "--checkpoint", str(run), "--out", str(tmp_path / "e"), up]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("class 1, kept positions")
    kept = json.loads(line.split("kept positions ")[1])
    assert kept and set(kept) & {4, 5, 6, 7}


def test_a_new_modality_gets_the_shared_checks(signal_modality, tmp_path, capsys):
    assert main([*TRAIN, "--out", str(tmp_path / "r"), "--hider", "pyramid"]) == 2
    assert "--hider 'pyramid' is not a signal hider; choose one of: signal-conv" in capsys.readouterr().err
    assert main([*TRAIN, "--out", str(tmp_path / "r"), "--init", "both"]) == 2
    assert "--init both pretrains the hider as an autoencoder" in capsys.readouterr().err
    assert main(["demo", "--modality", "signal", "--out", str(tmp_path / "d")]) == 2
    assert "no demo for --modality signal" in capsys.readouterr().err


def test_an_installed_package_adds_its_modality_through_an_entry_point(monkeypatch):
    from importlib import metadata

    from hnsx.registry import PLUGIN_GROUP, Registry

    imported = []
    found = [metadata.EntryPoint(name="signal", value="toy_plugin", group=PLUGIN_GROUP)]
    monkeypatch.setattr(metadata, "entry_points", lambda group: found if group == PLUGIN_GROUP else [])
    monkeypatch.setattr("hnsx.registry.import_module", imported.append)
    Registry("probe", builtins=("hnsx.adapters.image", "hnsx.adapters.tabular", "hnsx.adapters.text")).names()
    assert imported == ["hnsx.adapters.image", "hnsx.adapters.tabular", "hnsx.adapters.text", "toy_plugin"]


def test_a_new_modality_runs_a_benchmark(signal_modality, tmp_path):
    out = tmp_path / "faithfulness"
    argv = ["bench", "faithfulness", "--modality", "signal", "--quick", "--seeds", "1", "--threads", "1",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["modality"] == "signal" and {"hns", "random", "oracle"} <= set(results["explainers"])
    assert results["models"]["classifier_accuracy"]["mean"] > 0.9
    metrics = results["metrics"]
    # the evidence is known (positions 4-7): the oracle and the trained hider find it, random scores do not
    assert metrics["oracle"]["rationale_f1"]["mean"] == pytest.approx(1.0)
    assert metrics["hns"]["rationale_f1"]["mean"] > metrics["random"]["rationale_f1"]["mean"] + 0.2
    assert "signal" in (out / "report.md").read_text() and (out / "report.md").stat().st_size > 0
