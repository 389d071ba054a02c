"""Tables of a multi-seed study (paper section 6): Table 1 per configuration, a Table 2 style best-run summary,
and ``report.md`` with the figures of :mod:`hnsx.study.plots`.

Definitions (written into every report):

* A run's *converged* values are its evaluation F, I, FIR and FII after its last epoch.
* A run *collapsed* when its last epoch has F < 0.2 (fidelity collapse) or I < 0.2 (interpretability collapse), the
  thresholds of the paper's Table 1; the total counts a run once even when both hold.
* A run *converged* (paper 6.3: "within 90 % of the baseline" and "90 % of pixels hidden") at the first epoch whose
  evaluation F >= 0.9 and I >= 0.9; its epochs to convergence are that epoch's number. Runs that never get there do
  not count towards the mean and fastest convergence.
* Mean / peak F, I, FII and mean FIR are taken over the runs that did not collapse (the paper's footnote 1); the std
  rows give the seed-to-seed spread of those runs.
* The Table 2 row of a configuration is its best epoch over all runs: the highest FII among epochs that did not
  collapse (the rule of the ``best`` checkpoint of :func:`hnsx.training.fit`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hnsx.metrics import COLLAPSE_THRESHOLD
from hnsx.study.summary import (
    COLLAPSE_RULE,
    CONVERGED_F,
    CONVERGED_I,
    CONVERGENCE_RULE,
    FINAL_RULE,
    run_summary,
)

LABEL_ENCODING_NOTE = (
    "Label-encoding check: E is the accuracy of an independent evaluator (the seeker's architecture trained from "
    "scratch on training images under random masks, one per seed; see hnsx.study.run) on each run's masked "
    "evaluation images, after the last epoch. The run's own masked accuracy is F times the baseline; an E far below "
    "it means the mask's shape, not the kept pixels, carries the class."
)
STUDY_TITLES = {
    "init": "Initialisation (paper 6.3): deterministic binarizer",
    "estimators": "Stochastic gradient estimators (paper 6.4), from scratch",
    "slope-rates": "Slope-annealing rates (paper 6.4), stochastic, from scratch",
    "thresholding": "Deterministic vs stochastic thresholding (paper 6.5, Table 1), from scratch",
    "objectives": "Training objectives beyond the paper (docs/objectives.md)",
}


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def _max(values: Sequence[float]) -> float:
    return max(values) if values else math.nan


def table1(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The paper's Table 1 figures for the runs of one configuration (see the module docstring)."""
    runs = [run_summary(r) for r in records]
    kept = [r for r in runs if not r["collapsed"]]
    conv = [r["converged_epoch"] for r in kept if r["converged_epoch"] is not None]
    return {
        "runs": len(runs),
        "collapsed_fidelity": sum(r["collapsed_fidelity"] for r in runs),
        "collapsed_interpretability": sum(r["collapsed_interpretability"] for r in runs),
        "collapsed": sum(r["collapsed"] for r in runs),
        "mean_F": _mean([r["F"] for r in kept]),
        "std_F": _std([r["F"] for r in kept]),
        "peak_F": _max([r["F"] for r in kept]),
        "mean_I": _mean([r["I"] for r in kept]),
        "std_I": _std([r["I"] for r in kept]),
        "peak_I": _max([r["I"] for r in kept]),
        "mean_FII": _mean([r["FII"] for r in kept]),
        "peak_FII": _max([r["FII"] for r in kept]),
        "mean_FIR": _mean([r["FIR"] for r in kept]),
        "mean_accuracy": _mean([r["accuracy"] for r in kept if r["accuracy"] is not None]),
        "mean_kept": _mean([1.0 - r["I"] for r in kept]),
        "mean_E": _mean([r["E"] for r in kept if r["E"] is not None]),
        "std_E": _std([r["E"] for r in kept if r["E"] is not None]),
        "converged": len(conv),
        "mean_convergence_epochs": _mean(conv),
        "fastest_convergence_epochs": min(conv) if conv else None,
    }


