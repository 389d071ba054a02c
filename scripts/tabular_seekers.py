"""Seeker architectures alone (unmasked) against LogisticRegression on the real tables of ``tabular_real_tables.py``.

Per table and seed: the same stratified 75/25 split as ``tabular_real_tables.py``; each seeker variant is built as
``HnSClassifier`` builds its seeker (``tabular_spec`` with the variant's keyword arguments), pretrained as
``HnSClassifier`` pretrains it (its validation split, Adam at ``lr=5e-4``, at most 100 epochs, early stopping with
patience 10) and scored unmasked on the test rows, beside ``LogisticRegression`` fitted on all training rows.
Run from the repository root::

    .venv/bin/python scripts/tabular_seekers.py --seeds 0 1 2 3 4 5 --threads 1
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from tabular_real_tables import TABLES, _baselines, split
from torch.utils.data import TensorDataset

from hnsx.adapters.tabular.early_stopping import pretrain_seeker
from hnsx.adapters.tabular.estimator import HnSClassifier
from hnsx.adapters.tabular.schema import TabularSchema
from hnsx.adapters.tabular.spec import tabular_spec
from hnsx.spec import build_model

#: Variants compared by default: seeker keyword arguments (over the spec's defaults).
VARIANTS = {
    "one-hot": {"embed": False, "wide": False},
    "embed": {"embed": True, "wide": False},
    "embed + wide": {"embed": True, "wide": True},
    "one-hot + wide": {"embed": False, "wide": True},
}


def run(name: str, seed: int, variants: dict[str, dict]) -> dict:
    X, y = TABLES[name]()
    X_train, X_test, y_train, y_test = split(X, y, seed)
    record = {"table": name, "seed": seed, **_baselines((X_train, y_train), (X_test, y_test), seed)}
    classes, codes = np.unique(y_train, return_inverse=True)
    schema = TabularSchema.fit(X_train)
    rows, labels = torch.from_numpy(schema.transform(X_train)), torch.from_numpy(codes.astype(np.int64))
    defaults = HnSClassifier(random_state=seed)  # its split and its pretraining settings
    train_idx, eval_idx, _ = defaults._split(codes, seed)
    train = TensorDataset(rows[train_idx], labels[train_idx])
    held_out = TensorDataset(rows[eval_idx], labels[eval_idx])
    settings = {"lr": defaults.lr, "batch_size": defaults.batch_size, "patience": defaults.n_iter_no_change}
    test_rows = torch.from_numpy(schema.transform(X_test))
    test_labels = torch.from_numpy(np.searchsorted(classes, y_test))
    for label, kwargs in variants.items():
        torch.manual_seed(seed)
        seeker = build_model(tabular_spec(schema, len(classes), seeker_kwargs=kwargs)).seeker
        seeker, _ = pretrain_seeker(seeker, train, held_out, max_epochs=defaults.pretrain_epochs, seed=seed, **settings)
        with torch.no_grad():
            record[label] = float((seeker(test_rows).argmax(1) == test_labels).float().mean())
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--variants", default=json.dumps(VARIANTS), help="name -> seeker keyword arguments (JSON)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = json.loads(args.variants)
    columns = ["logistic_regression", *variants]
    print("| table | seeds | " + " | ".join(columns) + " |\n|---|---|" + "---|" * len(columns))
    for name in args.tables:
        records = [run(name, seed, variants) for seed in args.seeds]
        for r in records:
            print(json.dumps(r), flush=True)
        means = " | ".join(f"{np.mean([r[c] for r in records]):.4f}" for c in columns)
        print(f"| {name} | {' '.join(map(str, args.seeds))} | {means} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
