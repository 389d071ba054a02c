"""The explainer registry (one Captum-style contract) and the speed benchmark, on tiny models.

No speed goal is asserted here: figures belong in ``hnsx bench speed`` (README). These tests check that each
explainer computes what it claims (Integrated Gradients against its closed form on a linear model), that Captum
leaves no hooks behind, and that the benchmark's results and ratios are consistent with its own timings.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from hnsx.adapters.image.spec import image_spec
from hnsx.benchmarks.explainers import EXPLAINERS, build_explainer, last_conv
from hnsx.benchmarks.speed import METHODS, SpeedConfig, run_speed, time_call
from hnsx.cli import main
from hnsx.spec import build_model

SHAPE = (1, 8, 8)
NUM_CLASSES = 3


def hns_model() -> nn.Module:
    torch.manual_seed(0)
    return build_model(image_spec(SHAPE, NUM_CLASSES)).eval()


def batch(n: int = 4) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(1))


def model_for(name: str, model: nn.Module) -> nn.Module:
    return model if name == "hns" else model.seeker


def hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in module.modules())


@pytest.mark.parametrize("name", EXPLAINERS.names("image"))
def test_every_explainer_scores_each_pixel_for_the_predicted_class(name):
    model = hns_model()
    explainer = build_explainer(name, model_for(name, model))
    x = batch()
    classes, scores = explainer.predict_and_attribute(x)
    assert scores.shape == (4, 1, *SHAPE[1:])
    assert torch.isfinite(scores).all()
    assert torch.equal(classes, model.seeker(x).argmax(1) if name != "hns" else model.predict(x)[0])
    if name != "random":
        assert float(scores.abs().sum()) > 0
    assert hook_count(model) == 0, f"{name} left hooks on the model"


def test_hns_explainer_gives_the_keep_probability_whose_threshold_is_the_mask():
    model = hns_model()
    x = batch()
    classes, scores = build_explainer("hns", model).predict_and_attribute(x)
    expected_classes, mask = model.predict(x)
    assert torch.equal(classes, expected_classes)
    assert torch.equal((scores >= 0.5).float(), mask)
    assert torch.allclose(scores, torch.sigmoid(model.hider(x)))


def test_hns_explainer_rejects_a_plain_classifier():
    with pytest.raises(TypeError, match="needs a HideAndSeek model"):
        build_explainer("hns", hns_model().seeker)


class Linear(nn.Module):
    """``logits = W x`` on flattened pixels: Integrated Gradients from a zero baseline is exactly ``x * W[target]``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, NUM_CLASSES, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_integrated_gradients_matches_its_closed_form_on_a_linear_model():
    torch.manual_seed(0)
    model = Linear()
    x = batch()
    target = torch.tensor([0, 1, 2, 1])
    scores = build_explainer("integrated-gradients", model, n_steps=20).attribute(x, target)
    reference = torch.stack([x[i, 0] * model.fc.weight[t].view(8, 8) for i, t in enumerate(target.tolist())])
    torch.testing.assert_close(scores[:, 0], reference.detach(), rtol=1e-4, atol=1e-5)


def test_deeplift_gradient_shap_and_kernel_shap_are_exact_on_a_linear_model():
    torch.manual_seed(0)
    model = Linear()
    x = batch()
    target = torch.tensor([0, 1, 2, 1])
    per_pixel = torch.stack([x[i, 0] * model.fc.weight[t].view(8, 8) for i, t in enumerate(target.tolist())]).detach()
    for name in ("deeplift", "gradient-shap"):
        options = {"stdevs": 0.0} if name == "gradient-shap" else {}
        scores = build_explainer(name, model, **options).attribute(x, target)
        torch.testing.assert_close(scores[:, 0], per_pixel, rtol=1e-4, atol=1e-5)
    # KernelSHAP over 4x4 blocks: each block's score is the sum of its pixels' contributions
    scores = build_explainer("kernel-shap", model, window=4, n_samples=100).attribute(x, target)
    blocks = per_pixel.view(4, 2, 4, 2, 4).sum(dim=(2, 4))
    torch.testing.assert_close(scores[:, 0, ::4, ::4], blocks, rtol=1e-3, atol=1e-4)
    assert torch.equal(scores[:, :, :4, :4], scores[:, :, :1, :1].expand(4, 1, 4, 4))  # one value per block


def test_saliency_is_the_absolute_weight_on_a_linear_model():
    torch.manual_seed(0)
    model = Linear()
    target = torch.tensor([2, 0, 1, 2])
    scores = build_explainer("saliency", model).attribute(batch(), target)
    reference = torch.stack([model.fc.weight[t].abs().view(8, 8) for t in target.tolist()])
    torch.testing.assert_close(scores[:, 0], reference.detach())