#: Rows of the Table 1 markdown: (label, key, format).
TABLE1_ROWS = (
    ("runs finished", "runs", "d"),
    ("#runs collapsed (F < 0.2)", "collapsed_fidelity", "d"),
    ("#runs collapsed (I < 0.2)", "collapsed_interpretability", "d"),
    ("#runs collapsed (total)", "collapsed", "d"),
    ("mean converged F ¹", "mean_F", ".3f"),
    ("std converged F ¹", "std_F", ".3f"),
    ("peak converged F ¹", "peak_F", ".3f"),
    ("mean converged I ¹", "mean_I", ".3f"),
    ("std converged I ¹", "std_I", ".3f"),
    ("peak converged I ¹", "peak_I", ".3f"),
    ("mean FII ¹", "mean_FII", ".3f"),
    ("peak FII ¹", "peak_FII", ".3f"),
    ("mean FIR ¹", "mean_FIR", ".3f"),
    ("mean kept fraction (1 - I) ¹", "mean_kept", ".3f"),
    ("mean masked accuracy ¹", "mean_accuracy", ".3f"),
    ("mean evaluator accuracy E ¹ ³", "mean_E", ".3f"),
    ("std evaluator accuracy E ¹ ³", "std_E", ".3f"),
    ("#runs converged (F, I >= 0.9) ¹", "converged", "d"),
    ("mean convergence (epochs) ²", "mean_convergence_epochs", ".1f"),
    ("fastest convergence (epochs) ²", "fastest_convergence_epochs", "d"),
)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, spec)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def table1_markdown(columns: Sequence[tuple[str, Sequence[dict[str, Any]]]], seeds: int) -> str:
    """Table 1 with one column per configuration: ``columns`` is ``[(label, run records), ...]``."""
    stats = [table1(records) for _, records in columns]
    header = ["", *[label for label, _ in columns]]
    rows = []
    for label, key, spec in TABLE1_ROWS:
        cells = [_fmt(s[key], spec) for s in stats]
        if key == "runs":
            cells = [f"{s['runs']}/{seeds}" for s in stats]
        rows.append([label, *cells])
    notes = (
        "¹ runs that did not collapse; values after the last epoch. "
        f"² runs that did not collapse and reached F >= {CONVERGED_F} and I >= {CONVERGED_I}; "
        "the first such epoch. "
        "³ label-encoding check: an independent evaluator's accuracy on the run's masked evaluation images."
    )
    return _table(header, rows) + "\n\n" + notes


def best_epoch(record: dict[str, Any]) -> dict[str, Any] | None:
    """The epoch of a run with the highest FII among those that did not collapse."""
    ok = [r for r in record["history"] if r["F"] >= COLLAPSE_THRESHOLD and r["I"] >= COLLAPSE_THRESHOLD]
    return max(ok, key=lambda r: r["FII"]) if ok else None


