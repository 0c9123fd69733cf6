"""Whatever an agent writes into an artifact, its run's page still opens and stays small."""

from __future__ import annotations

import html
import json
from typing import Any

from core.artifacts.service import create_artifact
from core.runs.service import RunStore
from handoff.web.render import PREVIEW_LIMIT
from tests.handoff.conftest import bearer

NESTED = "[" * 1200 + "]" * 1200
MD = 200_000  # characters of hostile markdown, each a pattern that is costly to parse

HOSTILE: dict[str, tuple[str, str]] = {
    "nested arrays": ("application/json", NESTED),
    "nested objects": ("application/json", '{"a":' * 1200 + "1" + "}" * 1200),
    "deep and wide": ("application/json", "[" * 60 + ",".join(["0"] * 200_000) + "]" * 60),
    "a key per row": ("application/json", json.dumps([{f"k{i}": i} for i in range(40_000)])),
    "wide rows": ("application/json", json.dumps([{f"k{i}": i for i in range(2000)}] * 3)),
    "open brackets": ("text/markdown", "[" * MD),
    "emphasis runs": ("text/markdown", "*a" * (MD // 2)),
    "image labels": ("text/markdown", "![" * (MD // 2)),
    "quotes": ("text/markdown", ">" * MD),
    "nested lists": ("text/markdown", "1. " * (MD // 3) + "a"),
    "quoted paragraphs": ("text/markdown", (">" * 30 + " a\n\n") * 5000),
    "long markdown": ("text/markdown", "*a* " * (PREVIEW_LIMIT // 4)),
    "wide csv": ("text/csv", ",".join(["a"] * 300_000)),
    "long csv field": ("text/csv", '"' + "a" * 200_000 + '"'),
}


def _run_with(runtime: Any, artifacts: dict[str, tuple[str, str]]) -> dict[str, Any]:
    run = RunStore(runtime.engine, runtime.settings).create_run("acme", "ann", "hostile output")
    for name, (ctype, text) in artifacts.items():
        create_artifact(
            runtime.engine, tenant_id="acme", user_id="ann", run_id=run["run_id"], name=name,
            content_type=ctype, data=text.encode(), idempotency_key=name,
            settings=runtime.settings,
        )  # fmt: skip
    return run


def test_a_deeply_nested_json_artifact_is_shown_as_text_and_the_page_opens(
    app_client, runtime, api_key
):
    run = _run_with(runtime, {"nested": ("application/json", NESTED)})
    got = app_client.get(f"/app/api/runs/{run['run_id']}", headers=bearer(api_key))
    assert got.status_code == 200, got.text
    (shown,) = got.json()["artifacts"]
    assert shown["html"] == f"<pre>{NESTED}</pre>"
    content = app_client.get(shown["download_url"], headers=bearer(api_key))
    assert content.text == NESTED


def test_hostile_artifacts_keep_their_page_open_and_small(app_client, runtime, api_key):
    run = _run_with(runtime, HOSTILE)
    got = app_client.get(f"/app/api/runs/{run['run_id']}", headers=bearer(api_key))
    assert got.status_code == 200, got.text[:300]
    shown = {a["name"]: a["html"] for a in got.json()["artifacts"]}
    assert set(shown) == set(HOSTILE)
    for name, (_ctype, text) in HOSTILE.items():
        assert shown[name], name
        # Escaping and markup widen a preview; nothing multiplies it.
        assert len(shown[name]) <= 10 * len(text) + 10_000, (name, len(shown[name]))
    assert shown["deep and wide"] == f"<pre>{html.escape(HOSTILE['deep and wide'][1])}</pre>"
    assert shown["long markdown"].startswith("<pre>*a* ")
    assert shown["wide rows"].startswith("<pre>")  # too wide for a table: its JSON
    assert "<table>" in shown["a key per row"] or shown["a key per row"].startswith("<pre>")


def test_ordinary_artifacts_still_render_as_tables_and_markdown(app_client, runtime, api_key):
    rows = [{"flight": "SK 4101", "price": 120}, {"flight": "DY 1302", "price": 135}]
    ordinary = {
        "flights.json": ("application/json", json.dumps(rows)),
        "flights.csv": ("text/csv", "flight,price\nSK 4101,120\n"),
        "report.md": ("text/markdown", "# Oslo\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n"),
        "nested.json": ("application/json", json.dumps({"a": [[[1]]]})),
    }
    run = _run_with(runtime, ordinary)
    got = app_client.get(f"/app/api/runs/{run['run_id']}", headers=bearer(api_key)).json()
    shown = {a["name"]: a["html"] for a in got["artifacts"]}
    assert (
        "<th>flight</th>" in shown["flights.json"] and "<td>SK 4101</td>" in shown["flights.json"]
    )
    assert "<th>flight</th>" in shown["flights.csv"]
    md = shown["report.md"]
    assert "<h1>Oslo</h1>" in md and "<table>" in md and "<del>2</del>" in md
    assert shown["nested.json"].startswith("<pre>{\n  &quot;a&quot;: [")
