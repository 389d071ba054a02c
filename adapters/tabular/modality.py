"""The tabular modality: what the CLI, the training pipeline and the benchmarks need to know about tabular inputs."""

from __future__ import annotations

from hnsx.modality import MODALITIES, Modality


@MODALITIES.register("tabular")
class TabularModality(Modality):
    adapter = "tabular"
    default_hider = "tabular-mlp"
    default_seeker = "tabular-mlp"
    default_dataset = "breast-cancer"
    bench_module = "hnsx.adapters.tabular.bench"
