"""Self-contained HTML reports: figures embedded as base64 PNG, no network at view time."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from ketasim import DISCLAIMER, __version__
from ketasim.io.files import atomic_path

Table = tuple[Sequence[str], Sequence[Sequence[object]]]


def _img(png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def _table(table: Table) -> str:
    head, rows = table
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def write_report(
    path: str | Path,
    title: str,
    sections: Sequence[tuple[str, str, Sequence[Path], Sequence[Table]]],
) -> Path:
    """Write an HTML page: (heading, paragraph, figures, tables) per section; atomic."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
        "th{background:#f3f3f3}.note{background:#fff6d6;border:1px solid #e6cf7a;padding:.6em 1em}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'><strong>{html.escape(DISCLAIMER)}</strong></p>",
    ]
    for heading, text, figures, tables in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if text:
            parts.append(f"<p>{html.escape(text)}</p>")
        parts += [_img(f) for f in figures]
        parts += [_table(t) for t in tables]
    parts.append(f"<hr><p><small>ketasim {__version__}. {html.escape(DISCLAIMER)}</small></p></body></html>")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return Path(path)