def table2_markdown(columns: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> str:
    """Table 2 style: per configuration its best epoch over all runs (seed, epoch, F %, I %, FIR, FII)."""
    rows = []
    for label, records in columns:
        best = [(best_epoch(r), r) for r in records]
        best = [(b, r) for b, r in best if b is not None]
        if not best:
            rows.append([label, "–", "–", "–", "–", "–", "–"])
            continue
        epoch, record = max(best, key=lambda pair: pair[0]["FII"])
        rows.append(
            [
                label,
                str(record["seed"]),
                str(epoch["epoch"]),
                f"{100 * epoch['F']:.2f}",
                f"{100 * epoch['I']:.2f}",
                f"{epoch['FIR']:.3f}",
                f"{epoch['FII']:.3f}",
            ]
        )
    return _table(["configuration", "seed", "epoch", "Fidelity (%)", "Interpretability (%)", "FIR", "FII"], rows)


def runs_markdown(columns: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> str:
    """Every run's converged values, collapse and convergence epoch."""
    rows = []
    for label, records in columns:
        for record in sorted(records, key=lambda r: r["seed"]):
            s = run_summary(record)
            collapse = "F" if s["collapsed_fidelity"] else ""
            collapse += "I" if s["collapsed_interpretability"] else ""
            rows.append(
                [
                    label,
                    str(s["seed"]),
                    f"{s['F']:.3f}",
                    f"{s['I']:.3f}",
                    f"{s['FIR']:.3f}",
                    f"{s['FII']:.3f}",
                    _fmt(s["E"], ".3f"),
                    collapse or "no",
                    _fmt(s["converged_epoch"], "d"),
                    _fmt(s["seconds"], ".0f"),
                ]
            )
    header = ["configuration", "seed", "F", "I", "FIR", "FII", "E", "collapsed", "converged at epoch", "seconds"]
    return _table(header, rows)


def study_columns(results: dict[str, Any], study: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """``[(label, run records), ...]`` for the configurations of one study of ``results.json``, seeds in range."""
    entry = results["studies"][study]
    columns = []
    for name in entry["configs"]:
        records = [r for r in results["runs"] if r["config"] == name and r["seed"] < entry["seeds"]]
        columns.append((results["configs"][name]["label"], records))
    return columns


def _settings_markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    alpha = s["alpha"]
    alpha_text = (
        "adaptive (paper 5.4.2)"
        if alpha == "adaptive"
        else f"constant {alpha} (the demo's setting; the paper's adaptive alpha did not lower alpha once in 15 "
        "epochs on the embedded MNIST, so a study's budget would train plain classifiers: `--alpha adaptive` "
        "chooses it)"
    )
    limits = []
    if s.get("train_limit"):
        limits.append(f"first {s['train_limit']} training images")
    if s.get("eval_limit"):
        limits.append(f"first {s['eval_limit']} evaluation images")
    lines = [
        f"- data set: `{s['dataset']}` (split seed {s['data_seed']}{'; ' + ', '.join(limits) if limits else ''})",
        f"- epochs per run: {s['epochs']}; pretraining epochs (pretrained inits): {s['pretrain_epochs']}",
        f"- alpha: {alpha_text}",
        f"- batch size {s['batch_size']}, Adam lr {s['lr']}, hider `{s['hider']}`, seeker `{s['seeker']}`",
        f"- Fidelity baseline: one seeker per seed trained alone on unmasked data for {s['pretrain_epochs']} + "
        f"{s['epochs']} epochs, shared by every configuration of that seed",
        "- seeds 0 .. N-1; a run's seed sets its weights, data order and stochastic masks (the split is fixed)",
    ]
    return "\n".join(lines)


def report_markdown(results: dict[str, Any], figures: dict[str, dict[str, str]] | None = None) -> str:
    """The whole ``report.md``: settings, rules, then per study Table 1, Table 2, the runs and the figures."""
    parts = [
        "# Hide-and-Seek studies",
        "",
        _settings_markdown(results),
        "",
        "Rules:",
        "",
        f"- {FINAL_RULE}",
        f"- {COLLAPSE_RULE}",
        f"- {CONVERGENCE_RULE}",
        "- best run (Table 2 style): the epoch with the highest FII among epochs that did not collapse",
        "",
        LABEL_ENCODING_NOTE,
    ]
    order = list(STUDY_TITLES)
    for study, entry in sorted(results["studies"].items(), key=lambda kv: order.index(kv[0])):
        columns = study_columns(results, study)
        parts += ["", f"## {study}: {STUDY_TITLES.get(study, study)}", ""]
        parts += [f"{entry['seeds']} seeds per configuration."]
        if study == "thresholding":
            parts += ["", f"Stochastic estimator: `{entry['stochastic']}`, {entry['stochastic_reason']}."]
        parts += ["", "### Table 1", "", table1_markdown(columns, entry["seeds"])]
        parts += ["", "### Best run per configuration (Table 2 style)", "", table2_markdown(columns)]
        parts += ["", "### Runs", "", runs_markdown(columns)]
        for title, path in (figures or {}).get(study, {}).items():
            parts += ["", f"![{title}]({path})"]
    return "\n".join(parts) + "\n"


def write_report(out: str | Path, results: dict[str, Any], plots: bool = True) -> Path:
    """Write ``report.md`` (and, with ``plots``, the figures of every study) into ``out``."""
    out = Path(out)
    figures: dict[str, dict[str, str]] = {}
    if plots:
        from hnsx.study.plots import save_study_figures

        for study in results["studies"]:
            columns = study_columns(results, study)
            if any(records for _, records in columns):
                paths = save_study_figures(out, study, columns)
                figures[study] = {title: path.name for title, path in paths.items()}
    path = out / "report.md"
    path.write_text(report_markdown(results, figures))
    return path
