"""The fitted preprocessing of a table: which columns, numeric scaling, categorical codes.

A :class:`TabularSchema` is fitted once on the training table with scikit-learn (``StandardScaler`` for numeric
columns, ``OrdinalEncoder`` for categorical ones) and then keeps only what those fitted and what is needed to
transform new rows, as plain JSON values: column names and kinds, means and scales, category lists. It is stored
in the model spec (the tabular adapter's keyword arguments), so every checkpoint carries it and no pickle is
needed to restore it.

The transformed table is float32 ``(N, F)``, one column per input column, in the schema's column order:

* numeric: ``(x - mean) / scale`` (so the training mean becomes 0);
* categorical: the category's code ``0 .. K-1`` (categories sorted as ``OrdinalEncoder`` sorts them); the code
  ``K`` is reserved as the "missing" code that a hidden categorical feature takes.

Decisions (documented here and in docs/tables.md):

* Missing values (NaN, None, inf) are an error, not imputed: impute first, e.g. with
  ``sklearn.impute.SimpleImputer`` in a ``Pipeline`` in front of :class:`~hnsx.HnSClassifier`.
* A constant training column is an error: it cannot inform any prediction (and has no scale).
* A category not seen in training is an error at transform time.
* A DataFrame's columns are matched by name; missing or extra columns are an error naming them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Column:
    """One input column of a fitted schema.

    Attributes
    ----------
    name:
        Column name (``"x0"``, ``"x1"``, ... for arrays without names).
    kind:
        ``"numeric"`` or ``"categorical"``.
    mean, scale:
        Training mean and standard deviation of a numeric column (``None`` for categorical ones).
    categories:
        Sorted training categories of a categorical column (``None`` for numeric ones); JSON values.
    """

    name: str
    kind: str
    mean: float | None = None
    scale: float | None = None
    categories: list[Any] | None = None

    @property
    def missing_code(self) -> int:
        """The code of a hidden (or missing) categorical value: one past the last category."""
        if self.kind != CATEGORICAL:
            raise ValueError(f"column {self.name!r} is numeric: it has no missing code")
        return len(self.categories)

    @property
    def cardinality(self) -> int:
        """Number of distinct codes the model sees: categories plus the missing code (0 for numeric)."""
        return len(self.categories) + 1 if self.kind == CATEGORICAL else 0


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


def _columns_of(X: Any) -> tuple[list[str], list[np.ndarray]]:
    """Column names and 1-D value arrays of a DataFrame or a 2-D array-like ``(N, F)``."""
    if _is_frame(X):
        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"the table has duplicate column names: {names}")
        return names, [X.iloc[:, i].to_numpy() for i in range(X.shape[1])]
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D table (rows, features), got an array of shape {arr.shape}")
    return [f"x{i}" for i in range(arr.shape[1])], [arr[:, i] for i in range(arr.shape[1])]


def _is_categorical_dtype(values: np.ndarray, frame_dtype: Any = None) -> bool:
    if frame_dtype is not None and str(frame_dtype) in ("category", "bool", "boolean", "string", "str"):
        return True
    return values.dtype.kind in "OUSb"


def _missing(values: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: NaN, inf or None entries."""
    if values.dtype.kind in "fc":
        return ~np.isfinite(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and not math.isfinite(v)) for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def _check_no_missing(name: str, values: np.ndarray) -> None:
    bad = _missing(values)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise ValueError(
            f"feature {name!r} contains {len(rows)} missing (NaN, None or inf) value(s), in rows {shown}; "
            "hnsx does not impute: fill them first, e.g. with sklearn.impute.SimpleImputer in a Pipeline"
        )


def _as_float(name: str, values: np.ndarray) -> np.ndarray:
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        example = next((v for v in values if not isinstance(v, int | float | np.number)), values[0])
        raise ValueError(
            f"feature {name!r} holds non-numeric values (e.g. {example!r}); declare it categorical"
        ) from None


