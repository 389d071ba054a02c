"""The tabular modality: what the CLI, the training pipeline and the benchmarks need to know about tabular inputs."""

from __future__ import annotations

from typing import Any

from hnsx.modality import MODALITIES, Modality


@MODALITIES.register("tabular")
class TabularModality(Modality):
    """Feature masks ``(B, F)`` over rows encoded by a fitted schema."""

    adapter = "tabular"
    default_hider = "tabular-mlp"
    default_seeker = "tabular-mlp"
    default_dataset = "breast-cancer"
    bench_module = "hnsx.adapters.tabular.bench"
    commands_module = "hnsx.adapters.tabular.commands"

    def example(self, hider: str | None = None, seeker: str | None = None, *, num_classes: int = 3) -> Any:
        import numpy as np
        import torch

        from hnsx.adapters.tabular.schema import TabularSchema
        from hnsx.adapters.tabular.spec import tabular_spec

        rng = np.random.default_rng(0)
        table = np.column_stack([rng.normal(size=12), rng.integers(0, 3, size=12), rng.normal(size=12)])
        schema = TabularSchema.fit(table, categorical=[1])
        spec = tabular_spec(
            schema, num_classes, hider=hider or self.default_hider, seeker=seeker or self.default_seeker
        )
        return spec, torch.from_numpy(schema.transform(table[:4]))
