"""The image modality: every registered hider and seeker, the fills, the kept fraction and the adapter's config.

Hiders, seekers and adapters are parametrised over :data:`hnsx.registry.HIDERS`, :data:`hnsx.registry.SEEKERS` and
:data:`hnsx.adapter.ADAPTERS`: a new entry is checked for shape and backprop without a new test.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torchvision.transforms import functional as TF

from hnsx.adapter import ADAPTERS
from hnsx.adapters.image import FILLS, ConvAutoencoderHider, ImageAdapter
from hnsx.registry import HIDERS, SEEKERS

BATCH = 4
NUM_CLASSES = 5
HIDER_SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8), (2, 7, 9)]
# Seekers are bigger (a ResNet-18 is 11M parameters): one colour and one grey shape, kept small.
SEEKER_SHAPES = [(3, 32, 32), (1, 28, 28)]
# Shapes where a registered builder is not expected to work (name -> shapes); empty today.
UNSUPPORTED: dict[str, set[tuple[int, int, int]]] = {}

# Keyword arguments and an input shape for each registered adapter; a new adapter must add an entry here.
ADAPTER_EXAMPLES = {"image": ({"input_shape": [3, 8, 8], "fill": "mean", "mean": [0.1, 0.2, 0.3]}, (3, 8, 8))}
FILL_KWARGS = {"zero": {}, "mean": {"mean": [0.25, 0.5, 0.75]}, "blur": {"blur_sigma": 1.5}}


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def random_mask(batch: int, h: int, w: int, seed: int = 1) -> torch.Tensor:
    return (rand(batch, 1, h, w, seed=seed) < 0.5).float()


def backprop_to_input(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward ``x`` and backpropagate a random projection of the output; returns ``(output, x.grad)``."""
    x = x.clone().requires_grad_(True)
    out = module(x)
    (out * rand(*out.shape, seed=2)).sum().backward()
    return out, x.grad


# --- hiders -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", HIDER_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", HIDERS.names("image"))
def test_hider_gives_one_mask_logit_per_pixel_and_backprops_to_the_input(name, shape):
    if shape in UNSUPPORTED.get(name, set()):
        pytest.skip(f"{name} does not support {shape}")
    torch.manual_seed(0)
    hider = HIDERS.build(name, input_shape=shape)
    out, grad = backprop_to_input(hider, rand(BATCH, *shape))
    assert out.shape == (BATCH, 1, *shape[1:])
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert grad is not None and torch.isfinite(grad).all()
    assert float(grad.abs().sum()) > 0


@pytest.mark.parametrize("name", HIDERS.names("image"))
def test_fresh_hider_keeps_most_pixels(name):
    # The output bias starts at init_keep_logit = 1 so the seeker sees the images early in training.
    torch.manual_seed(0)
    hider = HIDERS.build(name, input_shape=(1, 8, 8), init_keep_logit=4.0).eval()
    with torch.no_grad():
        logits = hider(rand(BATCH, 1, 8, 8))
    assert float((torch.sigmoid(logits) >= 0.5).float().mean()) > 0.5


@pytest.mark.parametrize(
    ("shape", "stages", "coarsest"),
    [((1, 8, 8), 1, (4, 4)), ((1, 28, 28), 2, (7, 7)), ((3, 64, 48), 2, (16, 12)), ((3, 224, 224), 4, (14, 14))],
)
def test_pyramid_hider_is_sized_to_the_input(shape, stages, coarsest):
    # Stride-2 stages until the shorter side is about 7 pixels (at most 4), so nearly all compute is coarse.
    hider = HIDERS.build("pyramid", input_shape=shape)
    assert len(hider.stages) == stages
    with torch.no_grad():
        z = rand(2, *shape)
        for stage in hider.stages:
            z = stage(z)
    assert tuple(z.shape[-2:]) == coarsest


def test_pyramid_hider_has_far_fewer_weights_than_the_papers_autoencoder():
    shape = (1, 28, 28)
    pyramid, paper = (HIDERS.build(n, input_shape=shape) for n in ("pyramid", "conv-autoencoder"))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(pyramid) * 10 < count(paper)


