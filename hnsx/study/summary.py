"""The per-run rules of a multi-seed study (paper section 6), shared by its tables and its figures.

* A run's *converged* values are its evaluation F, I, FIR and FII after its last epoch.
* A run *collapsed* when its last epoch has F < 0.2 (fidelity collapse) or I < 0.2 (interpretability collapse), the
  thresholds of the paper's Table 1.
* A run *converged* (paper 6.3) at the first epoch whose evaluation F >= 0.9 and I >= 0.9.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hnsx.metrics import COLLAPSE_THRESHOLD

CONVERGED_F = 0.9
CONVERGED_I = 0.9
FINAL_RULE = "converged values: evaluation F, I, FIR, FII after each run's last epoch"
COLLAPSE_RULE = (
    f"collapse: last epoch F < {COLLAPSE_THRESHOLD} (fidelity) or I < {COLLAPSE_THRESHOLD} (interpretability); "
    "the total counts a run once"
)
CONVERGENCE_RULE = (
    f"convergence: the first epoch with evaluation F >= {CONVERGED_F} and I >= {CONVERGED_I} (paper 6.3); "
    "epoch statistics over the runs that reach it and did not collapse"
)


def convergence_epoch(history: Sequence[dict[str, Any]]) -> int | None:
    """The first epoch with ``F >= 0.9`` and ``I >= 0.9`` (``None`` if there is none)."""
    for record in history:
        if record["F"] >= CONVERGED_F and record["I"] >= CONVERGED_I:
            return int(record["epoch"])
    return None


def run_summary(record: dict[str, Any]) -> dict[str, Any]:
    """Converged values, collapse flags and convergence epoch of one run record of ``results.json``."""
    last = record["history"][-1]
    collapsed_f = last["F"] < COLLAPSE_THRESHOLD
    collapsed_i = last["I"] < COLLAPSE_THRESHOLD
    return {
        "key": record["key"],
        "seed": record["seed"],
        "F": last["F"],
        "I": last["I"],
        "FIR": last["FIR"],
        "FII": last["FII"],
        "epochs": int(last["epoch"]),
        "collapsed_fidelity": collapsed_f,
        "collapsed_interpretability": collapsed_i,
        "collapsed": collapsed_f or collapsed_i,
        "converged_epoch": convergence_epoch(record["history"]),
        "E": record.get("final", {}).get("evaluator_accuracy"),
        "accuracy": last.get("accuracy"),
        "seconds": record.get("seconds"),
    }