@dataclass(frozen=True)
class TabularSchema:
    """Fitted preprocessing of a table (see the module docstring for the transform).

    Attributes
    ----------
    columns:
        One :class:`Column` per input column, in input order.
    """

    columns: tuple[Column, ...] = field(default_factory=tuple)

    # ----------------------------------------------------------------- construction

    @classmethod
    def fit(cls, X: Any, categorical: list[str | int] | None = None) -> TabularSchema:
        """Fit the schema on a training table.

        Parameters
        ----------
        X:
            A pandas DataFrame or a 2-D array-like ``(N, F)``. DataFrame columns of dtype object, category, string
            or bool are categorical; all other columns are numeric.
        categorical:
            Further columns to treat as categorical, by name or position (e.g. integer-coded categories).

        Raises
        ------
        ValueError
            Fewer than 2 rows, missing values, a constant column, an unknown name in ``categorical``, or a
            non-numeric column that is not categorical.
        """
        from sklearn.preprocessing import OrdinalEncoder, StandardScaler

        names, values = _columns_of(X)
        n = len(values[0]) if values else 0
        if not names:
            raise ValueError("the table has no feature columns")
        if n < 2:
            raise ValueError(f"hnsx needs at least 2 training rows, got n_samples = {n}")
        wanted: set[int] = set()
        for item in categorical or []:
            if isinstance(item, int | np.integer) and not isinstance(item, bool):
                if not 0 <= int(item) < len(names):
                    raise ValueError(f"categorical column index {item} is out of range for {len(names)} columns")
                wanted.add(int(item))
            elif str(item) in names:
                wanted.add(names.index(str(item)))
            else:
                raise ValueError(f"categorical column {item!r} is not in the table (columns: {names})")
        dtypes = list(X.dtypes) if _is_frame(X) else [None] * len(names)
        columns = []
        for i, (name, col) in enumerate(zip(names, values)):
            _check_no_missing(name, col)
            if i in wanted or _is_categorical_dtype(col, dtypes[i]):
                cats = OrdinalEncoder().fit(col.reshape(-1, 1)).categories_[0]
                if len(cats) < 2:
                    raise ValueError(
                        f"feature {name!r} is constant (every training row holds {_plain(cats[0])!r}): "
                        "it cannot inform any prediction; drop it"
                    )
                columns.append(Column(name, CATEGORICAL, categories=[_plain(c) for c in cats]))
            else:
                numbers = _as_float(name, col)
                scaler = StandardScaler().fit(numbers.reshape(-1, 1))
                if float(scaler.var_[0]) <= 0.0 or np.ptp(numbers) == 0:
                    raise ValueError(
                        f"feature {name!r} is constant (every training row holds {float(numbers[0])!r}): "
                        "it cannot inform any prediction; drop it"
                    )
                columns.append(Column(name, NUMERIC, mean=float(scaler.mean_[0]), scale=float(scaler.scale_[0])))
        return cls(tuple(columns))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (inverse: :meth:`from_dict`)."""
        return {
            "columns": [
                {k: v for k, v in vars(c).items() if v is not None or k in ("name", "kind")} for c in self.columns
            ]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularSchema:
        try:
            columns = tuple(Column(**c) for c in data["columns"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a valid tabular schema: {err}") from None
        for c in columns:
            if c.kind not in (NUMERIC, CATEGORICAL):
                raise ValueError(f"column {c.name!r} has unknown kind {c.kind!r}")
        return cls(columns)

    # ----------------------------------------------------------------- properties

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def num_features(self) -> int:
        return len(self.columns)

    @property
    def cardinalities(self) -> list[int]:
        """Per column: 0 for numeric, ``K + 1`` (categories plus the missing code) for categorical."""
        return [c.cardinality for c in self.columns]

    @property
    def fill(self) -> list[float]:
        """Per column, the transformed value of a hidden feature: 0.0 (the training mean) or the missing code."""
        return [float(c.missing_code) if c.kind == CATEGORICAL else 0.0 for c in self.columns]

    # ----------------------------------------------------------------- transform

    def _select(self, X: Any) -> list[np.ndarray]:
        """The columns of ``X`` in schema order (by name for DataFrames, by position for arrays)."""
        names, values = _columns_of(X)
        if _is_frame(X):
            missing = [n for n in self.names if n not in names]
            extra = [n for n in names if n not in self.names]
            if missing or extra:
                parts = []
                if missing:
                    parts.append(f"missing column(s) {missing}")
                if extra:
                    parts.append(f"unknown column(s) {extra}")
                raise ValueError(f"the table's columns differ from those at fit time: {'; '.join(parts)}")
            return [values[names.index(n)] for n in self.names]
        if len(values) != self.num_features:
            raise ValueError(f"the table has {len(values)} column(s), but the model was fitted on {self.num_features}")
        return values

    def transform(self, X: Any) -> np.ndarray:
        """Transform a table to the model's float32 ``(N, F)`` input.

        Raises
        ------
        ValueError
            Missing values, a different column set, a non-numeric value in a numeric column, or a category that
            was not seen at fit time.
        """
        values = self._select(X)
        n = len(values[0])
        out = np.empty((n, self.num_features), dtype=np.float32)
        for j, (column, col) in enumerate(zip(self.columns, values)):
            _check_no_missing(column.name, col)
            if column.kind == NUMERIC:
                out[:, j] = (_as_float(column.name, col) - column.mean) / column.scale
                continue
            lookup = {_plain(c): k for k, c in enumerate(column.categories)}
            codes = np.empty(n, dtype=np.float32)
            for i, v in enumerate(col):
                code = lookup.get(_plain(v))
                if code is None:
                    code = lookup.get(str(v)) if not isinstance(_plain(v), str) else None
                if code is None:
                    raise ValueError(
                        f"feature {column.name!r} has the category {_plain(v)!r} in row {i}, which was not seen "
                        f"at fit time (known: {column.categories[:10]}{' ...' if len(column.categories) > 10 else ''})"
                    )
                codes[i] = code
            out[:, j] = codes
        return out
