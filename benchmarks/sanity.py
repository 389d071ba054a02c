"""``hnsx bench sanity``: the sanity checks of Adebayo et al. (2018), "Sanity checks for saliency maps".

An explanation that does not change when the model's parameters or the training labels are randomised cannot be
explaining what the model learned. Three tests, each comparing the attributions of the trained model with those of
a changed copy, per sample, on the same eval inputs and for the same target (the class the *trained* model
predicts, so that a change of predicted class does not by itself change the map):

* **cascading model randomisation**: re-initialise the layers one group at a time from the top (the logits) down,
  cumulatively, with each layer's own ``reset_parameters()``; compare after each step.
* **independent model randomisation**: re-initialise one group at a time, the rest trained.
* **data randomisation**: train the same architecture on shuffled training labels, compare.

Hide-and-Seek's explanation is the hider's keep probability; the seeker only reads the masked input. So two
randomisations are reported for HnS: ``hns (seeker randomised)``, the seeker re-initialised top-down with the
hider untouched (the explanation cannot change: it passes trivially and says nothing about the hider), and
``hns (hider randomised)``, the hider re-initialised cascading from its output layer down, the seeker untouched.
The Captum explainers explain a classifier (see :func:`run_sanity` for which) and that classifier is randomised.

Layer groups and their re-initialisation: :mod:`hnsx.benchmarks.randomise`; the similarity of two maps (Spearman,
absolute and signed, and SSIM): :mod:`hnsx.benchmarks.similarity`.

Figures are the mean over samples; the report gives mean +- std over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hnsx.benchmarks import common
from hnsx.benchmarks.hooks import hooks
from hnsx.benchmarks.randomise import cascade, layer_groups, randomise_groups
from hnsx.benchmarks.reports import sanity as reports_module
from hnsx.benchmarks.reports.sanity import HNS_HIDER, HNS_SEEKER, format_report, save_plots
from hnsx.benchmarks.results import aggregate
from hnsx.benchmarks.runner import ConfiguredBenchmark
from hnsx.benchmarks.similarity import similarity
from hnsx.model import HideAndSeek

# --- the benchmark ------------------------------------------------------------------------------------------------

#: The modalities this benchmark runs on (``hnsx bench --modality``).
MODALITIES = None
#: Runs on the user's data and model (``--data-file``, ``--dataset``, ``--checkpoint``).
USER_DATA = True

#: First step of every curve: the unchanged model explained a second time (1 for deterministic methods, below 1 for
#: the noisy ones such as SmoothGrad: their own noise floor).
UNCHANGED = "none"


#: Explainer settings of the full run: every input is explained about a dozen times (each randomisation step), so
#: Integrated Gradients takes 25 steps and SmoothGrad / VarGrad 10 noisy copies (their registry defaults: 50, 20).
SANITY_OPTIONS: dict[str, dict[str, Any]] = {
    "integrated-gradients": {"n_steps": 25},
    "smoothgrad-sq": {"nt_samples": 10},
    "vargrad": {"nt_samples": 10},
}


@dataclass(frozen=True)
class SanityConfig:
    """What ``hnsx bench sanity`` measures; the defaults are the full run (``--quick``: :data:`QUICK`).

    ``samples`` test inputs (the same for every seed) are explained; each seed trains a Hide-and-Seek model (and,
    with ``data_randomisation``, a second one on shuffled training labels). The Captum explainers explain the
    Hide-and-Seek model's seeker. ``explainers``: plain names (``None``: every explainer of the modality except
    ``random``, whose noise depends on no parameter). ``independent``: also the one-group-at-a-time test.
    """

    modality: str = "image"
    seeds: int = 3
    samples: int = 64
    explainers: tuple[str, ...] | None = None
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(SANITY_OPTIONS))
    hns_epochs: int | None = None
    independent: bool = True
    data_randomisation: bool = True
    quick_data: bool = False
    batch_size: int = 100
    device: str = "cpu"
    threads: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("samples", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


#: ``--quick`` (a few minutes on 2 cores): the quick data subsets, cheaper Integrated Gradients, SmoothGrad and
#: VarGrad, and no independent randomisation (cascading and data only); the modalities set fewer samples and epochs.
QUICK: dict[str, Any] = {
    "independent": False,  # the full run has it; it nearly doubles the explaining
    "quick_data": True,
    "explainer_options": {
        "integrated-gradients": {"n_steps": 16},
        "smoothgrad-sq": {"nt_samples": 8},
        "vargrad": {"nt_samples": 8},
    },
}


class _Attributor:
    """Attributions of the fixed inputs for the fixed targets by the chosen explainers of a (changed) model."""

    def __init__(self, data, inputs: torch.Tensor, target: torch.Tensor, config: SanityConfig, seed: int) -> None:
        self.data, self.inputs, self.target, self.config, self.seed = data, inputs, target, config, seed
        self.valid = data.adapter.valid_units(inputs)
        self.image = hooks(data.modality).SPATIAL_MAPS

    def __call__(self, classifier: nn.Module, hns: HideAndSeek, names: Sequence[str]) -> dict[str, torch.Tensor]:
        explainers = common.build_explainers(
            self.data, classifier, hns, names, options=self.config.explainer_options, seed=self.seed
        )
        out = {}
        for name, explainer in explainers.items():
            parts = []
            for start in range(0, self.inputs.shape[0], self.config.batch_size):
                x = self.inputs[start : start + self.config.batch_size]
                t = self.target[start : start + self.config.batch_size]
                parts.append(explainer.attribute(x, t.clone()).detach().float().cpu())
            out[name] = torch.cat(parts)
        return out

    def compare(self, base: dict[str, torch.Tensor], changed: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
        """Per explainer: each similarity metric's mean over the samples."""
        valid = None if self.valid is None else self.valid.cpu()
        return {
            name: {k: float(np.mean(v)) for k, v in similarity(base[name], changed[name], valid, self.image).items()}
            for name in changed
        }


