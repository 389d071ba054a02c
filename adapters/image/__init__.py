"""Image modality: pixel masks ``(B, 1, H, W)``, conv-autoencoder and U-Net hiders, CNN and ResNet seekers."""

from hnsx.adapters.image.adapter import FILLS, ImageAdapter
from hnsx.adapters.image.hiders import ConvAutoencoderHider, UNetHider
from hnsx.adapters.image.modality import ImageModality
from hnsx.adapters.image.seekers import SmallCNN, resnet_seeker

__all__ = ["ImageModality", "FILLS", "ConvAutoencoderHider", "ImageAdapter", "SmallCNN", "UNetHider", "resnet_seeker"]
