"""/costs and `baton costs`: model spend by user, run, model, tool and task over a window,
never another user's (unless admin) and never another tenant's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from core.auth.keys import USERS, create_key
from core.cli.main import app as baton
from core.config import Settings, get_settings
from core.costs.service import TOOL_INVOCATIONS
from core.store.model_calls import MODEL_CALLS
from tests.contacts.serving import serve
from tests.core.api_harness import api
from tests.core.helpers import gate_with

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)


def _call(
    tenant: str,
    user: str,
    run: str,
    step: int,
    model: str,
    cost: float,
    at: datetime,
    task: str = "decision",
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "user_id": user,
        "run_id": run,
        "step": step,
        "task_type": task,
        "model": model,
        "model_name": model.split("/")[-1],
        "status": "ok",
        "attempt": 1,
        "input_tokens": 100,
        "output_tokens": 10,
        "latency_ms": 5.0,
        "cost_usd": cost,
        "created_at": at,
    }


CALLS = [
    _call("acme", "alice", "run_a1", 0, "openai/gpt-4o-mini", 0.25, NOW - timedelta(hours=1)),
    _call("acme", "alice", "run_a1", 1, "openai/gpt-4o", 1.5, NOW - timedelta(hours=1)),
    _call("acme", "alice", "run_a2", 0, "openai/gpt-4o-mini", 0.5, NOW - 2 * DAY, "summary"),
    _call("acme", "alice", "run_old", 0, "openai/gpt-4o", 8.0, NOW - 60 * DAY),
    _call("acme", "bob", "run_b1", 0, "openai/gpt-4o", 2.0, NOW - timedelta(hours=2)),
    _call("globex", "carol", "run_c1", 0, "openai/gpt-4o", 100.0, NOW - timedelta(hours=1)),
    # Same user name in another tenant: a different person.
    _call("globex", "alice", "run_c2", 0, "openai/gpt-4o", 50.0, NOW - timedelta(hours=1)),
]


def seed(engine: Engine) -> None:
    """The ledger above, and the email tool run at step 1 of alice's first run."""
    with engine.begin() as conn:
        conn.execute(insert(MODEL_CALLS), CALLS)
        conn.execute(
            insert(TOOL_INVOCATIONS).values(
                tool_call_id="tc_1",
                run_id="run_a1",
                tenant_id="acme",
                user_id="alice",
                step=1,
                tool_name="email.send",
                arguments_json={},
                arguments_hash="0" * 64,
                idempotency_key="k1",
                status="succeeded",
                attempts=1,
            )
        )


def key(engine: Engine, tenant: str, user: str, *scopes: str) -> dict[str, str]:
    made = create_key(engine, tenant, user)
    if scopes:
        with engine.begin() as conn:
            conn.execute(
                USERS.update()
                .where(USERS.c.tenant_id == tenant, USERS.c.user_id == user)
                .values(scopes=list(scopes))
            )
    return {"Authorization": f"Bearer {made}"}


def lines(report: dict[str, Any]) -> dict[str | None, float]:
    return {line["key"]: round(line["cost_usd"], 6) for line in report["lines"]}


@pytest.fixture
def client(engine: Engine) -> Iterator[Any]:
    seed(engine)
    with api(engine, gate_with()) as c:
        yield c


