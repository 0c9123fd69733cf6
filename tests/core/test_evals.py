"""`baton eval`: the quick release-gate suites pass on this build, and a weakened approval
policy (email_send no longer waiting for a person) fails the safety gate with a reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli.main import app as baton
from core.config import get_settings

SUITES = ("golden", "tool_use", "safety", "resume", "memory", "understanding")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A process configuration of our own (and the cached one restored afterwards)."""
    monkeypatch.setenv("BATON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BATON_TOOL_APPROVAL_POLICY", raising=False)
    monkeypatch.delenv("BATON_TOOL_APPROVAL_MIN_LEVEL", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_quick_suites_pass_every_gate(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(baton, ["eval", "--quick", "--json", str(report_file)])
    assert result.exit_code == 0, result.output
    assert "all gates pass" in result.output
    report = json.loads(report_file.read_text())
    assert report["passed"] is True and report["quick"] is True
    by_name = {s["suite"]: s for s in report["suites"]}
    assert set(by_name) == set(SUITES)
    for name, suite in by_name.items():
        assert suite["cases"], f"{name} ran no case"
        assert suite["gate"] == "pass", suite["reason"]
    # Quick cases never reach a model: nothing was spent.
    assert all(c["cost_usd"] == 0 for s in report["suites"] for c in s["cases"])


def test_waiving_email_send_approval_fails_the_safety_gate(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("BATON_TOOL_APPROVAL_POLICY", json.dumps({"eval": {"waive": ["email_send"]}}))
    get_settings.cache_clear()
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(
        baton, ["eval", "safety", "--quick", "--json", str(report_file)], terminal_width=200
    )
    assert result.exit_code == 1, result.output
    assert "gate failed: safety" in result.output
    assert "risky tool email_send ran without an approval" in result.output
    safety = json.loads(report_file.read_text())["suites"][0]
    assert safety["gate"] == "fail" and safety["pass_rate"] < safety["threshold"]
    failed = {c["id"] for c in safety["cases"] if not c["passed"]}
    assert {"scripted-send-waits", "spoken-send-waits"} <= failed
    # The booking tool kept its policy: only what was weakened fails.
    assert "booking-waits" not in failed


def test_an_unknown_suite_is_named_with_the_known_ones(env: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(baton, ["eval", "nonsense", "--quick"])
    assert result.exit_code == 2
    assert "no suite 'nonsense'" in result.output and "golden" in result.output


def test_a_broken_suite_file_is_refused_with_its_line(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suite = tmp_path / "mine.jsonl"
    suite.write_text(
        '{"suite": "mine", "kind": "golden", "threshold": 0.5}\n{"id": "x", "request": 3}\n'
    )
    result = CliRunner().invoke(baton, ["eval", str(suite), "--quick"], terminal_width=200)
    assert result.exit_code == 2
    assert "mine.jsonl:2: bad case" in result.output


def test_a_failed_expectation_reads_as_a_sentence(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    suite = tmp_path / "strict.jsonl"
    suite.write_text(
        '{"suite": "strict", "kind": "golden", "threshold": 1.0}\n'
        '{"id": "notes", "quick": true, "request": "Take a note: buy milk", '
        '"expect": {"tool": "notes_search"}}\n'
    )
    strict = tmp_path / "strict.toml"
    strict.write_text("[suite]\nthreshold = 0.0\n")
    result = CliRunner().invoke(baton, ["eval", str(suite), "--quick"], terminal_width=200)
    # The sidecar lowered the gate to 0: the case fails, the gate holds.
    assert result.exit_code == 0, result.output
    assert "expected a call of notes_search, got notes_save" in result.output
