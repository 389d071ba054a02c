"""Every user mistake raises a specific error whose message names the problem (and, where it helps, the fix)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hnsx.adapter import InputError
from hnsx.adapters.image import ImageAdapter
from hnsx.adapters.image.spec import image_spec
from hnsx.alpha import build_alpha
from hnsx.binarizers import DeterministicBinarizer, build_binarizer
from hnsx.loss import hns_loss
from hnsx.model import HideAndSeek
from hnsx.spec import build_model
from hnsx.training.config import TrainConfig

SHAPE = (1, 8, 8)
NUM_CLASSES = 3
BATCH = 4


def make_model() -> HideAndSeek:
    torch.manual_seed(0)
    return build_model(image_spec(SHAPE, NUM_CLASSES))


def make_batch(shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    return torch.rand(BATCH, *shape, generator=torch.Generator().manual_seed(0))


def loss_with_labels(labels: torch.Tensor):
    model = make_model()
    out = model(make_batch())
    return hns_loss(out, labels, 0.5, model.binarizer, model.adapter.kept_fraction)


class FixedOutput(nn.Module):
    """A stand-in hider or seeker returning zeros of a fixed per-sample shape."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * torch.zeros(x.shape[0], *self.shape)


# --- inputs -------------------------------------------------------------------------------------------------------


def test_three_d_input_names_the_rank_and_suggests_a_batch_dimension():
    with pytest.raises(InputError, match=r"rank 4.*got rank 3.*unsqueeze\(0\)"):
        make_model()(make_batch()[0])


def test_wrong_channels_names_both_counts():
    with pytest.raises(InputError, match=r"3 channel\(s\) but the model expects 1"):
        make_model()(make_batch((3, 8, 8)))


def test_wrong_image_size_names_both_sizes():
    with pytest.raises(InputError, match=r"16x16 pixels but the model expects 8x8"):
        make_model()(make_batch((1, 16, 16)))


def test_hider_returning_the_wrong_shape_names_both_shapes():
    model = HideAndSeek(
        FixedOutput(1, 4, 4), DeterministicBinarizer(), FixedOutput(NUM_CLASSES), ImageAdapter(SHAPE), NUM_CLASSES
    )
    with pytest.raises(InputError, match=r"hider returned shape \(4, 1, 4, 4\), expected mask shape \(4, 1, 8, 8\)"):
        model(make_batch())


def test_integer_images_are_rejected():
    with pytest.raises(InputError, match="floating point"):
        make_model()((make_batch() * 255).to(torch.uint8))


def test_non_tensor_input_is_rejected():
    with pytest.raises(InputError, match="must be a torch.Tensor.*got list"):
        make_model().explain([[0.0]])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_input_is_rejected_with_a_count(bad):
    x = make_batch()
    x[0, 0, 0, 0] = bad
    x[2, 0, 3, 1] = bad
    with pytest.raises(InputError, match=r"contains 2 NaN or inf value\(s\)"):
        make_model()(x)


def test_input_errors_are_value_errors():
    # Callers that catch ValueError (the usual type for bad arguments) also catch InputError.
    assert issubclass(InputError, ValueError)


# --- labels -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [-1, 0, 1, 2]], ids=["too-large", "negative"])
def test_labels_outside_the_classes(labels):
    lo, hi = min(labels), max(labels)
    with pytest.raises(ValueError, match=rf"\[0, 3\) \(num_classes=3\); got values from {lo} to {hi}"):
        loss_with_labels(torch.tensor(labels))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool])
def test_non_integer_labels(dtype):
    with pytest.raises(ValueError, match=rf"integer class indices, got dtype {dtype}"):
        loss_with_labels(torch.tensor([0, 1, 1, 0]).to(dtype))


def test_seeker_output_disagreeing_with_num_classes():
    model = HideAndSeek(
        FixedOutput(1, *SHAPE[1:]), DeterministicBinarizer(), FixedOutput(10), ImageAdapter(SHAPE), num_classes=5
    )
    with pytest.raises(ValueError, match=r"logits of shape \(4, 10\), but num_classes=5"):
        model(make_batch())


# --- alpha --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.5, -0.1, float("nan")])
def test_train_config_alpha_outside_the_unit_interval(alpha):
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        TrainConfig(alpha=alpha)


def test_train_config_alpha_word_other_than_adaptive():
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\] or 'adaptive', got 'fast'"):
        TrainConfig(alpha="fast")


def test_build_alpha_below_zero():
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got -0.1"):
        build_alpha(-0.1)


def test_hns_loss_alpha_outside_the_unit_interval():
    model = make_model()
    out = model(make_batch())
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 2"):
        hns_loss(out, torch.zeros(BATCH, dtype=torch.long), 2, model.binarizer, model.adapter.kept_fraction)


# --- names --------------------------------------------------------------------------------------------------------


def test_unknown_binarizer_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown binarizer 'fuzzy'; choose one of: deterministic, stochastic"):
        build_binarizer("fuzzy")


def test_unknown_estimator_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown estimator 'magic'; choose one of: .*st1"):
        build_binarizer("deterministic", estimator="magic")


@pytest.mark.parametrize(
    ("spec_kwargs", "message"),
    [
        ({"binarizer": "fuzzy"}, r"unknown binarizer 'fuzzy'; choose one of"),
        ({"estimator": "magic"}, r"unknown estimator 'magic'; choose one of"),
        ({"hider": "oracle"}, r"unknown hider 'oracle'; choose one of: conv-autoencoder"),
        ({"seeker": "oracle"}, r"unknown seeker 'oracle'; choose one of: .*small-cnn"),
        ({"fill": "noise"}, r"unknown fill 'noise'; choose one of: zero, mean, blur"),
        ({"binarizer": "deterministic", "estimator": "reinforce"}, r"deterministic binarizer .* 'stochastic'"),
    ],
    ids=["binarizer", "estimator", "hider", "seeker", "fill", "reinforce-deterministic"],
)
def test_unknown_names_in_a_spec_fail_when_building(spec_kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(image_spec(SHAPE, NUM_CLASSES, **spec_kwargs))


def test_unknown_fill():
    with pytest.raises(ValueError, match=r"unknown fill 'noise'; choose one of: zero, mean, blur"):
        ImageAdapter(SHAPE, fill="noise")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fill": "mean"}, r"fill='mean' needs the per-channel mean"),
        ({"fill": "mean", "mean": [0.1, 0.2]}, r"mean has 2 values but the images have 1 channel"),
        ({"fill": "blur", "blur_sigma": 0}, r"blur_sigma must be > 0, got 0"),
    ],
    ids=["mean-missing", "mean-length", "sigma"],
)
def test_bad_fill_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageAdapter(SHAPE, **kwargs)


@pytest.mark.parametrize("shape", [(8, 8), (1, 0, 8)], ids=["rank-2", "zero-size"])
def test_bad_adapter_input_shape(shape):
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) with positive sizes"):
        ImageAdapter(shape)


def test_unknown_init_mode_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown init mode 'warm'; choose one of: scratch, pretrained-hider"):
        TrainConfig(init="warm")


def test_unknown_mixed_precision_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown mixed_precision 'fp8'; choose one of: no, fp16, bf16"):
        TrainConfig(mixed_precision="fp8")


def test_unknown_training_setting_is_named():
    with pytest.raises(ValueError, match=r"unknown training settings: learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})