def _with(model: HideAndSeek, *, hider: nn.Module | None = None, seeker: nn.Module | None = None) -> HideAndSeek:
    """A Hide-and-Seek model sharing ``model``'s parts except the given ones (the original is untouched)."""
    return HideAndSeek(
        hider if hider is not None else model.hider,
        model.binarizer,
        seeker if seeker is not None else model.seeker,
        model.adapter,
        num_classes=model.num_classes,
    ).eval()


def _short(group: str, groups: Sequence[str]) -> str:
    """``group`` without the dotted prefix all groups share (``model.bert.encoder.layer.1`` -> ``bert.encoder...``)."""
    prefix = ""
    while True:
        heads = {g[len(prefix) :].split(".", 1)[0] for g in groups}
        if len(heads) != 1 or any("." not in g[len(prefix) :] for g in groups):
            return group[len(prefix) :]
        prefix += heads.pop() + "."


def _row(name: str) -> str:
    return HNS_SEEKER if name == "hns" else name


def _randomisation(
    attributor: _Attributor,
    model: HideAndSeek,
    base: dict[str, torch.Tensor],
    names: Sequence[str],
    mode: str,
    seed: int,
    bar: tqdm,
) -> dict[str, Any]:
    """Cascading (``mode="cascading"``) or independent randomisation of the seeker and of the hider."""
    out: dict[str, Any] = {}
    for part in ("seeker", "hider"):
        module = getattr(model, part)
        groups = [g for g, _ in layer_groups(module)]
        steps = cascade(groups) if mode == "cascading" else [[g] for g in reversed(groups)]
        labels = [UNCHANGED] + [_short(s[-1], groups) for s in steps]
        wanted = list(names) if part == "seeker" else ["hns"]
        if part == "hider" and "hns" not in names:
            continue
        rows: dict[str, dict[str, list[float]]] = {}
        for step in [[], *steps]:
            changed_part = randomise_groups(module, step, seed) if step else module
            changed_model = _with(model, **{part: changed_part})
            classifier = changed_model.seeker
            scores = attributor(classifier, changed_model, wanted)
            for name, sims in attributor.compare(base, scores).items():
                row = rows.setdefault(_row(name) if part == "seeker" else HNS_HIDER, {})
                for metric, value in sims.items():
                    row.setdefault(metric, []).append(value)
            bar.update()
        out[part] = {"steps": labels, "groups": dict(layer_groups(module)), "rows": rows}
    return out


def _shuffled(data, seed: int):
    """``data`` with its training labels permuted (seeded); the test split is unchanged."""
    from torch.utils.data import TensorDataset

    inputs, labels = data.train.tensors
    perm = torch.randperm(labels.shape[0], generator=torch.Generator().manual_seed(10_000 + seed))
    return data.with_splits(TensorDataset(inputs, labels[perm]), data.test)