def test_a_user_sees_only_their_own_spend_by_model(client, engine):
    r = client.get("/costs", headers=key(engine, "acme", "alice"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["scope"] == "user" and report["user_id"] == "alice"
    assert report["group_by"] == "model"
    # The 30-day default window leaves out the 60-day-old call; bob and globex are not here.
    assert lines(report) == {"openai/gpt-4o": 1.5, "openai/gpt-4o-mini": 0.75}
    assert [line["key"] for line in report["lines"]] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert report["total_usd"] == pytest.approx(2.25)
    assert report["total_calls"] == 3
    mini = report["lines"][1]
    assert (mini["calls"], mini["input_tokens"], mini["output_tokens"]) == (2, 200, 20)


def test_grouping_by_run_tool_and_task(client, engine):
    h = key(engine, "acme", "alice")
    groups = ("run", "tool", "task_type", "user", "tenant")
    by = {g: client.get("/costs", params={"group_by": g}, headers=h).json() for g in groups}
    assert lines(by["run"]) == {"run_a1": 1.75, "run_a2": 0.5}
    # The step that chose the email tool is the tool's; the others chose none.
    assert lines(by["tool"]) == {"email.send": 1.5, None: 0.75}
    assert lines(by["task_type"]) == {"decision": 1.75, "summary": 0.5}
    assert lines(by["user"]) == {"alice": 2.25}
    assert lines(by["tenant"]) == {"acme": 2.25}


def test_the_window_bounds_what_is_summed(client, engine):
    h = key(engine, "acme", "alice")
    day = client.get(
        "/costs", params={"since": (NOW - DAY).isoformat(), "group_by": "run"}, headers=h
    ).json()
    assert lines(day) == {"run_a1": 1.75}
    # A time without a zone is UTC; until is excluded.
    naive = (NOW - 90 * DAY).replace(tzinfo=None).isoformat()
    old = client.get(
        "/costs",
        params={"since": naive, "until": (NOW - 2 * DAY).isoformat(), "group_by": "run"},
        headers=h,
    ).json()
    assert lines(old) == {"run_old": 8.0}
    assert old["since"].startswith((NOW - 90 * DAY).date().isoformat())


def test_tenant_spend_needs_the_admin_scope_and_stays_in_the_tenant(client, engine):
    plain = client.get("/costs", params={"scope": "tenant"}, headers=key(engine, "acme", "alice"))
    assert plain.status_code == 403
    assert "admin" in plain.json()["detail"]
    admin = key(engine, "acme", "root", "admin")
    r = client.get("/costs", params={"scope": "tenant", "group_by": "user"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "tenant"
    assert lines(r.json()) == {"bob": 2.0, "alice": 2.25}
    # Without scope=tenant an admin sees their own (no) spend, like anyone.
    own = client.get("/costs", headers=admin).json()
    assert own["lines"] == [] and own["total_usd"] == 0
    carol = key(engine, "globex", "carol", "admin")
    other = client.get("/costs", params={"scope": "tenant", "group_by": "tenant"}, headers=carol)
    assert lines(other.json()) == {"globex": 150.0}


BAD = [
    ({"since": "last tuesday"}, "datetime"),
    ({"until": "2026-13-45"}, "datetime"),
    ({"group_by": "planet"}, "model"),
    ({"scope": "world"}, "tenant"),
    ({"limit": "0"}, "greater than"),
    ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "must be before"),
]


def test_bad_parameters_are_a_clear_422_and_no_key_a_401(client, engine):
    h = key(engine, "acme", "alice")
    for params, reason in BAD:
        r = client.get("/costs", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert reason in json.dumps(r.json()), (params, r.text)
    assert client.get("/costs").status_code == 401


def test_cli_prints_json_and_a_table(engine, monkeypatch):
    seed(engine)
    with serve(engine, Settings(plugins="none", agent="scripted")) as url:
        env = {"BATON_URL": url, "BATON_API_KEY": create_key(engine, "acme", "alice")}
        for name, val in env.items():
            monkeypatch.setenv(name, val)
        get_settings.cache_clear()
        try:
            runner = CliRunner()
            as_json = runner.invoke(baton, ["costs", "--group-by", "run", "--json"], env=env)
            assert as_json.exit_code == 0, as_json.output
            assert lines(json.loads(as_json.stdout)) == {"run_a1": 1.75, "run_a2": 0.5}
            table = runner.invoke(baton, ["costs", "--since", (NOW - DAY).isoformat()], env=env)
            assert table.exit_code == 0, table.output
            assert "1.750000 USD in 2 model calls" in table.stdout
            assert "openai/gpt-4o" in table.stdout
            bad = runner.invoke(baton, ["costs", "--since", "yesterday"], env=env)
            assert bad.exit_code == 1
            assert "422" in bad.output and "since" in bad.output
            refused = runner.invoke(baton, ["costs", "--tenant"], env=env)
            assert refused.exit_code == 1 and "admin" in refused.output
        finally:
            get_settings.cache_clear()
