"""The image modality: what the CLI, the training pipeline and the benchmarks need to know about image inputs."""

from __future__ import annotations

from hnsx.modality import MODALITIES, Modality


@MODALITIES.register("image")
class ImageModality(Modality):
    adapter = "image"
    default_hider = "pyramid"
    default_seeker = "small-cnn"
    default_dataset = "mnist-embedded"
    bench_module = "hnsx.adapters.image.bench"
