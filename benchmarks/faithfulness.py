"""``hnsx bench faithfulness``: how much the classifier's output depends on the units an explainer ranks first,
measured without retraining.

Every explainer gives one score per mask unit (pixel, word, feature); units are ranked by score (ties broken at
random, seeded; units that are not valid, such as the empty word slots of a short sentence, are never ranked). A
*hidden* unit takes the adapter's fill (the per-channel training mean for images, the mask token's embedding for
text, the training mean or a "missing" code for tables), exactly as in Hide-and-Seek training. What is tracked is
the softmax probability, under the explained classifier, of the class it predicts on the full input.

Metrics (:mod:`hnsx.benchmarks.metrics`, each with its direction; per sample, then mean over samples; the report
gives mean +- std over seeds):

* **deletion AUC** (lower is better): hide the top ``f`` of the units for ``f`` on a grid of ``steps + 1`` points
  from 0 to 1 (``k = round(f * n)`` of the sample's ``n`` valid units) and take the area under the probability curve
  by the trapezoid rule over the fraction axis, so that the AUC lies in [0, 1].
* **insertion AUC** (higher is better): the same with only the top ``f`` kept (the rest filled).
* **comprehensiveness** at ``f`` (ERASER, DeYoung et al. 2020; higher is better): ``p(x) - p(x without the top
  f)``; **sufficiency** at ``f`` (lower is better): ``p(x) - p(only the top f of x)``; with ``k = max(1, round(f *
  n))`` units at ``f`` in :data:`BINS` = {1, 5, 10, 20, 50} %. **AOPC** (comprehensiveness and sufficiency) is their
  mean over the bins.
* For Hide-and-Seek also its **binary mask as a set** (``hns-mask``): comprehensiveness and sufficiency of the
  units the mask keeps, at its own kept fraction (reported beside them).
* **rationale F1 / IoU** where the ground truth is known (text: the generated corpus's sentiment word and negator;
  tabular: the switch table's relevant features, the switch column left out as in
  :func:`hnsx.adapters.tabular.synthetic.selection_scores`): the top ``k`` units with ``k`` the sample's number of
  true units (then precision = recall = F1), and HnS's own mask as a set; per sample, averaged over the samples that
  have a true unit.

Which classifier is explained: see :func:`run_faithfulness`; with ``--checkpoint RUN`` (or a model given to
:func:`hnsx.benchmarks.compare`) it is that model's seeker, and that model's hider is the ``hns`` row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hnsx.benchmarks import common
from hnsx.benchmarks.hooks import hooks, modality_settings
from hnsx.benchmarks.html import Section
from hnsx.benchmarks.metrics import (
    BINS,
    Comprehensiveness,
    Deletion,
    Insertion,
    ProbFn,
    Sufficiency,
    mask_scores,
    rationale_top_k,
    set_overlap,
)
from hnsx.benchmarks.ranking import ranking_scores
from hnsx.benchmarks.removal import remove_units
from hnsx.benchmarks.reports import faithfulness as reports_module
from hnsx.benchmarks.reports.faithfulness import HNS_MASK, format_report, save_plots
from hnsx.benchmarks.results import aggregate
from hnsx.benchmarks.runner import ConfiguredBenchmark

#: Every modality with benchmark hooks.
MODALITIES = None
#: Runs on the user's data and model (``--data-file``, ``--dataset``, ``--checkpoint``).
USER_DATA = True

#: The row of the ground-truth ranking (text and tabular switch only): its scores are the true units.
ORACLE = "oracle"
#: Which classifier is explained and measured: the Hide-and-Seek model's seeker (default) or a plain classifier of
#: the same architecture trained alone (``independent``).
CLASSIFIERS = ("hns-seeker", "independent")
#: Result keys of the metrics' curves.
CURVES = {"deletion": "deletion_curve", "insertion": "insertion_curve"}
#: ``--quick``: fewer fraction steps, the quick data subsets, cheaper Integrated Gradients and SmoothGrad (the
#: modalities set fewer samples and epochs).
QUICK: dict[str, Any] = {
    "steps": 10,
    "quick_data": True,
    "explainer_options": {
        "integrated-gradients": {"n_steps": 16},
        "smoothgrad-sq": {"nt_samples": 8},
        "vargrad": {"nt_samples": 8},
    },
}


@dataclass(frozen=True)
class FaithfulnessConfig:
    """What ``hnsx bench faithfulness`` measures; the defaults are the full run (``--quick``: :data:`QUICK`).

    ``samples`` test inputs (the first of the fixed test split, the same for every seed) are explained; each seed
    trains a new Hide-and-Seek model (and, with ``classifier="independent"``, a new classifier). ``explainers``:
    plain names of :func:`hnsx.benchmarks.common.explainer_names` (``None``: all of the modality);
    ``explainer_options``: extra builder arguments per name. ``hns_epochs``: joint epochs (``None``: the recipe).
    ``dataset``: a data set of the modality (``None``: the modality's ``faithfulness`` setting, else its default;
    tabular runs on the switch table, whose relevant features are known).
    """

    modality: str = "image"
    seeds: int = 3
    samples: int = 250
    steps: int = 20
    bins: tuple[float, ...] = BINS
    explainers: tuple[str, ...] | None = None
    explainer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    hns_epochs: int | None = None
    classifier: str = "hns-seeker"
    dataset: str | None = None
    quick_data: bool = False
    batch_size: int = 100
    device: str = "cpu"
    threads: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"unknown classifier {self.classifier!r}; choose one of: {', '.join(CLASSIFIERS)}")
        for name in ("samples", "steps", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.bins or any(not 0.0 < b <= 1.0 for b in self.bins):
            raise ValueError(f"bins must be fractions in (0, 1], got {self.bins}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


def _batches(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _prob_fn(data, classifier: nn.Module) -> ProbFn:
    def fn(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return classifier(remove_units(data, x, mask)).float().softmax(1)

    return fn


def _seed_models(data, config: FaithfulnessConfig, seed: int) -> tuple[Any, nn.Module]:
    progress = config.progress
    # baseline_epochs=1: Fidelity's reference seeker is not used here, so it gets the least training allowed.
    model = common.hns_model(
        data, seed=seed, epochs=config.hns_epochs, progress=progress, device=config.device, baseline_epochs=1
    )
    if config.classifier == "hns-seeker":
        return model, model.seeker.eval()
    return model, common.train_seeker(data, seed=seed, progress=progress, device=config.device)


#: Test inputs whose maps ``report.html`` shows per explainer.
EXAMPLES = 4


def evaluate_seed(
    data, config: FaithfulnessConfig, seed: int, examples: dict[str, torch.Tensor] | None = None
) -> dict[str, Any]:
    """One seed: train the models, then every explainer's per-sample metrics averaged over the samples.
    ``examples``, where given, receives the first :data:`EXAMPLES` inputs (``inputs``) and every explainer's scores
    of them (by name)."""
    model, classifier = _seed_models(data, config, seed)
    device = next(classifier.parameters()).device
    names = common.check_explainers(
        data.modality, config.explainers or common.explainer_names(data.modality, defaults_only=True)
    )
    explainers = common.build_explainers(data, classifier, model, names, options=config.explainer_options, seed=seed)
    inputs = data.test.tensors[0][: config.samples]
    gold_all = data.test_rationale[: config.samples] if data.test_rationale is not None else None
    ignored = hooks(data.modality).ignored_units(data)
    prob_fn = _prob_fn(data, classifier)
    metrics = (
        Deletion(config.steps),
        Insertion(config.steps),
        Comprehensiveness(config.bins),
        Sufficiency(config.bins),
    )
    rows: dict[str, dict[str, list[np.ndarray]]] = {}

    def add(name: str, values: dict[str, np.ndarray]) -> None:
        for key, value in values.items():
            rows.setdefault(name, {}).setdefault(key, []).append(value)

    slices = _batches(inputs.shape[0], config.batch_size)
    rows_names = [*names, *([ORACLE] if gold_all is not None else [])]
    bar = tqdm(total=len(slices) * len(rows_names), desc=f"faithfulness seed {seed}", disable=not config.progress)
    for part in slices:
        x = inputs[part].to(device)
        valid = data.adapter.valid_units(x)
        with torch.inference_mode():
            target = classifier(x).argmax(1)
        gold = gold_all[part].reshape(data.adapter.mask_shape(x)).to(device) if gold_all is not None else None
        gold_valid = valid  # the units the rationale scores count
        if ignored is not None:
            gold_valid = ((torch.ones(data.adapter.mask_shape(x)) if valid is None else valid.cpu()) * ignored).to(
                device
            )
        for name in rows_names:
            if name == ORACLE:
                scores = gold.float()
            else:
                explainer = explainers[name]
                scores = ranking_scores(explainer, explainer.attribute(x, target.clone()).detach())
            scores = scores.reshape(data.adapter.mask_shape(x))
            if examples is not None and part.start == 0:
                examples["inputs"] = x[:EXAMPLES].cpu()
                examples[name] = scores[:EXAMPLES].float().cpu()
            for metric in metrics:
                values = metric(prob_fn, x, scores, target, valid, seed)
                add(name, {CURVES.get(k, k): v for k, v in values.items()})
            if gold is not None:
                add(name, {f"rationale_{k}": v for k, v in rationale_top_k(scores, gold, gold_valid, seed).items()})
            if name == "hns":
                mask = model.explain(x).float()
                add(HNS_MASK, mask_scores(prob_fn, x, mask, target, valid))
                if gold is not None:
                    add(HNS_MASK, {f"rationale_{k}": v for k, v in set_overlap(mask, gold, gold_valid).items()})
            bar.update()
    bar.close()
    summary: dict[str, dict[str, Any]] = {}
    for name, metrics in rows.items():
        cat = {k: np.concatenate(v) for k, v in metrics.items()}
        out: dict[str, Any] = {}
        for key, value in cat.items():
            if key in ("comprehensiveness", "sufficiency") and value.ndim == 2:
                out[key] = value.mean(0).tolist()
                out[f"aopc_{key}"] = float(value.mean())
            elif key.endswith("_curve"):
                out[key] = value.mean(0).tolist()
            else:
                out[key] = float(np.nanmean(value)) if np.isfinite(value).any() else float("nan")
        summary[name] = out
    test = data.test
    return {
        "metrics": summary,
        "fractions": np.linspace(0.0, 1.0, config.steps + 1).tolist(),
        "classifier_accuracy": common.accuracy(classifier, test),
        "hns_accuracy": _hns_accuracy(model, test),
        "hns_kept_fraction": summary.get(HNS_MASK, {}).get("kept_fraction"),
    }


@torch.no_grad()
def _hns_accuracy(model, dataset, batch_size: int = 256) -> float:
    device = next(model.parameters()).device
    hits = total = 0
    for start in range(0, len(dataset), batch_size):
        x, y = (t[start : start + batch_size].to(device) for t in dataset.tensors)
        hits += int((model.predict(x)[0] == y).sum())
        total += y.numel()
    return hits / total


class Faithfulness(ConfiguredBenchmark):
    """``hnsx bench faithfulness`` on the shared runner (one seed: :func:`evaluate_seed`)."""

    name = "faithfulness"
    reports = reports_module
    config_class = FaithfulnessConfig
    defaults = {True: QUICK}
    outputs = "the plots curves.png and eraser.png"

    def load_data(self, modality: str, config: FaithfulnessConfig, *, quick: bool = False) -> Any:
        dataset = config.dataset or modality_settings(modality, self.name, False).get("dataset")
        return common.load_bench_data(modality, quick=config.quick_data, name=dataset)

    def evaluate_seed(self, data, config: FaithfulnessConfig, seed: int) -> dict[str, Any]:
        return evaluate_seed(data, config, seed)

    def run_seed(self, data, config: FaithfulnessConfig, seed: int, *, progress: bool, device: str):
        examples: dict[str, torch.Tensor] = {}
        return evaluate_seed(data, config, seed, examples), examples

    def sections(self, data, config: FaithfulnessConfig, results: dict[str, Any], out_dir: Path) -> list[Section]:
        """The first seed's maps of a few test inputs per explainer (the modality's ``render_examples``)."""
        from safetensors.torch import load_file

        path = out_dir / "seeds" / f"examples-seed-{results['seeds'][0]}.safetensors"
        shown = load_file(path) if path.is_file() else {}
        if "inputs" not in shown:
            return []
        inputs = shown.pop("inputs")
        body = hooks(data.modality).render_examples(data, inputs, shown)
        title = f"Explanations of the first test inputs (seed {results['seeds'][0]})"
        return [Section(title, body)] if body else []

    def explainer_names(self, config: FaithfulnessConfig) -> list[str]:
        return common.check_explainers(
            config.modality, config.explainers or common.explainer_names(config.modality, defaults_only=True)
        )

    def summarise(self, seeds: list[int], per_seed: list[dict]) -> dict[str, Any]:
        """Per explainer and metric, and for both models' accuracies: mean +- std over seeds."""
        models = aggregate([{k: r[k] for k in ("classifier_accuracy", "hns_accuracy")} for r in per_seed])
        return {
            "metrics": aggregate([r["metrics"] for r in per_seed]),
            "fractions": per_seed[0]["fractions"],
            "models": models,
        }

    def record(self, data, config: FaithfulnessConfig, seeds, per_seed) -> dict[str, Any]:
        results = super().record(data, config, seeds, per_seed)
        names = results["explainers"]
        return {**results, "explainers": names + [n for n in per_seed[0]["metrics"] if n not in names]}


BENCHMARK = Faithfulness()
main = BENCHMARK.main


def run_faithfulness(config: FaithfulnessConfig, out_dir: str | Path, *, data: Any = None) -> dict[str, Any]:
    """Run the benchmark and write ``results.json``, ``report.md``, ``curves.png`` and ``eraser.png``.

    Which classifier: by default the Hide-and-Seek model's seeker, trained per seed. Every explainer explains that
    one classifier (Captum's methods through its gradients, HnS through its hider, which was trained to keep what
    this seeker needs), and every metric reads that classifier's probabilities, so the rows compare like with
    like. ``classifier="independent"`` trains a plain classifier of the same architecture instead, for the Captum
    methods and the measurement; HnS's hider then ranks units for a model it was not trained with. ``data``:
    the data already loaded (default: :meth:`Faithfulness.load_data`).
    """
    return BENCHMARK.run_config(config, out_dir, data=data)


__all__ = [
    "BENCHMARK",
    "CLASSIFIERS",
    "MODALITIES",
    "FaithfulnessConfig",
    "evaluate_seed",
    "format_report",
    "main",
    "run_faithfulness",
    "save_plots",
]
