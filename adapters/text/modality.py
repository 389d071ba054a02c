"""The text modality: what the CLI, the training pipeline and the benchmarks need to know about text inputs."""

from __future__ import annotations

from hnsx.modality import MODALITIES, Modality


@MODALITIES.register("text")
class TextModality(Modality):
    adapter = "text"
    default_hider = "token-masker"
    default_seeker = "tiny-bert"
    default_dataset = "sentiment-generated"
    bench_module = "hnsx.adapters.text.bench"