@pytest.mark.parametrize(
    ("size", "channels", "latent"),
    [("small", [32, 64], 64), ("large", [32, 64, 128, 256, 512], 512)],
)
def test_conv_autoencoder_presets(size, channels, latent):
    torch.manual_seed(0)
    hider = HIDERS.build("conv-autoencoder", input_shape=(1, 28, 28), size=size)
    assert isinstance(hider, ConvAutoencoderHider)
    assert [m.out_channels for m in hider.encoder if isinstance(m, nn.Conv2d)] == channels
    assert [m.out_features for m in hider.bottleneck if isinstance(m, nn.Linear)][0] == latent
    with torch.no_grad():
        assert hider.eval()(rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)


def test_conv_autoencoder_keyword_arguments_override_the_preset():
    hider = HIDERS.build("conv-autoencoder", input_shape=(1, 8, 8), size="small", channels=(4, 8), latent=6)
    assert [m.out_channels for m in hider.encoder if isinstance(m, nn.Conv2d)] == [4, 8]
    assert hider.bottleneck[1].out_features == 6


def test_conv_autoencoder_unknown_size_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown conv-autoencoder size 'medium'.*'small' or 'large'"):
        HIDERS.build("conv-autoencoder", input_shape=(1, 8, 8), size="medium")


# --- seekers ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SEEKER_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", SEEKERS.names("image"))
def test_seeker_gives_class_logits_and_backprops_to_the_input(name, shape):
    if shape in UNSUPPORTED.get(name, set()):
        pytest.skip(f"{name} does not support {shape}")
    torch.manual_seed(0)
    seeker = SEEKERS.build(name, input_shape=shape, num_classes=NUM_CLASSES)  # resnet: depth 18, weights=None
    out, grad = backprop_to_input(seeker, rand(BATCH, *shape))
    assert out.shape == (BATCH, NUM_CLASSES)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert grad is not None and torch.isfinite(grad).all()
    assert float(grad.abs().sum()) > 0


def test_resnet_stem_follows_the_input_size():
    small = SEEKERS.build("resnet", input_shape=(1, 28, 28), num_classes=NUM_CLASSES)
    assert small.conv1.in_channels == 1 and small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, nn.Identity)
    large = SEEKERS.build("resnet", input_shape=(3, 64, 64), num_classes=NUM_CLASSES)
    assert large.conv1.kernel_size == (7, 7) and isinstance(large.maxpool, nn.MaxPool2d)
    assert large.fc.out_features == NUM_CLASSES


def test_resnet_unknown_depth_names_the_choices():
    with pytest.raises(ValueError, match=r"depth must be one of \[18, 34, 50\], got 19"):
        SEEKERS.build("resnet", input_shape=(3, 32, 32), num_classes=NUM_CLASSES, depth=19)


# --- fills --------------------------------------------------------------------------------------------------------


def test_zero_fill_is_the_product_with_the_mask():
    adapter = ImageAdapter((3, 8, 8), fill="zero")
    x, m = rand(BATCH, 3, 8, 8), random_mask(BATCH, 8, 8)
    assert torch.equal(adapter.apply_mask(x, m), x * m)


def test_mean_fill_puts_the_channel_mean_at_hidden_pixels():
    mean = [0.25, 0.5, 0.75]
    adapter = ImageAdapter((3, 8, 8), fill="mean", mean=mean)
    x, m = rand(BATCH, 3, 8, 8), random_mask(BATCH, 8, 8)
    out = adapter.apply_mask(x, m)
    hidden = m[:, 0] == 0
    assert 0 < int(hidden.sum()) < hidden.numel()
    for c, value in enumerate(mean):
        assert torch.equal(out[:, c][hidden], torch.full_like(out[:, c][hidden], value))
        assert torch.equal(out[:, c][~hidden], x[:, c][~hidden])


def test_blur_fill_is_torchvision_gaussian_blur_at_hidden_pixels():
    # sigma 1 spans 4 pixels each side: a 9x9 kernel, which a 16x16 image holds without clipping.
    adapter = ImageAdapter((3, 16, 16), fill="blur", blur_sigma=1.0)
    x, m = rand(BATCH, 3, 16, 16), random_mask(BATCH, 16, 16)
    out = adapter.apply_mask(x, m)
    blurred = TF.gaussian_blur(x, kernel_size=[9, 9], sigma=[1.0, 1.0])
    hidden = (m == 0).expand_as(x)
    assert torch.equal(out[hidden], blurred[hidden])
    assert torch.equal(out[~hidden], x[~hidden])


