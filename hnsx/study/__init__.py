"""Multi-seed studies of the paper's section 6 (``hnsx study``).

The package reads top-down: :mod:`~hnsx.study.grid` (configurations, shared settings, run keys),
:mod:`~hnsx.study.run` (one run: data, spec, shared baseline, training), :mod:`~hnsx.study.runner` (a study folder:
the grid over seeds, resume, worker processes), :mod:`~hnsx.study.summary` (the per-run rules: converged values,
collapse, convergence), :mod:`~hnsx.study.report` (tables and ``report.md``) and :mod:`~hnsx.study.plots`
(figures). Imports go one way: report and plots both read summary; neither imports the other at import time.
"""

from hnsx.study.grid import (
    ALL,
    PAPER_STOCHASTIC,
    STOCHASTIC_CHOICES,
    STUDY_NAMES,
    RunConfig,
    StudySettings,
    expand_studies,
    quick_settings,
    run_key,
    study_configs,
)
from hnsx.study.report import table1, table1_markdown, write_report
from hnsx.study.run import (
    RESULT_FILE,
    RunTask,
    baseline_accuracy,
    evaluator_accuracy,
    label_evaluator,
    load_study_data,
    run_spec,
    train_run,
)
from hnsx.study.runner import choose_stochastic, finished_runs, run_study
from hnsx.study.summary import run_summary

__all__ = [
    "ALL",
    "PAPER_STOCHASTIC",
    "RESULT_FILE",
    "STOCHASTIC_CHOICES",
    "STUDY_NAMES",
    "RunConfig",
    "RunTask",
    "StudySettings",
    "baseline_accuracy",
    "choose_stochastic",
    "evaluator_accuracy",
    "expand_studies",
    "finished_runs",
    "label_evaluator",
    "load_study_data",
    "quick_settings",
    "run_key",
    "run_spec",
    "run_study",
    "run_summary",
    "study_configs",
    "table1",
    "table1_markdown",
    "train_run",
    "write_report",
]
