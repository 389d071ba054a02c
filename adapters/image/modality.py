"""The image modality: what the CLI, the training pipeline and the benchmarks need to know about images."""

from __future__ import annotations

from typing import Any

import torch

from hnsx.adapters.image.adapter import ImageAdapter
from hnsx.modality import MODALITIES, Modality


@MODALITIES.register("image")
class ImageModality(Modality):
    """Pixel masks ``(B, 1, H, W)`` over images ``(B, C, H, W)`` in [0, 1]."""

    adapter = "image"
    default_hider = "pyramid"
    default_seeker = "small-cnn"
    default_dataset = "mnist-embedded"
    bench_module = "hnsx.adapters.image.bench"
    pretrains_hider = True
    mask_blocks = ImageAdapter.mask_blocks
    commands_module = "hnsx.adapters.image.commands"
    explains_contrast = True

    def wrap(self, classifier: Any, input_shape: Any = None, *, freeze: bool = False, **options: Any) -> Any:
        from hnsx.adapters.image.wrap import wrap_image_classifier

        return wrap_image_classifier(classifier, input_shape, freeze=freeze, **options)

    def example(self, hider: str | None = None, seeker: str | None = None, *, num_classes: int = 3) -> Any:
        from hnsx.adapters.image.spec import image_spec

        shape = (3, 32, 32)
        spec = image_spec(shape, num_classes, hider=hider or self.default_hider, seeker=seeker or self.default_seeker)
        return spec, torch.rand(4, *shape, generator=torch.Generator().manual_seed(0))