@pytest.mark.parametrize(
    "shape", [(1, 28, 28), (3, 8, 8), (1, 5, 12), (1, 2, 2), (1, 1, 6), (2, 1, 1)], ids=lambda s: "x".join(map(str, s))
)
def test_blur_fill_is_a_local_average_for_any_image_size(shape):
    # A Gaussian blur is a convex combination of pixel values of the same channel: constant images stay constant
    # and hidden pixels lie within the channel's range, whatever kernel the image size allows.
    c, h, w = shape
    adapter = ImageAdapter(shape, fill="blur")
    hidden = torch.zeros(BATCH, 1, h, w)
    constant = torch.full((BATCH, c, h, w), 0.3)
    assert torch.allclose(adapter.apply_mask(constant, hidden), constant)
    x = rand(BATCH, c, h, w)
    out = adapter.apply_mask(x, hidden)
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    assert bool((out >= lo - 1e-6).all() and (out <= hi + 1e-6).all())


@pytest.mark.parametrize("fill", FILLS)
def test_every_fill_keeps_kept_pixels_and_backprops_to_the_mask(fill):
    adapter = ImageAdapter((3, 8, 8), fill=fill, **FILL_KWARGS[fill])
    x = rand(BATCH, 3, 8, 8)
    ones = torch.ones(BATCH, 1, 8, 8)
    assert torch.equal(adapter.apply_mask(x, ones), x)
    m = random_mask(BATCH, 8, 8).requires_grad_(True)
    (adapter.apply_mask(x, m) * rand(BATCH, 3, 8, 8, seed=3)).sum().backward()
    assert m.grad is not None and float(m.grad.abs().sum()) > 0


def test_kept_fraction_is_per_sample():
    adapter = ImageAdapter((1, 8, 8))
    mask = torch.zeros(BATCH, 1, 8, 8)
    for i in range(BATCH):
        mask[i].view(-1)[: 16 * i] = 1  # sample i keeps 16 * i of 64 pixels
    x = rand(BATCH, 1, 8, 8)
    assert adapter.valid_units(x) is None
    assert torch.allclose(adapter.kept_fraction(mask, None), torch.tensor([0.0, 0.25, 0.5, 0.75]))
    assert adapter.num_units(x) == 64
    assert adapter.mask_shape(x) == (BATCH, 1, 8, 8)


def test_kept_fraction_counts_only_valid_units():
    adapter = ImageAdapter((1, 2, 2))
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]).view(3, 1, 2, 2)
    valid = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]).view(3, 1, 2, 2)
    # sample 0: 1 of 2 valid kept; sample 1: 2 of 3; sample 2: no valid unit -> 0, not NaN
    expected = torch.tensor([1 / 2, 2 / 3, 0.0])
    assert torch.allclose(adapter.kept_fraction(mask, valid), expected)


# --- config -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fill", FILLS)
def test_image_adapter_config_rebuilds_an_equal_adapter(fill):
    adapter = ImageAdapter((3, 8, 8), fill=fill, **FILL_KWARGS[fill])
    config = json.loads(json.dumps(adapter.config()))  # JSON-serialisable, as checkpoints store it
    again = ADAPTERS.build("image", **config)
    assert isinstance(again, ImageAdapter)
    assert again.config() == adapter.config()
    assert torch.equal(again.mean, adapter.mean)
    x, m = rand(BATCH, 3, 8, 8), random_mask(BATCH, 8, 8)
    assert torch.equal(again.apply_mask(x, m), adapter.apply_mask(x, m))


@pytest.mark.parametrize("name", ADAPTERS.names("image"))
def test_every_registered_adapter_rebuilds_from_its_config(name):
    if name not in ADAPTER_EXAMPLES:
        pytest.fail(f"adapter {name!r} has no example in ADAPTER_EXAMPLES; add one so it is tested")
    kwargs, shape = ADAPTER_EXAMPLES[name]
    adapter = ADAPTERS.build(name, **kwargs)
    again = ADAPTERS.build(name, **json.loads(json.dumps(adapter.config())))
    assert again.config() == adapter.config()
    x = rand(BATCH, *shape)
    again.validate(x)
    mask = torch.ones(adapter.mask_shape(x))
    assert torch.equal(again.apply_mask(x, mask), x)
    assert torch.equal(again.apply_mask(x, 1 - mask), adapter.apply_mask(x, 1 - mask))
