"""``hnsx train|demo|explain`` for tables (``--modality tabular``; ``explain`` for tabular checkpoints).

Each function takes the parsed arguments and returns the exit code. Bad input raises ``ValueError``, which the
command line prints as one line (exit 2).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch


def _names(value: str | None) -> list[str] | None:
    """``"a,b , c"`` -> ``["a", "b", "c"]`` (``None`` stays ``None``)."""
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise ValueError(f"expected a comma-separated list of names, got {value!r}")
    return names


def add_options(parser: argparse.ArgumentParser) -> None:
    """The tabular options of ``hnsx train``."""
    g = parser.add_argument_group("tabular (--modality tabular)")
    g.add_argument("--target", default=None, help="label column of --data-file")
    g.add_argument("--classes", default=None, help="class order of a text label column: A,B,...")
    g.add_argument("--categorical", default=None, help="extra categorical columns of --data-file: C1,C2,...")


def load_data(args: argparse.Namespace):
    """The :class:`~hnsx.adapters.tabular.data.TabularData` named by ``--dataset`` or ``--data-file --target``."""
    from hnsx.adapters.tabular.data import TABULAR_DATASETS, load_csv, load_tabular

    if getattr(args, "limit", None) is not None:
        raise ValueError("--limit applies to image and text data; a table is always used whole")
    target, classes, categorical = args.target, _names(args.classes), _names(args.categorical)
    if args.data_file is not None:
        if args.dataset is not None:
            raise ValueError("give either --dataset or --data-file, not both")
        if target is None:
            raise ValueError("--data-file needs --target, the name of the label column")
        return load_csv(args.data_file, target, categorical=categorical, classes=classes, seed=args.seed)
    if target is not None or classes is not None or categorical is not None:
        raise ValueError("--target, --classes and --categorical apply to --data-file, not to a built-in --dataset")
    from hnsx.adapters.tabular.modality import TabularModality

    name = args.dataset or TabularModality.default_dataset
    TABULAR_DATASETS.get(name)  # an unknown name fails here, listing the choices
    return load_tabular(name, seed=args.seed)


def build_spec(data, args: argparse.Namespace):
    """The tabular spec: the fitted schema, the MLP hider and seeker (or the builders named)."""
    from hnsx.adapters.tabular.spec import tabular_spec
    from hnsx.spec import binarizer_component

    return tabular_spec(
        data.schema,
        data.num_classes,
        classes=data.class_names,
        target=data.target,
        hider=args.hider,
        seeker=args.seeker,
        binarizer=binarizer_component(args.binarizer, args.estimator, args.slope_rate, args.slope_cap),
    )


def finish_run(result, data, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """On a table with known relevant features (``switch``): the kept features scored against them (TPR, FDR)."""
    from hnsx.adapters.tabular.demo import eval_masks
    from hnsx.adapters.tabular.synthetic import SWITCH, selection_scores
    from hnsx.training.checkpoint import write_json_atomic

    metrics, lines = result.metrics, []
    if data.relevant is not None:
        selection = selection_scores(eval_masks(result.model, data), data.relevant.numpy())
        metrics = {**metrics, **selection, "switch_kept": selection["ignored_kept"][str(SWITCH)]}
        write_json_atomic(Path(args.out) / "metrics.json", metrics)
        lines.append(f"kept features vs. ground truth: TPR {metrics['tpr']:.4f}, FDR {metrics['fdr']:.4f}\n")
    return metrics, [*lines, f"wrote {args.out}/metrics.json, history.jsonl and checkpoints/"]


def demo(args: argparse.Namespace) -> int:
    """``hnsx demo --modality tabular``: breast cancer (F, I) and the switch table (TPR, FDR)."""
    from hnsx.adapters.tabular.demo import run_tabular_demo
    from hnsx.pipeline import print_summary

    torch.set_num_threads(1)  # the demo's small MLPs train fastest on one thread (and leave the other cores free)
    metrics = run_tabular_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    print_summary(metrics)
    print(f"switch table, kept features vs. ground truth: TPR {metrics['tpr']:.4f}, FDR {metrics['fdr']:.4f}")
    seconds = metrics["demo_seconds"]
    print(f"wrote {args.out}/metrics.json, history.jsonl, kept_per_class.png and switch/ ({seconds:.0f} s)")
    return 0


def explain(args: argparse.Namespace, model) -> int:
    """``hnsx explain --checkpoint RUN table.csv``: per row, the prediction and the kept features.

    The label column (if the table has it) is dropped; every other column must match the training columns by name.
    Writes ``<table>-kept.csv`` (one 0/1 column per feature, plus ``prediction``) into ``--out``; two tables of the
    same name in different folders get ``<table>-kept.csv`` and ``<table>-2-kept.csv``.
    """
    from hnsx.adapters.tabular.data import read_table
    from hnsx.explain import output_names

    adapter = model.adapter
    target = (adapter.target or {}).get("name")
    classes = (adapter.target or {}).get("classes")
    names = adapter.schema.names
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path, file_name in zip(args.inputs, output_names(args.inputs, "-kept.csv")):
        frame = read_table(path)
        if target is not None and target in frame.columns:
            frame = frame.drop(columns=[target])
        rows = torch.from_numpy(adapter.schema.transform(frame))
        with torch.no_grad():
            output = model.eval()(rows)
        probs = output.logits.float().softmax(1)
        masks = output.mask.bool().numpy()
        predictions = probs.argmax(1).numpy()
        target_file = out / file_name
        with open(target_file, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([*names, "prediction"])
            for i, row in enumerate(masks):
                label = classes[predictions[i]] if classes else str(predictions[i])
                writer.writerow([*row.astype(int).tolist(), label])
                kept = [names[j] for j in np.flatnonzero(row)]
                print(
                    f"{path} row {i}: class {label} ({float(probs[i, predictions[i]]):.1%}), "
                    f"kept {len(kept)}/{len(names)}: {', '.join(kept) if kept else '(nothing)'}"
                )
        print(f"wrote {target_file}")
    return 0
