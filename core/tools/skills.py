"""Skills: folders with a SKILL.md, disclosed progressively (blueprint 6.4).

Discovery shows the model only each skill's name and description (in the ``activate_skill``
tool's description). Activation returns the full SKILL.md body and records, on the run, which
skill was activated and its version (a hash of the whole folder) as a ``SkillActivated``
event plus the run's ``meta.skills``. Referenced files are read with ``read_skill_file``;
bundled scripts run in the sandbox with the folder mounted read-only at ``/skill``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection

from core.runs.log import RunNotFound, RunWriter
from core.tools.builtin.storage import write
from core.tools.spec import RiskLevel, ToolContext, ToolError, ToolSpec

log = logging.getLogger(__name__)
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_FILE_CHARS = 100_000
MAX_LISTED = 200


class SkillError(ValueError):
    """A folder that is not a valid skill."""


@dataclass(frozen=True)
class Skill:
    """One loaded skill."""

    name: str
    description: str
    folder: Path
    body: str
    version: str
    files: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        raise SkillError("SKILL.md must start with a '---' front matter block")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise SkillError("SKILL.md front matter is not closed with '---'")
    try:
        meta = yaml.safe_load(parts[0][3:]) or {}
    except yaml.YAMLError as exc:
        raise SkillError(f"SKILL.md front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise SkillError("SKILL.md front matter must be a mapping")
    return meta, parts[1].lstrip("-").lstrip("\n")


def _version(folder: Path) -> tuple[str, tuple[str, ...]]:
    digest = hashlib.sha256()
    files: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in Path(rel).parts):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        if rel != "SKILL.md":
            files.append(rel)
    return digest.hexdigest()[:16], tuple(files[:MAX_LISTED])


def load_skill(folder: Path) -> Skill:
    """Load the skill in ``folder``; SkillError says why it is not one."""
    manifest = folder / "SKILL.md"
    if not manifest.is_file():
        raise SkillError(f"{folder} has no SKILL.md")
    meta, body = _front_matter(manifest.read_text(encoding="utf-8"))
    name = str(meta.get("name", "")).strip()
    description = " ".join(str(meta.get("description", "")).split())
    if not NAME.match(name) or len(name) > 64:
        raise SkillError(f"{folder}: name must be lowercase letters, digits and hyphens")
    if name != folder.name:
        raise SkillError(f"{folder}: name '{name}' must match the folder name")
    if not description or len(description) > 1024:
        raise SkillError(f"{folder}: description is required (at most 1024 characters)")
    version, files = _version(folder)
    extra = {k: v for k, v in meta.items() if k not in ("name", "description")}
    return Skill(name, description, folder.resolve(), body, version, files, extra)


class SkillCatalog:
    """The skills found in the configured folders (the first of a name wins)."""

    def __init__(self, skills: list[Skill] | None = None) -> None:
        self.skills = {s.name: s for s in skills or []}

    @classmethod
    def load(cls, roots: list[Path]) -> SkillCatalog:
        """Every valid skill directly under each root; invalid ones are logged and skipped."""
        found: dict[str, Skill] = {}
        for root in roots:
            if not root.is_dir():
                log.warning("skills folder %s does not exist", root)
                continue
            for folder in sorted(p for p in root.iterdir() if p.is_dir()):
                try:
                    skill = load_skill(folder)
                except (SkillError, OSError, UnicodeDecodeError) as exc:
                    log.warning("skipping skill %s: %s", folder, exc)
                    continue
                if skill.name in found:
                    log.warning("skill %s in %s shadowed by %s", skill.name, folder,
                                found[skill.name].folder)  # fmt: skip
                    continue
                found[skill.name] = skill
        return cls(list(found.values()))

    def folder(self, name: str) -> Path | None:
        """A skill's folder, for mounting into the sandbox."""
        skill = self.skills.get(name)
        return skill.folder if skill else None

    def _get(self, name: str) -> Skill:
        try:
            return self.skills[name]
        except KeyError:
            raise ToolError("not_found", f"no skill named '{name}'") from None

    async def activate(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Return a skill's instructions and record its activation on the run."""
        skill = self._get(args["name"])

        def record(conn: Connection) -> None:
            try:
                w = RunWriter.open(conn, ctx.run_id)
            except RunNotFound:
                raise ToolError("not_found", f"no run '{ctx.run_id}'") from None
            if (w.view["tenant_id"], w.view["user_id"]) != (ctx.tenant_id, ctx.user_id):
                raise ToolError("not_found", f"no run '{ctx.run_id}'")
            w.emit("SkillActivated", {"name": skill.name, "version": skill.version})
            active = dict((w.view.get("meta") or {}).get("skills") or {})
            active[skill.name] = skill.version
            w.emit("RunMetaChanged", {"meta": {"skills": active}})
            w.flush()

        await write(ctx.engine, record)
        return {
            "name": skill.name,
            "version": skill.version,
            "instructions": skill.body,
            "files": list(skill.files),
        }

    async def read_file(self, args: dict[str, Any], _ctx: ToolContext) -> dict[str, Any]:
        """The text of one file bundled with a skill."""
        skill = self._get(args["name"])
        target = (skill.folder / args["path"]).resolve()
        if not target.is_relative_to(skill.folder) or not target.is_file():
            raise ToolError("not_found", f"skill '{skill.name}' has no file '{args['path']}'")
        text = target.read_text(encoding="utf-8", errors="replace")
        return {
            "name": skill.name,
            "path": args["path"],
            "text": text[:MAX_FILE_CHARS],
            "truncated": len(text) > MAX_FILE_CHARS,
        }

    def specs(self) -> list[ToolSpec]:
        """activate_skill and read_skill_file, when any skill is installed."""
        if not self.skills:
            return []
        names = sorted(self.skills)
        listing = "\n".join(f"- {n}: {self.skills[n].description}" for n in names)
        return [
            ToolSpec(
                name="activate_skill",
                description=(
                    "Load the full instructions of a skill before doing a task it covers. "
                    f"Available skills:\n{listing}"
                ),
                fn=self.activate,
                input_schema={
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "enum": names}},
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("skills:use",),
                timeout_s=10,
                source="skills",
            ),
            ToolSpec(
                name="read_skill_file",
                description="Read a reference or asset file bundled with an activated skill.",
                fn=self.read_file,
                input_schema={
                    "type": "object",
                    "required": ["name", "path"],
                    "properties": {
                        "name": {"type": "string", "enum": names},
                        "path": {"type": "string", "maxLength": 300},
                    },
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("skills:use",),
                timeout_s=10,
                source="skills",
            ),
        ]
