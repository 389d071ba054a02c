"""Tables for Hide-and-Seek: labels, seeded splits, the schema fitted on the training split, registered data sets.

A :class:`TabularData` has the fields that :func:`hnsx.pipeline.run_training` and :func:`hnsx.data.make_loaders`
read (``train``, ``eval``, ``num_classes``, ``input_shape``, ``name``), with float32 ``(N, F)`` rows already
transformed by the fitted :class:`~hnsx.adapters.tabular.schema.TabularSchema` and int64 ``(N,)`` labels.

Registered data sets (:data:`TABULAR_DATASETS`, all offline):

* ``"breast-cancer"``: scikit-learn's Wisconsin breast cancer table, 569 rows, 30 numeric features, 2 classes;
* ``"wine"``: scikit-learn's wine table, 178 rows, 13 numeric features, 3 classes;
* ``"switch"``: the generated INVASE-style table of :mod:`hnsx.adapters.tabular.synthetic` (6,000 rows, 11
  features) with the per-row ground truth of its eval rows in ``relevant``.

Any CSV file: :func:`load_csv` with the label column's name.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.tabular.schema import TabularSchema
from hnsx.registry import Registry


@dataclass(frozen=True)
class TabularData:
    """A classification table split into train and eval, transformed by a schema fitted on ``train``.

    Attributes
    ----------
    train, eval:
        ``TensorDataset(rows (N, F) float32, labels (N,) int64)``.
    num_classes:
        Number of classes.
    input_shape:
        ``(F,)``.
    name:
        Data set name.
    schema:
        The preprocessing fitted on the training split (means, scales, categories).
    class_names:
        ``class_names[k]`` names label ``k``.
    target:
        Name of the label column, if it had one.
    relevant:
        ``(M, F)`` bool ground truth of the eval rows (generated data only), else ``None``.
    """

    train: TensorDataset
    eval: TensorDataset
    num_classes: int
    input_shape: tuple[int]
    name: str
    schema: TabularSchema
    class_names: list[str] = field(default_factory=list)
    target: str | None = None
    relevant: torch.Tensor | None = None


def encode_labels(y: Any, classes: list[str] | None = None, name: str = "target") -> tuple[np.ndarray, list[str]]:
    """Class indices ``(N,)`` int64 and class names of a label column.

    Integer-valued numeric labels map to their sorted distinct values (``class_names`` are those values as
    strings). Text labels need ``classes``, the class order (so that label ``k`` means the same in every run and
    every checkpoint); ``classes`` may also fix the order of numeric labels.

    Raises
    ------
    ValueError
        Missing labels, text labels without ``classes``, a label not in ``classes``, fractional (continuous)
        labels, or fewer than 2 classes.
    """
    values = np.asarray(y)
    if values.ndim != 1:
        values = values.reshape(-1) if values.ndim == 2 and 1 in values.shape else values
    if values.ndim != 1:
        raise ValueError(f"labels must be one column, got shape {np.asarray(y).shape}")
    is_number = values.dtype.kind in "iufb"
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"the {name} column has missing (NaN) labels; drop those rows first")
    if values.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in values):
        raise ValueError(f"the {name} column has missing labels; drop those rows first")
    if classes is not None:
        names = [str(c) for c in classes]
        if len(set(names)) != len(names):
            raise ValueError(f"classes has duplicates: {names}")
        lookup = {c: k for k, c in enumerate(names)}
        as_text = [str(v.item() if isinstance(v, np.generic) else v) for v in values]
        unknown = sorted({v for v in as_text if v not in lookup})
        if unknown:
            raise ValueError(f"the {name} column holds label(s) {unknown[:5]} that are not in classes {names}")
        codes = np.array([lookup[v] for v in as_text], dtype=np.int64)
    elif is_number:
        if values.dtype.kind == "f" and not np.all(values == np.round(values)):
            example = values[values != np.round(values)][0]
            raise ValueError(
                f"the {name} column holds fractional values (e.g. {example}): it looks continuous, but hnsx "
                "classifies; bin it into classes first"
            )
        distinct, codes = np.unique(values, return_inverse=True)
        names = [str(v.item()) if isinstance(v, np.generic) else str(v) for v in distinct]
        if values.dtype.kind == "f":
            names = [str(int(v)) for v in distinct]
        codes = codes.astype(np.int64)
    else:
        examples = sorted({str(v) for v in values[:50]})[:3]
        raise ValueError(
            f"the {name} column is not numeric (values like {examples}) and no class mapping was given; "
            "give the class order with classes=[...] (command line: --classes A,B,...)"
        )
    if len(names) < 2 or len(np.unique(codes)) < 2:
        raise ValueError(f"the {name} column has only one class; a classifier needs at least 2")
    return codes, names


def _split(labels: np.ndarray, eval_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must lie strictly between 0 and 1, got {eval_fraction!r}")
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    train_idx, eval_idx = train_test_split(
        np.arange(len(labels)), test_size=eval_fraction, random_state=seed, stratify=stratify
    )
    return np.sort(train_idx), np.sort(eval_idx)


def _take(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


@contextlib.contextmanager
def table_rows(idx: np.ndarray) -> Iterator[None]:
    """Number the rows of a schema's ``ValueError`` (positions in the split ``idx``) as the whole table's data rows,
    counted from 1 after the header (a CSV's data row k is on line k + 1)."""
    try:
        yield
    except ValueError as err:

        def renumber(match: re.Match) -> str:
            rows = re.sub(r"\d+", lambda n: str(int(idx[int(n.group())]) + 1), match.group(2))
            return f"in data {match.group(1)} {rows}"

        raise ValueError(re.sub(r"in (rows?) (\d+(?:, \d+)*)", renumber, str(err))) from None


def tabular_data(
    X: Any,
    y: Any,
    *,
    name: str,
    categorical: list[str | int] | None = None,
    classes: list[str] | None = None,
    target: str | None = None,
    eval_fraction: float = 0.2,
    seed: int = 0,
    relevant: np.ndarray | None = None,
) -> TabularData:
    """Split a table (stratified, seeded), fit the schema on the training split, transform both splits.

    Parameters
    ----------
    X:
        DataFrame or array ``(N, F)``.
    y:
        Labels ``(N,)`` (see :func:`encode_labels`).
    name:
        Data set name.
    categorical:
        Extra categorical columns (see :meth:`TabularSchema.fit`).
    classes:
        Class order, needed for text labels.
    target:
        Name of the label column, for display.
    eval_fraction:
        Share of rows held out for evaluation.
    seed:
        Seed of the split.
    relevant:
        ``(N, F)`` ground truth of generated data; its eval rows are kept.
    """
    codes, names = encode_labels(y, classes, name=target or "target")
    n = len(codes)
    if (hasattr(X, "shape") and X.shape[0] != n) or (not hasattr(X, "shape") and len(X) != n):
        raise ValueError(f"the table has {len(X)} rows but there are {n} labels")
    train_idx, eval_idx = _split(codes, eval_fraction, seed)
    with table_rows(train_idx):
        schema = TabularSchema.fit(_take(X, train_idx), categorical=categorical)

    def split(idx: np.ndarray) -> TensorDataset:
        with table_rows(idx):
            rows = torch.from_numpy(schema.transform(_take(X, idx)))
        return TensorDataset(rows, torch.from_numpy(codes[idx]))

    return TabularData(
        train=split(train_idx),
        eval=split(eval_idx),
        num_classes=len(names),
        input_shape=(schema.num_features,),
        name=name,
        schema=schema,
        class_names=names,
        target=target,
        relevant=torch.from_numpy(np.asarray(relevant)[eval_idx]) if relevant is not None else None,
    )


def read_table(path: str | Path) -> Any:
    """Read a CSV (or, by extension, TSV) file into a DataFrame; a missing file raises ``FileNotFoundError``."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"{path} is not a readable CSV table: {err}") from None


def load_csv(
    path: str | Path,
    target: str,
    *,
    categorical: list[str] | None = None,
    classes: list[str] | None = None,
    eval_fraction: float = 0.2,
    seed: int = 0,
) -> TabularData:
    """A CSV table with a header row; ``target`` names the label column, every other column is a feature."""
    frame = read_table(path)
    if target is None:
        raise ValueError(f"name the label column of {path} (command line: --target COLUMN)")
    if target not in frame.columns:
        raise ValueError(f"{path} has no column {target!r}; its columns are {list(frame.columns)}")
    return tabular_data(
        frame.drop(columns=[target]),
        frame[target].to_numpy(),
        name=Path(path).stem,
        categorical=categorical,
        classes=classes,
        target=target,
        eval_fraction=eval_fraction,
        seed=seed,
    )


TABULAR_DATASETS: Registry[TabularData] = Registry("tabular dataset")


def _sklearn_table(loader_name: str, name: str, eval_fraction: float, seed: int) -> TabularData:
    from sklearn import datasets

    bunch = getattr(datasets, loader_name)(as_frame=True)
    return tabular_data(
        bunch.data,
        np.asarray(bunch.target_names)[bunch.target.to_numpy()],  # label names, in target_names order
        name=name,
        classes=[str(c) for c in bunch.target_names],
        target="target",
        eval_fraction=eval_fraction,
        seed=seed,
    )


@TABULAR_DATASETS.register("breast-cancer")
def load_breast_cancer(eval_fraction: float = 0.2, seed: int = 0) -> TabularData:
    """scikit-learn's breast cancer table (569 rows, 30 numeric features; malignant / benign)."""
    return _sklearn_table("load_breast_cancer", "breast-cancer", eval_fraction, seed)


@TABULAR_DATASETS.register("wine")
def load_wine(eval_fraction: float = 0.2, seed: int = 0) -> TabularData:
    """scikit-learn's wine table (178 rows, 13 numeric features, 3 cultivars)."""
    return _sklearn_table("load_wine", "wine", eval_fraction, seed)


@TABULAR_DATASETS.register("switch")
def load_switch(eval_fraction: float = 0.2, seed: int = 0, n: int = 6000) -> TabularData:
    """The generated switch table (:func:`~hnsx.adapters.tabular.synthetic.make_switch`), eval ground truth kept.

    The rows are drawn with ``seed``; the split uses ``seed`` too.
    """
    from hnsx.adapters.tabular.synthetic import make_switch

    X, y, relevant = make_switch(n, seed=seed)
    return tabular_data(
        X, y, name="switch", classes=["0", "1"], eval_fraction=eval_fraction, seed=seed, relevant=relevant
    )


def load_tabular(name: str, eval_fraction: float = 0.2, seed: int = 0) -> TabularData:
    """A registered table by name (``breast-cancer``, ``wine``, ``switch``)."""
    return TABULAR_DATASETS.get(name)(eval_fraction=eval_fraction, seed=seed)
