"""Image seekers: the paper's small CNN and torchvision ResNets. Any ``nn.Module`` classifier works too."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hnsx.registry import SEEKERS


class SmallCNN(nn.Module):
    """The paper's small seeker: 3 convolutions and 1 fully connected layer (paper 5.3).

    ``(B, C, H, W) -> (B, num_classes)``; any input size (adaptive pooling to 3x3 before the classifier).
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(3),
        )
        self.classifier = nn.Linear(4 * w * 9, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


@SEEKERS.register("small-cnn")
def small_cnn(*, input_shape: Sequence[int], num_classes: int, width: int = 32) -> SmallCNN:
    return SmallCNN(int(input_shape[0]), num_classes, width=width)


@SEEKERS.register("resnet")
def resnet_seeker(
    *, input_shape: Sequence[int], num_classes: int, depth: int = 18, weights: str | None = None
) -> nn.Module:
    """A torchvision ResNet (18/34/50) with its first layer and classifier fitted to the data.

    ``weights`` is a torchvision weights name (e.g. ``"DEFAULT"``), downloaded by torchvision on first use;
    ``None`` builds an untrained network. Inputs smaller than 64 pixels get a 3x3 stem without max-pooling.
    """
    from torchvision import models

    builders = {18: models.resnet18, 34: models.resnet34, 50: models.resnet50}
    if depth not in builders:
        raise ValueError(f"ResNet depth must be one of {sorted(builders)}, got {depth}")
    net = builders[depth](weights=weights)
    c, h, w = (int(s) for s in input_shape)
    if c != 3 or min(h, w) < 64:
        small = min(h, w) < 64
        net.conv1 = nn.Conv2d(c, 64, 3 if small else 7, stride=1 if small else 2, padding=1 if small else 3, bias=False)
        if small:
            net.maxpool = nn.Identity()
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net
