"""Image hiders: a light pyramid hider (the default), the paper's convolutional autoencoder (Fig. 2, small and
large) and a U-Net.

Every hider maps ``(B, C, H, W)`` images to mask logits ``(B, 1, H, W)``; the last layer is a 1x1 convolution
(paper 5.2) whose bias starts at ``init_keep_logit`` so that a fresh hider keeps most pixels (``sigmoid(1) ~ 0.73``)
and the seeker sees the images while alpha is still near 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from hnsx.registry import HIDERS


def _down_size(n: int, stages: int) -> int:
    for _ in range(stages):
        n = (n + 1) // 2  # conv k3 s2 p1
    return n


class ConvAutoencoderHider(nn.Module):
    """Convolutional autoencoder hider (paper Fig. 2): strided conv encoder, fully connected bottleneck,
    transposed-conv decoder, 1x1 output convolution.

    Parameters
    ----------
    input_shape:
        ``(C, H, W)``; the bottleneck is sized from it.
    channels:
        Output channels of each stride-2 encoder convolution; the decoder mirrors them.
    latent:
        Width of the fully connected bottleneck (two linear layers: down to ``latent`` and back).
    init_keep_logit:
        Initial bias of the output layer.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64),
        latent: int = 64,
        init_keep_logit: float = 1.0,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in input_shape)
        self.input_shape = (c, h, w)
        chans = [c, *channels]
        enc: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            enc += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*enc)
        self.code_shape = (chans[-1], _down_size(h, len(channels)), _down_size(w, len(channels)))
        flat = self.code_shape[0] * self.code_shape[1] * self.code_shape[2]
        self.bottleneck = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, latent),
            nn.ReLU(inplace=True),
            nn.Linear(latent, flat),
            nn.ReLU(inplace=True),
        )
        # The decoder mirrors the encoder: (32, 64) down gives 64 -> 32 -> 16 up, then the 1x1 head.
        widths = [*reversed(channels), max(channels[0] // 2, 8)]
        dec: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            dec += [
                nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.decoder = nn.Sequential(*dec)
        last = widths[-1]
        self.head = nn.Conv2d(last, 1, 1)
        nn.init.constant_(self.head.bias, init_keep_logit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        z = self.bottleneck(z).view(x.shape[0], *self.code_shape) + z
        z = self.decoder(z)
        if z.shape[-2:] != x.shape[-2:]:
            z = F.interpolate(z, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(z)


def _pyramid_stages(h: int, w: int, coarsest: int = 7, max_stages: int = 4) -> int:
    """How many stride-2 stages bring the shorter side of an ``h x w`` input down to about ``coarsest`` pixels."""
    n, stages = min(h, w), 0
    while stages < max_stages and (n + 1) // 2 >= coarsest:
        n, stages = (n + 1) // 2, stages + 1
    return max(stages, 1)


class PyramidHider(nn.Module):
    """A light hider sized to the input: pixel-level mask logits for a fraction of a small seeker's cost.

    A stride-2 convolutional encoder (``stages`` levels, picked from the input size so that the coarsest map is
    about 7 pixels wide, at most 4) with a global-context vector added at the coarsest level. Every level after
    the first gives a logit map through a 1x1 head; the maps are summed from coarse to fine, upsampling bilinearly
    (a feature-pyramid sum of logits). The first level, at half resolution, gives 4 logits per position that a
    pixel shuffle spreads over the 2x2 pixels it covers, so every pixel gets its own logit while nothing runs at
    full resolution: the mask is pixel-level at a small fraction of a seeker's cost.

    Parameters
    ----------
    input_shape:
        ``(C, H, W)``; the number of stages is derived from ``H`` and ``W`` unless ``stages`` is given.
    width:
        Channels of the first stage; later stages use ``2 * width``.
    stages:
        Number of stride-2 stages (default: from the input size).
    init_keep_logit:
        Initial bias of the pixel logits, so that a fresh hider keeps most pixels.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        width: int = 16,
        stages: int | None = None,
        init_keep_logit: float = 1.0,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in input_shape)
        self.input_shape = (c, h, w)
        n = _pyramid_stages(h, w) if stages is None else int(stages)
        if n < 1:
            raise ValueError(f"PyramidHider needs at least one stage, got stages={stages}")
        widths = [width] + [2 * width] * (n - 1)
        self.stages = nn.ModuleList()
        cin = c
        for cout in widths:
            self.stages.append(
                nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
            )
            cin = cout
        self.context = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(inplace=True))
        self.coarse = nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1), nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.heads = nn.ModuleList([nn.Conv2d(cout, 1, 1) for cout in widths[1:]])
        self.fine = nn.Conv2d(widths[0], 4, 1)  # 2x2 pixels per half-resolution position
        for head in self.heads:
            nn.init.zeros_(head.bias)
        nn.init.constant_(self.fine.bias, init_keep_logit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        feats = []
        z = x
        for stage in self.stages:
            z = stage(z)
            feats.append(z)
        feats[-1] = self.coarse(z + self.context(z.mean(dim=(2, 3)))[:, :, None, None])
        coarse = None
        for head, feat in zip(reversed(self.heads), reversed(feats[1:])):
            level = head(feat)
            up = None if coarse is None else F.interpolate(coarse, size=level.shape[-2:], mode="bilinear")
            coarse = level if up is None else up + level
        logits = F.pixel_shuffle(self.fine(feats[0]), 2)  # (B, 1, 2 * ceil(H / 2), 2 * ceil(W / 2))
        if coarse is not None:
            logits = logits + F.interpolate(coarse, size=logits.shape[-2:], mode="bilinear")
        return logits[..., :h, :w]


class UNetHider(nn.Module):
    """A small U-Net hider: ``depth`` pooling levels with skip connections; any input size.

    Parameters
    ----------
    input_shape:
        ``(C, H, W)``.
    base_channels:
        Channels of the first level; each level doubles them.
    depth:
        Number of 2x down-sampling levels.
    init_keep_logit:
        Initial bias of the output layer.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        base_channels: int = 16,
        depth: int = 2,
        init_keep_logit: float = 1.0,
    ) -> None:
        super().__init__()
        c = int(input_shape[0])
        self.input_shape = tuple(int(s) for s in input_shape)
        self.depth = depth

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            )

        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.downs = nn.ModuleList([block(c, widths[0])] + [block(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))]
        )
        self.merges = nn.ModuleList([block(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], 1, 1)
        nn.init.constant_(self.head.bias, init_keep_logit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        mult = 2**self.depth
        pad_h, pad_w = (-h) % mult, (-w) % mult
        z = F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x
        skips = []
        for i, down in enumerate(self.downs):
            z = down(z)
            if i < self.depth:
                skips.append(z)
                z = F.max_pool2d(z, 2)
        for up, merge in zip(self.ups, self.merges):
            z = merge(torch.cat([up(z), skips.pop()], dim=1))
        return self.head(z)[..., :h, :w]


@HIDERS.register("conv-autoencoder")
def conv_autoencoder(*, input_shape: Sequence[int], size: str = "small", **kwargs) -> ConvAutoencoderHider:
    """The paper's conv-autoencoder hider. ``size="small"``: 2 down convs, 2 FC, 2 up convs, 1x1 conv;
    ``size="large"``: 5 down convs (32 to 512 channels), 2 FC, 5 up convs, 1x1 conv."""
    presets = {
        "small": {"channels": (32, 64), "latent": 64},
        "large": {"channels": (32, 64, 128, 256, 512), "latent": 512},
    }
    if size not in presets:
        raise ValueError(f"unknown conv-autoencoder size {size!r}; choose 'small' or 'large'")
    return ConvAutoencoderHider(input_shape, **{**presets[size], **kwargs})


@HIDERS.register("pyramid")
def pyramid(*, input_shape: Sequence[int], **kwargs) -> PyramidHider:
    """The light pyramid hider (the default): pixel-level logits at a fraction of a small seeker's cost."""
    return PyramidHider(input_shape, **kwargs)


@HIDERS.register("unet")
def unet(*, input_shape: Sequence[int], **kwargs) -> UNetHider:
    """A U-Net hider (any input size)."""
    return UNetHider(input_shape, **kwargs)
