"""Artifacts as safe HTML for the web view (markdown, tables, text), or a download link.

Nothing an agent wrote is ever served as active content: markdown is rendered with raw HTML
disabled, tables and text are escaped, and unknown types are offered as downloads only.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from markdown_it import MarkdownIt

PREVIEW_LIMIT = 1_000_000
MAX_ROWS = 500
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def _table(rows: list[list[Any]], header: list[Any] | None) -> str:
    out = ['<div class="table-wrap"><table>']
    if header:
        out.append("<thead><tr>")
        out.extend(f"<th>{html.escape(str(c))}</th>" for c in header)
        out.append("</tr></thead>")
    out.append("<tbody>")
    for row in rows[:MAX_ROWS]:
        out.append("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table></div>")
    if len(rows) > MAX_ROWS:
        out.append(f'<p class="muted">First {MAX_ROWS} of {len(rows)} rows.</p>')
    return "".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_html(text: str) -> str:
    value = json.loads(text)
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        header = list(dict.fromkeys(k for r in value for k in r))
        return _table([[r.get(k) for k in header] for r in value], header)
    pretty = json.dumps(value, indent=2, ensure_ascii=False)
    return f"<pre>{html.escape(pretty)}</pre>"


def render_artifact(meta: dict[str, Any], data: bytes, content_url: str) -> dict[str, Any]:
    """``{"html": ...}`` for a preview (None when there is none) and the download URL."""
    ctype = meta["content_type"].split(";")[0].strip()
    preview: str | None = None
    if ctype in INLINE_IMAGES:
        name, src = html.escape(meta["name"]), html.escape(content_url + "?inline=1")
        preview = f'<img alt="{name}" src="{src}">'
    elif len(data) <= PREVIEW_LIMIT and (ctype.startswith("text/") or ctype == "application/json"):
        text = data.decode("utf-8", errors="replace")
        try:
            if ctype == "text/markdown":
                preview = _md.render(text)
            elif ctype == "text/csv":
                rows = list(csv.reader(io.StringIO(text)))
                preview = _table(rows[1:], rows[0] if rows else None)
            elif ctype == "application/json":
                preview = _json_html(text)
            else:
                preview = f"<pre>{html.escape(text)}</pre>"
        except (ValueError, csv.Error):
            preview = f"<pre>{html.escape(text)}</pre>"
    return {"html": preview, "download_url": content_url}
