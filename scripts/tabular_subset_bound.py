"""How accurate can a per-row selection of at most a quarter of a table's features be, read honestly?

A diagnostic for issue 23's bar (masked accuracy at least logistic regression's while keeping at most a quarter of
the features per row), on the real tables of ``scripts/tabular_real_tables.py`` and its splits. For every subset
``S`` of at most ``k = F // 4`` features, a logistic regression is fitted on the training rows with the columns of
``S`` only (one-hot categorical, standardised numeric; the empty subset predicts the majority class). Each model
reads only the kept values ``x_S``, never which features were kept: it is the honest reader of a selection (the
role the random-mask evaluator plays for HnS's masks, but exact per subset). On the test rows:

* ``best_fixed``: the one subset with the highest accuracy on the training rows, for every row;
* ``confident``: per row, the subset whose model is the most confident (largest class probability); chosen
  without the label;
* ``agree_full``: per row, the most confident subset among those whose model predicts what logistic regression on
  all the features predicts (the most confident subset when none does). It is what a hider that knows the full
  model's answer and keeps the values that argue for it can reach when the kept values are read honestly;
* ``any_right``: share of rows for which some subset's model predicts the true label (chosen with the label: an
  upper bound no hider can reach without the label, not a result).

Run from the repository root (``pip install -e '.[tables]'`` for the tables)::

    .venv/bin/python scripts/tabular_subset_bound.py --seeds 0 1 2 3 4 5 --out docs/tables-real/subset-bound.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabular_real_tables import TABLES, _logistic, split  # noqa: E402


def subset_probabilities(X_train, y_train, X_test, subset: tuple[str, ...], classes: np.ndarray):
    """``(train, test)`` class probabilities ``(N, C)`` of logistic regression on the columns of ``subset``."""
    if not subset:  # the majority class, with the training rows' class shares as probabilities
        prior = np.array([(y_train == c).mean() for c in classes])
        return np.tile(prior, (len(X_train), 1)), np.tile(prior, (len(X_test), 1))
    model = _logistic(X_train[list(subset)], y_train)
    order = [list(model.classes_).index(c) for c in classes]
    return model.predict_proba(X_train[list(subset)])[:, order], model.predict_proba(X_test[list(subset)])[:, order]


def bound(name: str, seed: int) -> dict:
    """The four accuracies of the module docstring for one table and split."""
    X, y = TABLES[name]()
    X_train, X_test, y_train, y_test = split(X, y, seed)
    classes = np.unique(y)
    k = X.shape[1] // 4
    subsets = [s for size in range(k + 1) for s in itertools.combinations(X.columns, size)]
    train_p, test_p = zip(*(subset_probabilities(X_train, y_train, X_test, s, classes) for s in subsets))
    train_p, test_p = np.stack(train_p), np.stack(test_p)  # (S, N, C)
    truth = np.searchsorted(classes, y_test)
    predicted = test_p.argmax(2)  # (S, N)
    rows = np.arange(len(X_test))
    best_fixed = int(np.argmax((train_p.argmax(2) == np.searchsorted(classes, y_train)).mean(1)))
    confidence = test_p.max(2)
    confident = confidence.argmax(0)
    full = np.searchsorted(classes, _logistic(X_train, y_train).predict(X_test))
    agreeing = np.where(predicted == full, confidence, confidence - 2.0)  # agreeing subsets first
    agree = agreeing.argmax(0)
    return {
        "table": name,
        "seed": seed,
        "features": X.shape[1],
        "k": k,
        "subsets": len(subsets),
        "logistic_regression": float((full == truth).mean()),
        "best_fixed": float((predicted[best_fixed] == truth).mean()),
        "best_fixed_subset": list(subsets[best_fixed]),
        "confident": float((predicted[confident, rows] == truth).mean()),
        "confident_kept": float(np.mean([len(subsets[i]) for i in confident])),
        "agree_full": float((predicted[agree, rows] == truth).mean()),
        "agree_full_kept": float(np.mean([len(subsets[i]) for i in agree])),
        "any_right": float((predicted == truth).any(0).mean()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=None, help="write the records as JSON here")
    args = parser.parse_args(argv)
    records = [bound(name, seed) for name in args.tables for seed in args.seeds]
    keys = ["logistic_regression", "best_fixed", "confident", "agree_full", "any_right"]
    means = pd.DataFrame(records).groupby("table")[[*keys, "confident_kept", "agree_full_kept"]].mean()
    print(means.round(4).to_string())
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