def evaluate_seed(data, config: SanityConfig, seed: int) -> dict[str, Any]:
    """One seed: train the model(s), then every test's per-step similarities (means over the samples)."""
    # baseline_epochs=1: Fidelity's reference seeker is not used here, so it gets the least training allowed.
    train = {"epochs": config.hns_epochs, "progress": config.progress, "device": config.device, "baseline_epochs": 1}
    model = common.hns_model(data, seed=seed, **train)
    device = next(model.parameters()).device
    inputs = data.test.tensors[0][: config.samples].to(device)
    with torch.inference_mode():
        target = model.seeker(inputs).argmax(1)
    names = sanity_explainers(data.modality, config.explainers)
    attributor = _Attributor(data, inputs, target, config, seed)
    n_seeker = len(layer_groups(model.seeker))
    n_hider = len(layer_groups(model.hider))
    total = (1 + (n_seeker + 1 + n_hider + 1) * (2 if config.independent else 1)) + config.data_randomisation
    bar = tqdm(total=total, desc=f"sanity seed {seed}", disable=not config.progress)
    base = attributor(model.seeker, model, names)
    bar.update()
    result: dict[str, Any] = {"cascading": _randomisation(attributor, model, base, names, "cascading", seed, bar)}
    if config.independent:
        result["independent"] = _randomisation(attributor, model, base, names, "independent", seed, bar)
    result["accuracy"] = common.accuracy(model.seeker, data.test)
    if config.data_randomisation:
        shuffled = common.train_hns(_shuffled(data, seed), seed=seed, **train)
        scores = attributor(shuffled.seeker, shuffled, names)
        result["data"] = {"rows": attributor.compare(base, scores)}
        result["shuffled_accuracy"] = common.accuracy(shuffled.seeker, data.test)
        bar.update()
    bar.close()
    return result


def sanity_explainers(modality: str, names: Sequence[str] | None) -> list[str]:
    """The explainers of the sanity checks: ``names`` checked, or all of ``modality``'s except ``random``."""
    if names is None:
        names = [n for n in common.explainer_names(modality, defaults_only=True) if n != "random"]
    return common.check_explainers(modality, list(names))


class Sanity(ConfiguredBenchmark):
    """``hnsx bench sanity`` on the shared runner (one seed: :func:`evaluate_seed`)."""

    name = "sanity"
    reports = reports_module
    config_class = SanityConfig
    defaults = {True: QUICK}
    outputs = "the sanity_*.png plots"

    def load_data(self, modality: str, config: SanityConfig, *, quick: bool = False) -> Any:
        return common.load_bench_data(modality, quick=config.quick_data)

    def evaluate_seed(self, data, config: SanityConfig, seed: int) -> dict[str, Any]:
        return evaluate_seed(data, config, seed)

    def explainer_names(self, config: SanityConfig) -> list[str]:
        return sanity_explainers(config.modality, config.explainers)

    def summarise(self, seeds: list[int], per_seed: list[dict]) -> dict[str, Any]:
        """Mean +- std over seeds of every similarity and accuracy; the step labels and layer groups as they are."""
        first, out = per_seed[0], {}
        for test in ("cascading", "independent"):
            if test in first:
                out[test] = {
                    part: {
                        **{k: run[k] for k in ("steps", "groups")},
                        "rows": aggregate([r[test][part]["rows"] for r in per_seed]),
                    }
                    for part, run in first[test].items()
                }
        if "data" in first:
            out["data"] = {"rows": aggregate([r["data"]["rows"] for r in per_seed])}
        return {**out, **aggregate([{k: r[k] for k in ("accuracy", "shuffled_accuracy") if k in r} for r in per_seed])}

    def record(self, data, config: SanityConfig, seeds, per_seed) -> dict[str, Any]:
        names = self.explainer_names(config)
        rows = {"seeker": [_row(n) for n in names], "hider": [HNS_HIDER] if "hns" in names else []}
        return {**super().record(data, config, seeds, per_seed), "rows": rows}


BENCHMARK = Sanity()
main = BENCHMARK.main


def run_sanity(config: SanityConfig, out_dir: str | Path, *, data: Any = None) -> dict[str, Any]:
    """Run the sanity checks and write ``results.json``, ``report.md`` and the ``sanity_*.png`` plots (``data``:
    the data already loaded; default :meth:`Sanity.load_data`)."""
    return BENCHMARK.run_config(config, out_dir, data=data)


__all__ = [
    "BENCHMARK",
    "HNS_HIDER",
    "HNS_SEEKER",
    "MODALITIES",
    "SanityConfig",
    "evaluate_seed",
    "format_report",
    "main",
    "run_sanity",
    "save_plots",
]
