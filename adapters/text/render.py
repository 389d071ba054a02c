"""Readable word highlights: an HTML page and marked-up terminal lines.

A sentence is cut into its units (words, or tokens) by their character spans; kept units are highlighted
(``<mark>`` in HTML, ``[word]`` in text), hidden ones are greyed (HTML) or left bare. Text between units (spaces,
and words truncated away) is shown as it is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: .45em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
mark { background: #ffd54f; padding: 0 .15em; border-radius: .2em; font-weight: 600; }
mark.gold { outline: 2px solid #2e7d32; }
span.hidden { color: #9e9e9e; }
span.gold { text-decoration: underline #2e7d32 2px; }
.right { color: #2e7d32; } .wrong { color: #c62828; font-weight: 600; }
.summary { background: #f7f7f7; padding: .8em 1em; border-radius: .4em; margin-bottom: 1.2em; }
"""


def segments(text: str, spans: Sequence[tuple[int, int]], keep: Sequence[bool]) -> list[tuple[str, int | None]]:
    """Cut ``text`` into ``(piece, unit or None)``: the units' spans in order, and the text between them."""
    order = sorted((s, e, u) for u, (s, e) in enumerate(spans) if e > s)
    out: list[tuple[str, int | None]] = []
    pos = 0
    for s, e, u in order:
        if s < pos:
            continue
        if s > pos:
            out.append((text[pos:s], None))
        out.append((text[s:e], u))
        pos = e
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def mark_text(text: str, spans: Sequence[tuple[int, int]], keep: Sequence[bool]) -> str:
    """The sentence with kept units in brackets: ``"the film was [not] [good]"``."""
    return "".join(
        f"[{piece}]" if unit is not None and keep[unit] else piece for piece, unit in segments(text, spans, keep)
    )


def _html_sentence(
    text: str, spans: Sequence[tuple[int, int]], keep: Sequence[bool], gold: Sequence[bool] | None
) -> str:
    parts = []
    for piece, unit in segments(text, spans, keep):
        esc = html.escape(piece)
        if unit is None:
            parts.append(esc)
            continue
        is_gold = bool(gold[unit]) if gold is not None and unit < len(gold) else False
        if keep[unit]:
            parts.append(f'<mark class="gold">{esc}</mark>' if is_gold else f"<mark>{esc}</mark>")
        else:
            parts.append(f'<span class="hidden gold">{esc}</span>' if is_gold else f'<span class="hidden">{esc}</span>')
    return "".join(parts)


def write_highlights(
    path: str | Path,
    rows: Sequence[dict],
    *,
    title: str = "hnsx: kept words",
    summary: dict[str, float] | None = None,
) -> Path:
    """Write an HTML page with one table row per sentence.

    Each row dict holds ``text``, ``spans`` (unit character spans), ``keep`` (bool per unit), ``prediction`` (a
    class name), ``confidence`` (float) and optionally ``label`` (the true class name) and ``gold`` (bool per unit:
    the known rationale, outlined in green).
    """
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if summary:
        items = " &middot; ".join(f"{html.escape(k)} {v:.3f}" for k, v in summary.items())
        lines.append(f'<p class="summary">{items}</p>')
    lines.append(
        '<p><mark>kept</mark> words are what the classifier saw; <span class="hidden">grey</span> words were '
        "replaced by the mask token. Green outline or underline: a word known to carry the label.</p>"
    )
    has_label = any("label" in r for r in rows)
    head = "<th>#</th><th>sentence (kept words highlighted)</th><th>prediction</th><th>confidence</th>"
    head += "<th>true label</th>" if has_label else ""
    lines += ["<table>", f"<tr>{head}</tr>"]
    for i, r in enumerate(rows):
        sentence = _html_sentence(r["text"], r["spans"], r["keep"], r.get("gold"))
        cls = ""
        if has_label:
            cls = ' class="right"' if r.get("label") == r["prediction"] else ' class="wrong"'
        cells = (
            f"<td>{i + 1}</td><td>{sentence}</td><td{cls}>{html.escape(str(r['prediction']))}</td>"
            f"<td>{r['confidence']:.1%}</td>"
        )
        if has_label:
            cells += f"<td>{html.escape(str(r.get('label', '')))}</td>"
        lines.append(f"<tr>{cells}</tr>")
    lines += ["</table>", "</body></html>"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
