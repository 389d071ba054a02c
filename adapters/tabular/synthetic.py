"""A generated table where, per row, only some features decide the label, and scores of kept features against it.

In the spirit of INVASE's synthetic tests (Yoon et al. 2019, Syn4-Syn6): 11 features ``x0 .. x10`` drawn from
N(0, 1); the switch ``x10`` picks which subset decides the label:

* ``x10 < 0``: ``y = 1[x0 * x1 > 0]`` (the signs of ``x0`` and ``x1`` agree; XOR-like), relevant ``{x0, x1}``;
* ``x10 >= 0``: ``y = 1[x2 * x3 * x4 > 0]`` (an even number of negative signs), relevant ``{x2, x3, x4}``;
* ``x5 .. x9`` never matter.

Unlike INVASE's logistic labels, the labels here are deterministic, and every relevant feature is necessary in
every row: with one of them unknown, its row's label is a coin flip. So the ground truth is exact per row.

The switch is scored apart (:func:`selection_scores`): with mean filling, the *pattern* of kept features already
tells the seeker which rule applies, so a model needs the switch's value only to choose which features to keep,
which the hider does from the full row. Counting it as relevant would reward keeping a feature the seeker does
not need; counting it as irrelevant would punish a model that shows it. It is left out of both rates and its keep
rate is reported as ``switch_kept``.

:func:`make_categorical_switch` is the same table with categorical columns where it matters: the switch is a
category (``"a"`` / ``"b"``), ``x4`` is a colour whose group (red, green: +1; blue, grey: -1) replaces the sign
of ``x4`` in rule B, and the noise column ``x9`` is a category too. A model whose categorical keep decisions get
no gradient can never keep ``x4``, so its TPR on rule-B rows stays at most 2/3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

NUM_FEATURES = 11
SWITCH = 10
RULE_A = (0, 1)
RULE_B = (2, 3, 4)


def make_switch(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the switch data set.

    Parameters
    ----------
    n:
        Number of rows.
    seed:
        Seed of the generator.

    Returns
    -------
    X : np.ndarray
        ``(n, 11)`` float32 features.
    y : np.ndarray
        ``(n,)`` int64 labels in {0, 1}.
    relevant : np.ndarray
        ``(n, 11)`` bool, the features that decide each row's label (the switch column is False).
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, NUM_FEATURES)).astype(np.float32)
    branch_a = X[:, SWITCH] < 0
    y_a = X[:, RULE_A[0]] * X[:, RULE_A[1]] > 0
    y_b = X[:, RULE_B[0]] * X[:, RULE_B[1]] * X[:, RULE_B[2]] > 0
    y = np.where(branch_a, y_a, y_b).astype(np.int64)
    relevant = np.zeros((n, NUM_FEATURES), dtype=bool)
    relevant[np.ix_(branch_a, RULE_A)] = True
    relevant[np.ix_(~branch_a, RULE_B)] = True
    return X, y, relevant


#: Colours of the categorical ``x4`` and the sign each one stands for in rule B.
COLOURS = {"red": 1.0, "green": 1.0, "blue": -1.0, "grey": -1.0}
#: Levels of the categorical noise column ``x9``.
SHAPES = ("circle", "square", "star")


def make_categorical_switch(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The switch table with a categorical switch, a categorical relevant column and a categorical noise column.

    Columns ``x0 .. x10`` as in :func:`make_switch`, except: ``x10`` (the switch) is ``"a"`` where the numeric
    switch would be negative (rule A) and ``"b"`` otherwise; ``x4`` is a colour (:data:`COLOURS`, drawn uniformly)
    whose sign enters rule B, ``y = 1[x2 * x3 * sign(x4) > 0]``; ``x9`` is a shape (:data:`SHAPES`), never
    relevant. Returns ``(frame (n, 11), y (n,) int64, relevant (n, 11) bool)`` with the relevant sets of
    :func:`make_switch`.
    """
    import pandas as pd

    X, _, relevant = make_switch(n, seed)
    rng = np.random.default_rng(seed + 1)
    names = list(COLOURS)
    colour = rng.choice(names, n)
    sign = np.array([COLOURS[c] for c in colour], dtype=np.float32)
    branch_a = X[:, SWITCH] < 0
    y_a = X[:, RULE_A[0]] * X[:, RULE_A[1]] > 0
    y_b = X[:, RULE_B[0]] * X[:, RULE_B[1]] * sign > 0
    y = np.where(branch_a, y_a, y_b).astype(np.int64)
    frame = pd.DataFrame({f"x{j}": X[:, j].astype(np.float64) for j in range(NUM_FEATURES)})
    frame["x4"] = colour
    frame["x9"] = rng.choice(list(SHAPES), n)
    frame["x10"] = np.where(branch_a, "a", "b")
    return frame, y, relevant


def selection_scores(kept: np.ndarray, relevant: np.ndarray, ignore: tuple[int, ...] = (SWITCH,)) -> dict:
    """Per-row true-positive and false-discovery rates of kept features, averaged over rows.

    With ``K_i`` the kept and ``R_i`` the relevant features of row ``i`` (the ``ignore`` columns removed from
    both):

    * ``TPR = mean_i |K_i ∩ R_i| / |R_i|`` (rows with no relevant feature are skipped);
    * ``FDR = mean_i |K_i \\ R_i| / |K_i|``, where a row that keeps nothing counts 0 (it claims nothing false).

    Parameters
    ----------
    kept:
        ``(N, F)`` bool or {0, 1}: the features each row's mask keeps.
    relevant:
        ``(N, F)`` bool: the ground truth.
    ignore:
        Columns left out of both sets (the switch, see the module docstring); their keep rate is returned.

    Returns
    -------
    dict
        ``tpr``, ``fdr``, ``kept_per_row`` (mean number of kept features outside ``ignore``), ``ignored_kept``
        (keep rate of each ignored column, by index as a string) and ``rows``.
    """
    kept = np.asarray(kept).astype(bool)
    relevant = np.asarray(relevant).astype(bool)
    if kept.shape != relevant.shape or kept.ndim != 2:
        raise ValueError(f"kept {kept.shape} and relevant {relevant.shape} must be the same (N, F) shape")
    cols = [j for j in range(kept.shape[1]) if j not in set(ignore)]
    k, r = kept[:, cols], relevant[:, cols]
    hits = (k & r).sum(1)
    n_rel, n_kept = r.sum(1), k.sum(1)
    has_rel = n_rel > 0
    tpr = float((hits[has_rel] / n_rel[has_rel]).mean()) if has_rel.any() else float("nan")
    fdr = float(np.where(n_kept > 0, (n_kept - hits) / np.maximum(n_kept, 1), 0.0).mean())
    return {
        "tpr": tpr,
        "fdr": fdr,
        "kept_per_row": float(n_kept.mean()),
        "ignored_kept": {str(j): float(kept[:, j].mean()) for j in ignore},
        "rows": int(kept.shape[0]),
    }
