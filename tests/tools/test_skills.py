"""Skills: discovery shows names and descriptions only; activation returns the body and
records the skill and its version on the run."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from core.runs.service import RunStore
from core.tools.gate import ToolGate
from core.tools.providers import build_registry
from core.tools.skills import SkillCatalog

RENEWAL = """---
name: renewal-plan
description: Create renewal plans for customer accounts. Use when analysing renewal risk.
license: MIT
---

# Renewal Plan

1. Identify account, owner, renewal date.
2. SECRET-STEP: cite the source for every material claim.
"""


def write_skills(root: Path) -> None:
    skill = root / "renewal-plan"
    (skill / "references").mkdir(parents=True)
    (skill / "SKILL.md").write_text(RENEWAL)
    (skill / "references" / "rubric.md").write_text("Red: usage down 30%.\n")
    broken = root / "broken"
    broken.mkdir()
    (broken / "SKILL.md").write_text("no front matter here")
    misnamed = root / "misnamed"
    misnamed.mkdir()
    (misnamed / "SKILL.md").write_text("---\nname: other\ndescription: x\n---\nbody")


def test_only_names_and_descriptions_reach_the_model_until_activation(tmp_path):
    write_skills(tmp_path / "skills")
    settings = Settings(
        data_dir=tmp_path, sandbox_bwrap="/nonexistent", skills_dirs=str(tmp_path / "skills")
    )
    registry = build_registry(settings)
    shown = {t.name: t.schema_for_model() for t in ToolGate(registry).visible_tools("a", "u", None)}
    assert "activate_skill" in shown and "read_skill_file" in shown
    text = str(shown)
    assert "renewal-plan: Create renewal plans" in shown["activate_skill"]["description"]
    assert "SECRET-STEP" not in text  # the body stays out of the prompt
    assert shown["activate_skill"]["input_schema"]["properties"]["name"]["enum"] == ["renewal-plan"]
    # invalid folders are skipped, not fatal
    catalog = SkillCatalog.load([tmp_path / "skills"])
    assert list(catalog.skills) == ["renewal-plan"]
    assert catalog.skills["renewal-plan"].meta == {"license": "MIT"}


async def test_activation_returns_the_body_and_records_skill_and_version_on_the_run(
    engine, tmp_path, make_ctx
):
    write_skills(tmp_path / "skills")
    catalog = SkillCatalog.load([tmp_path / "skills"])
    gate = ToolGate(build_registry(Settings(data_dir=tmp_path, sandbox_bwrap="/nonexistent")))
    for spec in catalog.specs():
        gate.registry.register(spec)
    store = RunStore(engine)
    run = store.create_run("acme", "alice", "plan the Initech renewal")
    ctx = make_ctx(engine, run_id=run["run_id"])

    verdict = gate.judge("acme", "alice", "activate_skill", {"name": "renewal-plan"})
    assert verdict.outcome == "allow"  # a pure read
    result = await gate.execute(gate.registry.get("activate_skill"), {"name": "renewal-plan"}, ctx)
    assert result.status == "succeeded", result
    assert "SECRET-STEP" in result.data["instructions"]
    assert result.data["files"] == ["references/rubric.md"]
    version = result.data["version"]
    assert version == catalog.skills["renewal-plan"].version and len(version) == 16

    events = store.events("acme", "alice", run["run_id"])
    activated = [e["data"] for e in events if e["type"] == "SkillActivated"]
    assert activated == [{"name": "renewal-plan", "version": version}]
    view = store.get_run("acme", "alice", run["run_id"])
    assert view["meta"]["skills"] == {"renewal-plan": version}
    assert store.rebuilt_view("acme", "alice", run["run_id"])["meta"] == view["meta"]

    ref = await gate.execute(
        gate.registry.get("read_skill_file"),
        {"name": "renewal-plan", "path": "references/rubric.md"},
        ctx,
    )
    assert ref.data["text"] == "Red: usage down 30%.\n"
    escape = await gate.execute(
        gate.registry.get("read_skill_file"), {"name": "renewal-plan", "path": "../../x"}, ctx
    )
    assert escape.error_type == "not_found"

    # another user's context cannot write onto this run
    intruder = make_ctx(engine, user="mallory", run_id=run["run_id"])
    denied = await gate.execute(
        gate.registry.get("activate_skill"), {"name": "renewal-plan"}, intruder
    )
    assert denied.error_type == "not_found"


def test_the_version_changes_when_any_file_of_the_skill_changes(tmp_path):
    write_skills(tmp_path)
    before = SkillCatalog.load([tmp_path]).skills["renewal-plan"].version
    (tmp_path / "renewal-plan" / "references" / "rubric.md").write_text("Red: usage down 50%.\n")
    after = SkillCatalog.load([tmp_path]).skills["renewal-plan"].version
    assert before != after
