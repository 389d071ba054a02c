"""``hnsx.benchmarks.compare``: the benchmarks on the user's own model and data, in one Python call.

::

    from hnsx.benchmarks import compare

    result = compare(model, (x_test, y_test), explainers=["hns", "integrated-gradients", "random"],
                     metrics=["faithfulness", "sanity"])
    print(result.table())
    result.save("bench-out")      # OUT/<metric>/results.json, report.md, report.html, plots; OUT/table.md

``model`` is a trained :class:`~hnsx.model.HideAndSeek` (its seeker is the classifier explained, its hider the
``hns`` row), or a classifier: any ``nn.Module`` ``(B, ...) -> (B, K)`` (``input_shape`` is read from the data) or a
Hugging Face sequence classifier (pass ``tokenizer=``), wrapped frozen by :func:`hnsx.wrap.wrap_classifier`, so the
post-hoc explainers explain exactly that model (the wrap's hider is untrained: ``hns`` is not among the default
explainers then). ``data`` is the evaluation data: a pair of tensors ``(inputs, labels)``, a ``TensorDataset``, any
torch ``Dataset`` of ``(input, label)`` pairs, a Hugging Face ``datasets.Dataset`` with ``text`` and ``label`` columns
(text, encoded with ``tokenizer``), or a pandas ``DataFrame`` for a tabular model (transformed by the model's schema;
``target=`` names the label column).

``metrics`` are benchmark names of :data:`METRICS` (those that need no retraining on the user's data); each runs
through the same :class:`~hnsx.benchmarks.runner.Benchmark` as ``hnsx bench NAME --checkpoint RUN``.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hnsx.benchmarks import common
from hnsx.benchmarks.results import format_mean_std, markdown_table
from hnsx.modality import modality_of
from hnsx.model import HideAndSeek

#: The benchmarks :func:`compare` runs, and the figures of each that :meth:`Comparison.table` shows.
METRICS = ("faithfulness", "sanity")
#: Figures of the table: ``(metric, results key, column title)``.
COLUMNS = (
    ("faithfulness", "deletion_auc", "deletion AUC ↓"),
    ("faithfulness", "insertion_auc", "insertion AUC ↑"),
    ("faithfulness", "aopc_comprehensiveness", "AOPC compr. ↑"),
    ("faithfulness", "aopc_sufficiency", "AOPC suff. ↓"),
)


@dataclass
class Comparison:
    """What :func:`compare` measured: ``results[metric]`` is that benchmark's ``results.json`` record; ``folder``
    holds every benchmark's files (``<metric>/results.json``, ``report.md``, ``report.html``, plots)."""

    results: dict[str, dict[str, Any]]
    folder: Path

    @property
    def explainers(self) -> list[str]:
        """Every explainer row of any metric, in order of appearance."""
        names: list[str] = []
        for record in self.results.values():
            names += [n for n in record.get("explainers", []) if n not in names]
        return names

    def table(self) -> str:
        """A Markdown table: one row per explainer, the main faithfulness figures (mean ± std over seeds) and,
        where sanity ran, each explainer's rank correlation after the last cascading randomisation step."""
        columns = [(m, k, t) for m, k, t in COLUMNS if m in self.results]
        rows = []
        for name in self.explainers:
            row = [name]
            for metric, key, _ in columns:
                stats = self.results[metric].get("metrics", {}).get(name, {}).get(key)
                row.append(format_mean_std(stats) if isinstance(stats, dict) else "")
            rows.append(row)
        return markdown_table(["explainer", *(t for _, _, t in columns)], rows)

    def save(self, out_dir: str | Path) -> Path:
        """Copy every benchmark's files into ``out_dir/<metric>/`` and write ``out_dir/table.md``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for metric in self.results:
            shutil.copytree(self.folder / metric, out / metric, dirs_exist_ok=True)
        (out / "table.md").write_text(self.table() + "\n")
        return out


def _tensors(data: Any, model: HideAndSeek, tokenizer: Any = None, target: str | None = None) -> TensorDataset:
    """``data`` (module docstring) as ``TensorDataset(inputs, labels)``."""
    if isinstance(data, TensorDataset):
        return data
    if isinstance(data, tuple | list) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"inputs and labels differ in length: {x.shape[0]} and {y.shape[0]}")
        return TensorDataset(x, y.long())
    if type(data).__name__ == "DataFrame":
        schema = getattr(model.adapter, "schema", None)
        if schema is None or target is None:
            raise ValueError("a DataFrame is tabular data: give a tabular model and target= (the label column)")
        if target not in data.columns:
            raise ValueError(f"the DataFrame has no label column {target!r}")
        x = torch.as_tensor(schema.transform(data.drop(columns=[target])), dtype=torch.float32)
        return TensorDataset(x, torch.as_tensor(data[target].to_numpy(), dtype=torch.int64))
    if hasattr(data, "column_names") and "text" in getattr(data, "column_names", ()):
        if tokenizer is None:
            raise ValueError("a datasets.Dataset of texts needs the model's tokenizer=")
        from hnsx.adapters.text.tokenize import encode_texts

        encoded = encode_texts(tokenizer, list(data["text"]), model.adapter.max_length)
        return TensorDataset(encoded.x, torch.as_tensor(list(data["label"]), dtype=torch.int64))
    if isinstance(data, Dataset):
        pairs = [data[i] for i in range(len(data))]
        if not pairs:
            raise ValueError("the dataset is empty")
        x = torch.stack([torch.as_tensor(p[0]) for p in pairs])
        return TensorDataset(x, torch.as_tensor([int(p[1]) for p in pairs], dtype=torch.int64))
    raise ValueError(
        f"cannot read data of type {type(data).__name__}: give (inputs, labels) tensors, a torch Dataset, "
        "a datasets.Dataset or a DataFrame"
    )


def _model(model: nn.Module, data: Any, tokenizer: Any, wrap: dict[str, Any]) -> tuple[HideAndSeek, bool]:
    """``model`` as a :class:`HideAndSeek` and whether its hider is trained (a classifier is wrapped, frozen)."""
    if isinstance(model, HideAndSeek):
        return model.eval(), True
    from hnsx.wrap import wrap_classifier

    if tokenizer is not None:
        wrapped, _ = wrap_classifier(model, tokenizer=tokenizer, freeze=True, **wrap)
    else:
        first = (
            data[0] if isinstance(data, tuple | list) else data.tensors[0] if isinstance(data, TensorDataset) else None
        )
        if not isinstance(first, torch.Tensor):
            raise ValueError("to wrap a classifier pass the data as tensors or a TensorDataset, or a tokenizer=")
        wrapped, _ = wrap_classifier(model, tuple(first.shape[1:]), freeze=True, **wrap)
    return wrapped.eval(), False


def compare(
    model: nn.Module,
    data: Any,
    *,
    explainers: Sequence[str] | None = None,
    metrics: Sequence[str] = ("faithfulness",),
    tokenizer: Any = None,
    target: str | None = None,
    rationale: torch.Tensor | None = None,
    wrap: dict[str, Any] | None = None,
    seeds: int = 1,
    samples: int = 100,
    out_dir: str | Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    **options: Any,
) -> Comparison:
    """Run ``metrics`` for ``explainers`` (plain names; default: every explainer of the model's modality, without
    ``hns`` for a wrapped classifier) on ``model`` and ``data`` (module docstring); ``samples`` inputs are explained.
    ``rationale`` ``(N, U)``: the known relevant units of each input, where planted (adds the ``oracle`` row and
    the rationale F1 / IoU of faithfulness). ``wrap``: options of :func:`hnsx.wrap.wrap_classifier` for a classifier
    (images: ``fill="mean", mean=[...]``: what a removed pixel becomes). ``options`` are further fields of each
    benchmark's configuration (e.g. ``explainer_options``). The files go to
    ``out_dir`` (default: a temporary folder, removed at exit; :meth:`Comparison.save` copies them)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metric(s) {', '.join(unknown) or '(none)'}; choose from: {', '.join(METRICS)}")
    hns, trained = _model(model, data, tokenizer, dict(wrap or {}))
    modality = modality_of(hns.adapter).name
    test = _tensors(data, hns, tokenizer, target)
    names = list(explainers) if explainers is not None else common.explainer_names(modality)
    if not trained:
        if "hns" in (explainers or ()):
            raise ValueError("the hns explainer needs a trained Hide-and-Seek model, not a wrapped classifier")
        names = [n for n in names if n != "hns"]
    common.check_explainers(modality, names)
    num_classes = int(hns.num_classes)
    bench = common.BenchData(
        modality=modality,
        name=f"{type(model).__name__} on {len(test)} inputs",
        train=test,
        test=test,
        num_classes=num_classes,
        input_shape=tuple(test.tensors[0].shape[1:]),
        spec=None,
        adapter=hns.adapter.eval(),
        trained=hns,
        test_rationale=_rationale(rationale, len(test)),
    )
    folder = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="hnsx-compare-"))
    if out_dir is None:
        import atexit

        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    results = {}
    for metric in metrics:
        benchmark = _benchmark(metric)
        settings = {"seeds": seeds, "samples": samples, "explainers": tuple(names), "device": device}
        settings.update(progress=progress, threads=torch.get_num_threads(), **options)
        if metric == "sanity":
            settings.setdefault("data_randomisation", False)  # retraining needs the model's spec
        config = benchmark.default_config(modality, quick=True, **settings)
        config = dataclasses.replace(config, explainers=tuple(names))
        results[metric] = benchmark.run_config(config, folder / metric, data=bench)
        benchmark.write_html(folder / metric, bench, config, results[metric], None)
    return Comparison(results=results, folder=folder)


def _rationale(rationale: torch.Tensor | None, n: int) -> torch.Tensor | None:
    if rationale is None:
        return None
    rationale = torch.as_tensor(rationale).float().reshape(n, -1) if len(rationale) == n else None
    if rationale is None:
        raise ValueError(f"rationale= needs one row per input ({n})")
    return rationale


def _benchmark(metric: str):
    from importlib import import_module

    return import_module(f"hnsx.benchmarks.{metric}").BENCHMARK


__all__ = ["COLUMNS", "METRICS", "Comparison", "compare"]