def test_occlusion_and_gradcam_find_the_only_pixels_the_model_reads():
    # A model that reads only the top-left 4x4 block: occlusion must score only that block.
    class Corner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, NUM_CLASSES, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)[:, :, :4, :4].mean(dim=(2, 3))

    torch.manual_seed(0)
    model = Corner()
    x = batch()
    scores = build_explainer("occlusion", model, window=4).attribute(x, torch.zeros(4, dtype=torch.long))
    assert float(scores[:, :, :4, :4].abs().sum()) > 0
    assert float(scores[:, :, 4:, :].abs().sum()) == 0 and float(scores[:, :, :, 4:].abs().sum()) == 0
    assert last_conv(model) is model.conv


def test_gradcam_needs_a_convolution():
    with pytest.raises(ValueError, match="no Conv2d layer for Grad-CAM"):
        build_explainer("layer-gradcam", Linear())


def test_time_call_reports_the_median_and_falls_back_to_one_call_when_slow():
    calls = []
    timing = time_call(lambda: calls.append(1), torch.device("cpu"), samples=8, repeats=3, slow_seconds=60.0)
    assert len(calls) == 4 and timing.repeats == 3 and len(timing.all_seconds) == 3
    assert timing.seconds == sorted(timing.all_seconds)[1]
    assert timing.throughput == pytest.approx(8 / timing.seconds)
    calls.clear()
    slow = time_call(lambda: calls.append(1), torch.device("cpu"), samples=8, repeats=3, slow_seconds=0.0)
    assert len(calls) == 1 and slow.repeats == 1


def test_speed_benchmark_writes_consistent_results(tmp_path):
    config = SpeedConfig(
        default_shape=SHAPE,
        default_batch=4,
        sizes=(8, 12),
        size_batch=2,
        batches=(2,),
        scaling_methods=("hns", "layer-gradcam"),
        repeats=2,
        train_repeats=2,
        threads=1,
    )
    results = run_speed(config, tmp_path, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["ratios"] == results["ratios"]
    default = saved["methods"]["1x8x8/batch4"]
    assert set(default) == set(METHODS)
    for t in default.values():
        assert t["samples_per_s"] == pytest.approx(4 / t["seconds"])
    ratios = saved["ratios"]
    assert ratios["hns_vs_integrated_gradients"] == pytest.approx(
        default["hns"]["samples_per_s"] / default["integrated-gradients"]["samples_per_s"]
    )
    assert ratios["hns_vs_layer_gradcam"] == pytest.approx(
        default["hns"]["samples_per_s"] / default["layer-gradcam"]["samples_per_s"]
    )
    step = saved["train_step"]["1x8x8/batch4"]
    assert ratios["train_step_hns_vs_seeker"] == pytest.approx(step["hns"]["seconds"] / step["seeker"]["seconds"])
    assert set(saved["methods"]["3x12x12/batch2"]) == {"hns", "layer-gradcam"}
    assert ratios["hns_vs_layer_gradcam_12"] is not None
    report = (tmp_path / "report.md").read_text()
    for name in METHODS:
        assert name in report
    assert "train_step_hns_vs_seeker" in report


def test_bench_cli_rejects_cuda_without_a_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "speed", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_bench_cli_rejects_zero_threads(tmp_path, capsys):
    assert main(["bench", "speed", "--threads", "0", "--out", str(tmp_path)]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_speed_times_only_the_explainers_named(tmp_path):
    config = SpeedConfig(
        default_shape=SHAPE, default_batch=2, sizes=(8,), size_batch=2, batches=(2,), repeats=1, train_repeats=1
    )
    config = dataclasses.replace(config, threads=1, explainers=("hns", "saliency"))
    results = run_speed(config, tmp_path, progress=False)
    default = results["methods"]["1x8x8/batch2"]
    assert set(default) == {"hns", "hns-paper-hider", "saliency"}  # hns names both HnS rows
    assert set(results["methods"]["3x8x8/batch2"]) == {"hns", "hns-paper-hider", "saliency"}
    ratios = results["ratios"]
    hns, saliency = default["hns"]["samples_per_s"], default["saliency"]["samples_per_s"]
    assert ratios["hns_vs_saliency"] == pytest.approx(hns / saliency)
    assert ratios["hns_vs_integrated_gradients"] is None
    with pytest.raises(ValueError, match="unknown speed explainer"):
        run_speed(dataclasses.replace(config, explainers=("hns", "lime")), tmp_path, progress=False)
