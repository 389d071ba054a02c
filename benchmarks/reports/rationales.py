"""Report of ``hnsx bench rationales`` (``report.md``) from its results."""

from __future__ import annotations

import math
from typing import Any

from hnsx.benchmarks.results import markdown_table

#: The report's figures of every method: ``(results key, column title)``.
COLUMNS = (
    ("masked_accuracy", "masked accuracy"),
    ("relative_accuracy", "/ full accuracy"),
    ("kept_fraction", "kept fraction"),
    ("sufficiency", "sufficiency ↓"),
    ("comprehensiveness", "comprehensiveness ↑"),
    ("lexicon_precision", "lexicon precision"),
    ("evaluator_accuracy", "evaluator accuracy"),
)


def _cell(value: float) -> str:
    """A figure to four decimals; "–" for one not measured (NaN: the evaluator skipped, no word kept)."""
    return "–" if math.isnan(value) else f"{value:.4f}"


def format_report(results: dict[str, Any]) -> str:
    """``report.md``: the run, the test file and one row of figures per method."""
    table = markdown_table(
        ["method", *(title for _, title in COLUMNS)],
        [[name, *(_cell(figures[k]) for k, _ in COLUMNS)] for name, figures in results["methods"].items()],
    )
    unmasked = results.get("evaluator_accuracy_unmasked")
    evaluator = f"Evaluator: {results['evaluator_epochs']} epochs on random masks"
    evaluator += f", accuracy {unmasked:.4f} on the whole documents." if unmasked is not None else " (skipped)."
    lines = [
        f"# HnS against Captum on {results['test_file']}",
        "",
        f"Run `{results['checkpoint']}`; {results['documents']} documents, {results['valid_words']:.1f} words each "
        f"on average (after truncation); the seeker's full accuracy {results['full_accuracy']:.4f}. Every method "
        "keeps, per document, as many words as the HnS mask keeps there.",
        "",
        table,
        "",
        evaluator,
    ]
    if results.get("command"):
        lines += ["", f"Command: `{results['command']}`"]
    return "\n".join(lines) + "\n"
