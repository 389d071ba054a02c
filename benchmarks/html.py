"""``report.html``: one self-contained page per benchmark run, beside ``report.md``.

The page holds the command, the settings (the ``config`` of ``results.json``), every table and paragraph of
``report.md`` and every PNG plot of the output folder, embedded as base64 ``data:`` URIs, so the file can be mailed or
opened anywhere: it links to nothing outside itself (no scripts, no style sheets, no image files). Extra sections
(:class:`Section`: example explanations side by side, text highlights) are HTML fragments a benchmark adds.

The Markdown the reports write is a small subset (headings, pipe tables, bullet lists, paragraphs, ``code``,
``**bold**``, ``*emphasis*``, images ``![alt](file.png)``); :func:`markdown_to_html` converts exactly that subset and
escapes everything else, so a report's text can never inject markup.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPORT_HTML = "report.html"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
code, pre { background: #f5f5f5; font-family: ui-monospace, monospace; font-size: 0.9em; }
pre { padding: 0.8em; overflow-x: auto; white-space: pre-wrap; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
.side { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 0.8em; }
.side div { border: 1px solid #ddd; padding: 0.5em; }
mark { background: #ffd54f; }
"""


@dataclass(frozen=True)
class Section:
    """An extra part of the page: a heading and an HTML fragment (escaped by whoever built it)."""

    title: str
    body: str


def data_uri(png: Path) -> str:
    """``png`` as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def _inline(text: str, folder: Path | None) -> str:
    """Escape ``text`` and render the inline Markdown of the reports (code, bold, emphasis, images)."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        escaped = html.escape(part)

        def image(match: re.Match) -> str:
            alt, name = match.group(1), html.unescape(match.group(2))
            path = folder / name if folder is not None else None
            if path is None or not path.is_file() or path.suffix.lower() != ".png":
                return f"[{alt}: {html.escape(name)}]"
            return f'<img alt="{alt}" src="{data_uri(path)}">'

        escaped = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", image, escaped)
        escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
        escaped = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", escaped)
        out.append(escaped)
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_to_html(markdown: str, folder: Path | None = None) -> str:
    """The HTML of the reports' Markdown subset (module docstring); images are embedded from ``folder``."""
    lines = markdown.splitlines()
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph), folder)}</p>")
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if not stripped:
            flush()
        elif stripped.startswith("```"):
            flush()
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            code = "\n".join(block)
            out.append(f"<pre>{html.escape(code)}</pre>")
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2), folder)}</h{level}>")
        elif stripped.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            i -= 1
            header, body = rows[0], [r for r in rows[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r if c)]
            head = "".join(f"<th>{_inline(c, folder)}</th>" for c in header)
            cells = "".join("<tr>" + "".join(f"<td>{_inline(c, folder)}</td>" for c in r) + "</tr>" for r in body)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif re.match(r"^[-*]\s+", stripped):
            flush()
            items = []
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                item = re.sub(r"^\s*[-*]\s+", "", lines[i])
                items.append(f"<li>{_inline(item, folder)}</li>")
                i += 1
            i -= 1
            out.append(f"<ul>{''.join(items)}</ul>")
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)


def referenced_images(markdown: str) -> set[str]:
    """The file names of the images ``report.md`` shows itself."""
    return set(re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown))


def render_report(
    results: Mapping[str, Any],
    report_md: str,
    folder: str | Path,
    *,
    command: str | None = None,
    sections: Sequence[Section] = (),
) -> str:
    """The page of one run: title, command, settings, ``report_md``, the extra ``sections``, then every PNG of
    ``folder`` that the report does not show itself."""
    folder = Path(folder)
    title = f"hnsx bench {results.get('benchmark', '')}: {results.get('modality', '')}, {results.get('dataset', '')}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if command:
        parts.append(f"<h2>Command</h2><pre>{html.escape(command)}</pre>")
    settings = {k: results[k] for k in ("dataset", "seeds", "explainers", "config") if k in results}
    parts.append(f"<h2>Settings</h2><pre>{html.escape(json.dumps(settings, indent=2, default=str))}</pre>")
    parts.append(markdown_to_html(report_md, folder))
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>\n{section.body}")
    shown = referenced_images(report_md)
    plots = [p for p in sorted(folder.glob("*.png")) if p.name not in shown]
    if plots:
        parts.append("<h2>Plots</h2>")
        for png in plots:
            parts.append(
                f'<figure><img alt="{html.escape(png.stem)}" src="{data_uri(png)}">'
                f"<figcaption>{html.escape(png.name)}</figcaption></figure>"
            )
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def render_combined(title: str, report_md: str, folder: str | Path, subfolders: Sequence[str], command: str) -> str:
    """The page of ``hnsx bench all``: the combined ``report_md`` (its images as paths under ``folder``), then every
    PNG of each benchmark's subfolder that the report does not show."""
    folder = Path(folder)
    parts = [f"<h1>{html.escape(title)}</h1>", f"<h2>Command</h2><pre>{html.escape(command)}</pre>"]
    parts.append(markdown_to_html(report_md, folder))
    shown = referenced_images(report_md)
    for name in subfolders:
        plots = [p for p in sorted((folder / name).glob("*.png")) if f"{name}/{p.name}" not in shown]
        if plots:
            parts.append(f"<h2>Plots: {html.escape(name)}</h2>")
            parts += [
                f'<figure><img alt="{html.escape(p.stem)}" src="{data_uri(p)}">'
                f"<figcaption>{html.escape(name)}/{html.escape(p.name)}</figcaption></figure>"
                for p in plots
            ]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report_html(
    out_dir: str | Path,
    results: Mapping[str, Any],
    report_md: str,
    *,
    command: str | None = None,
    sections: Sequence[Section] = (),
) -> Path:
    """Write :func:`render_report` as ``OUT/report.html``; returns its path."""
    path = Path(out_dir) / REPORT_HTML
    path.write_text(render_report(results, report_md, out_dir, command=command, sections=sections), encoding="utf-8")
    return path


__all__ = [
    "REPORT_HTML",
    "Section",
    "data_uri",
    "markdown_to_html",
    "render_combined",
    "render_report",
    "write_report_html",
]
