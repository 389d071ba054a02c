"""``hnsx bench --device``: every benchmark path puts its models and tensors on the device asked for (issue 20,
"``--device cuda`` honoured everywhere"), checked on a CPU-only machine with a virtual CUDA device
(:mod:`virtual_cuda`): a model left on the CPU, or a CPU tensor meeting a CUDA one, is logged where a GPU would fail
or silently run on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_bench_own import fashion_like
from virtual_cuda import marked, virtual_cuda

from hnsx.cli import main
from hnsx.spec import build_model


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[list[str], Path]:
    """The data options of a tiny Fashion-MNIST layout and a run of ``hnsx train`` on it, trained on the CPU."""
    tmp = tmp_path_factory.mktemp("device-run")
    fashion_like(tmp / "data", n_train=80, n_test=24)
    common = ["--dataset", "fashion-mnist", "--data-dir", str(tmp / "data")]
    argv = ["train", *common, "--epochs", "1", "--pretrain-epochs", "0", "--init", "scratch", "--fill", "mean"]
    assert main([*argv, "--batch-size", "32", "--no-progress", "--cpu", "--out", str(tmp / "run")]) == 0
    return common, tmp / "run"


def test_virtual_cuda_logs_a_model_left_on_the_cpu_and_mixed_devices(monkeypatch):
    with virtual_cuda(monkeypatch) as log:
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)).to("cuda")
        x = torch.rand(5, 4).to(torch.device("cuda"))
        assert x.device.type == "cuda" and all(p.device.type == "cuda" for p in model.parameters())
        optimizer = torch.optim.Adam(model.parameters())
        model(x).sum().backward()
        optimizer.step()
        assert log.problems == [] and log.moved == 1 + 4  # x, and the 4 parameters
        assert marked(model(x)) and not marked(model(x).cpu()) and not marked(torch.rand(2))
        torch.nn.Linear(4, 2)(x)  # a model never moved
        assert len(log.on_cpu) == 1 and "Linear ran with its parameters on the CPU" in log.on_cpu[0]
        assert len(log.mixed) == 1 and log.mixed[0].startswith("linear")
        log.mixed.clear()
        model(torch.rand(5, 4))  # inputs never moved
        assert len(log.mixed) == 1
        x.numpy()
        assert len(log.numpy) == 1


# The quick settings, trimmed: the checks are about placement, not figures.
BENCHMARKS = {
    "faithfulness": ["--explainers", "hns,integrated-gradients,random"],
    "sanity": ["--explainers", "hns,saliency", "--epochs", "1"],
    "leakage": ["--explainers", "hns,saliency,random", "--epochs", "1"],
    "kar": ["--explainers", "hns,random"],
    "speed": ["--explainers", "hns,integrated-gradients,saliency"],
}


@pytest.fixture
def small_speed(monkeypatch):
    from hnsx.benchmarks.speed import QUICK

    for key, value in (("batches", (3,)), ("repeats", 1), ("train_repeats", 1)):
        monkeypatch.setitem(QUICK, key, value)


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_bench_on_a_checkpoint_puts_everything_on_the_device_asked_for(name, run, tmp_path, monkeypatch, small_speed):
    common, folder = run
    argv = ["bench", name, "--checkpoint", str(folder), *common, "--quick", "--seeds", "1", "--threads", "1"]
    argv += [*BENCHMARKS[name], "--no-progress"]
    with virtual_cuda(monkeypatch) as log:
        assert main([*argv, "--device", "cuda", "--out", str(tmp_path / "cuda")]) == 0
    assert log.problems == [] and log.moved > 0
    assert (tmp_path / "cuda" / "report.html").is_file()
    with virtual_cuda(monkeypatch) as log:  # a GPU is there, but --device cpu keeps everything off it
        assert main([*argv, "--device", "cpu", "--out", str(tmp_path / "cpu")]) == 0
    assert log.moved == 0 and log.mixed == [] and log.on_cpu  # every model ran, on the CPU
    assert (tmp_path / "cpu" / "report.html").is_file()


def test_speed_on_the_built_in_shapes_puts_everything_on_the_device(tmp_path, monkeypatch):
    from hnsx.benchmarks.speed import SpeedConfig, run_speed

    shapes = {"default_shape": (1, 8, 8), "default_batch": 2, "sizes": (8,), "size_batch": 2, "batches": (2,)}
    config = SpeedConfig(**shapes, repeats=1, train_repeats=1, threads=1, device="cuda")
    with virtual_cuda(monkeypatch) as log:
        results = run_speed(config, tmp_path, progress=False)
    assert log.problems == [] and log.moved > 0 and results["machine"]["device"] == "cuda"


def test_bench_device_cuda_without_cuda_fails_at_once_in_one_line(run, tmp_path, monkeypatch, capsys):
    from hnsx.benchmarks import common as bench_common

    common, folder = run
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded before the device was checked")

    monkeypatch.setattr(bench_common, "load_user_data", no_data)
    for name in ("faithfulness", "kar", "speed"):
        argv = ["bench", name, "--checkpoint", str(folder), *common, "--device", "cuda", "--out", str(tmp_path / name)]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.strip() == "hnsx bench: error: --device cuda, but there is no CUDA device on this machine"
        assert not (tmp_path / name / "results.json").exists()


def test_an_adapter_on_the_gpu_fills_hidden_units_of_inputs_left_on_the_cpu(monkeypatch):
    """ROAR and KAR on a checkpoint fill whole CPU splits with the adapter of the run's model, which --device cuda
    put on the GPU: the fill values must come to the inputs (found by the virtual device, fixed in both adapters)."""
    from hnsx.adapters.image.adapter import ImageAdapter
    from hnsx.modality import get_modality

    spec, rows = get_modality("tabular").example(num_classes=2)
    image = ImageAdapter((1, 4, 4), fill="mean", mean=[0.5])
    cases = [(image, torch.rand(3, 1, 4, 4)), (build_model(spec).adapter, rows)]
    for adapter, x in cases:
        keep = (torch.rand(adapter.mask_shape(x)) > 0.5).float()
        expected = adapter.apply_mask(x, keep)
        with virtual_cuda(monkeypatch) as log:
            filled = adapter.to("cuda").apply_mask(x, keep)
        assert log.mixed == [] and not marked(filled)  # computed where the inputs are
        torch.testing.assert_close(filled.as_subclass(torch.Tensor), expected.as_subclass(torch.Tensor))
