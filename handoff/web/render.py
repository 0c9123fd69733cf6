"""Artifacts as safe HTML for the web view (markdown, tables, text), or a download link.

Nothing an agent wrote is ever served as active content: markdown is rendered by cmark-gfm in
its safe mode (raw HTML and javascript: URLs are dropped), tables and text are escaped, and
unknown types are offered as downloads only. Nothing an agent wrote may break or stall a page
either: every preview costs time and space in proportion to the artifact, and what would not
(JSON nested too deep to pretty-print, a table too wide, markdown too long for the renderer's
budget, anything a parser refuses) is shown as the plain text it is.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import re
from typing import Any

from cmarkgfm import cmark

log = logging.getLogger(__name__)

PREVIEW_LIMIT = 1_000_000
# Longer markdown is shown as plain text; cmark-gfm renders this much in well under a second,
# whatever the input.
MARKDOWN_LIMIT = 256_000
MAX_ROWS = 500
MAX_COLUMNS = 100
# Deeper JSON is shown as written: parsing it recurses, and each level widens a pretty print.
MAX_JSON_DEPTH = 64
# A pretty print that would grow past this (indentation of many deep values) is not made.
MAX_PRETTY_CHARS = 2 * PREVIEW_LIMIT
# Rendered markdown larger than this many times its source, or nested deeper, is shown as text.
MAX_MARKDOWN_GROWTH = 10
MAX_MARKDOWN_NESTING = 32
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MARKDOWN_EXTENSIONS = ["table", "strikethrough"]
# cmark escapes text and drops raw HTML, so these are the only tags that open a level.
_NESTING_TAG = re.compile(r"<(/?)(?:blockquote|ul|ol|li)[ >]")


class _Unfit(Exception):
    """This content cannot be previewed in its own format within the budget."""


def _plain(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _table(rows: list[list[Any]], header: list[Any] | None, total: int | None = None) -> str:
    """The first MAX_ROWS of ``rows`` (of ``total``, default all of them) as an HTML table."""
    total = len(rows) if total is None else total
    if max((len(r) for r in [header or [], *rows[:MAX_ROWS]]), default=0) > MAX_COLUMNS:
        raise _Unfit(f"more than {MAX_COLUMNS} columns")
    out = ['<div class="table-wrap"><table>']
    if header:
        out.append("<thead><tr>")
        out.extend(f"<th>{html.escape(str(c))}</th>" for c in header)
        out.append("</tr></thead>")
    out.append("<tbody>")
    for row in rows[:MAX_ROWS]:
        out.append("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table></div>")
    if total > MAX_ROWS:
        out.append(f'<p class="muted">First {MAX_ROWS} of {total} rows.</p>')
    return "".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _pretty_cost(value: Any) -> int:
    """Characters of indentation ``json.dumps(value, indent=2)`` would add; _Unfit if too deep.

    Walks the value with a stack, not recursion, so its own depth is no risk.
    """
    cost = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _Unfit(f"nested deeper than {MAX_JSON_DEPTH} levels")
        cost += 2 * depth + 1
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return cost


def _json_html(text: str) -> str:
    value = json.loads(text)
    if len(text) + _pretty_cost(value) > MAX_PRETTY_CHARS:
        raise _Unfit("too large to pretty-print")
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        shown = value[:MAX_ROWS]
        header = list(dict.fromkeys(k for r in shown for k in r))
        if len(header) <= MAX_COLUMNS:
            return _table([[r.get(k) for k in header] for r in shown], header, len(value))
    return _plain(json.dumps(value, indent=2, ensure_ascii=False))


def _nesting(html_text: str) -> int:
    """How deep the quotes and lists of rendered markdown nest."""
    depth = deepest = 0
    for tag in _NESTING_TAG.finditer(html_text):
        depth += -1 if tag.group(1) else 1
        deepest = max(deepest, depth)
    return deepest


def _markdown_html(text: str) -> str:
    if len(text) > MARKDOWN_LIMIT:
        raise _Unfit("too long to render as markdown")
    html_text: str = cmark.markdown_to_html_with_extensions(
        text, options=cmark.Options.CMARK_OPT_DEFAULT, extensions=MARKDOWN_EXTENSIONS
    )
    # Each ">" or "- " can open a level: a few bytes that become a page no one can read.
    if len(html_text) > MAX_MARKDOWN_GROWTH * len(text) + 10_000:
        raise _Unfit("markdown that grows too much when rendered")
    if _nesting(html_text) > MAX_MARKDOWN_NESTING:
        raise _Unfit(f"quotes or lists nested deeper than {MAX_MARKDOWN_NESTING} levels")
    return html_text


def _csv_html(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    return _table(rows[1:], rows[0] if rows else None)


def _text_preview(ctype: str, text: str) -> str:
    try:
        if ctype == "text/markdown":
            return _markdown_html(text)
        if ctype == "text/csv":
            return _csv_html(text)
        if ctype == "application/json":
            return _json_html(text)
    # json raises RecursionError for nesting deeper than the interpreter's recursion limit.
    except (_Unfit, ValueError, RecursionError, csv.Error):
        pass
    except Exception:  # a renderer's own bug must cost one preview, never the page
        log.exception("rendering a %s artifact failed; showing it as text", ctype)
    return _plain(text)


def render_artifact(meta: dict[str, Any], data: bytes, content_url: str) -> dict[str, Any]:
    """``{"html": ...}`` for a preview (None when there is none) and the download URL."""
    ctype = meta["content_type"].split(";")[0].strip()
    preview: str | None = None
    if ctype in INLINE_IMAGES:
        name, src = html.escape(meta["name"]), html.escape(content_url + "?inline=1")
        preview = f'<img alt="{name}" src="{src}">'
    elif len(data) <= PREVIEW_LIMIT and (ctype.startswith("text/") or ctype == "application/json"):
        preview = _text_preview(ctype, data.decode("utf-8", errors="replace"))
    return {"html": preview, "download_url": content_url}
