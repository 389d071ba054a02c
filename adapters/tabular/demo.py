"""``hnsx demo --modality tabular``: breast cancer for F and I, the generated switch table for TPR and FDR.

Both runs use one setting, chosen so that the whole demo takes about a minute on 2 CPU cores (figures in the
README): the MLP hider and seeker (two hidden layers of 64), deterministic binarizer, the seeker pretrained for 20
epochs, then 30 epochs of joint training with a constant alpha of 0.8, batches of 128, Adam at 2e-3. The Fidelity
baseline is a copy of the untrained seeker trained alone for the same 50 epochs.

Output folder::

    metrics.json            breast cancer F, I, FIR, FII, accuracy, baseline_accuracy; switch tpr, fdr (more
                            switch figures under "switch"); demo_seconds (the whole demo)
    history.jsonl           breast cancer, one record per epoch
    kept_per_class.png      how often each breast cancer feature is kept, per class (eval rows)
    checkpoints/            breast cancer checkpoints
    switch/                 the switch run: metrics.json, history.jsonl, checkpoints/, kept_per_rule.png
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hnsx.adapters.tabular.data import TabularData, load_tabular
from hnsx.adapters.tabular.plots import save_keep_rates
from hnsx.adapters.tabular.spec import tabular_spec
from hnsx.adapters.tabular.synthetic import SWITCH, selection_scores
from hnsx.pipeline import run_training
from hnsx.training.checkpoint import write_json_atomic
from hnsx.training.config import TrainConfig

DEMO_EPOCHS = 30


def demo_config(epochs: int | None = None, seed: int = 0, progress: bool = True) -> TrainConfig:
    """The demo's training settings (see the module docstring)."""
    return TrainConfig(
        epochs=DEMO_EPOCHS if epochs is None else epochs,
        batch_size=128,
        lr=2e-3,
        alpha=0.8,
        init="pretrained-seeker",
        pretrain_epochs=20,
        seed=seed,
        progress=progress,
    )


def eval_masks(model, data: TabularData) -> np.ndarray:
    """``(M, F)`` bool kept features of the eval rows (deterministic masks)."""
    return model.explain(data.eval.tensors[0]).bool().cpu().numpy()


def switch_run(out_dir: str | Path, config: TrainConfig) -> dict:
    """Train on the generated switch table; write its metrics (with ``tpr``, ``fdr``) and a keep-rate plot."""
    out = Path(out_dir)
    data = load_tabular("switch", seed=config.seed)
    spec = tabular_spec(data.schema, data.num_classes, classes=data.class_names)
    result = run_training(data, spec, config, out)
    masks = eval_masks(result.model, data)
    selection = selection_scores(masks, data.relevant.numpy())
    metrics = {**result.metrics, **selection, "switch_kept": selection["ignored_kept"][str(SWITCH)]}
    if result.fit.is_main_process:
        write_json_atomic(out / "metrics.json", metrics)
        column = data.schema.columns[SWITCH]
        raw_switch = data.eval.tensors[0][:, SWITCH].numpy() * column.scale + column.mean  # undo the scaling
        rule = (raw_switch >= 0).astype(int)
        save_keep_rates(
            out / "kept_per_rule.png",
            masks,
            rule,
            data.schema.names,
            ["x10 < 0: y = 1[x0 x1 > 0]", "x10 >= 0: y = 1[x2 x3 x4 > 0]"],
            "switch table: features kept per rule (eval rows)",
        )
    return metrics


def run_tabular_demo(out_dir: str | Path, epochs: int | None = None, seed: int = 0, progress: bool = True) -> dict:
    """Run both demo trainings and write the files listed in the module docstring. Returns the metrics."""
    start = time.perf_counter()
    out = Path(out_dir)
    config = demo_config(epochs, seed, progress)
    switch = switch_run(out / "switch", config)
    data = load_tabular("breast-cancer", seed=seed)
    spec = tabular_spec(data.schema, data.num_classes, classes=data.class_names, target=data.target)
    keys = ("tpr", "fdr", "switch_kept", "kept_per_row", "fidelity", "interpretability", "accuracy")
    keys += ("baseline_accuracy", "seconds")
    extra = {"tpr": switch["tpr"], "fdr": switch["fdr"], "switch": {k: switch[k] for k in keys}}
    result = run_training(data, spec, config, out, extra_metrics=extra)
    result.metrics["demo_seconds"] = time.perf_counter() - start
    if result.fit.is_main_process:
        write_json_atomic(out / "metrics.json", result.metrics)
        save_keep_rates(
            out / "kept_per_class.png",
            eval_masks(result.model, data),
            data.eval.tensors[1].numpy(),
            data.schema.names,
            data.class_names,
            "breast cancer: features kept per class (eval rows)",
        )
    return result.metrics
