"""sandbox_run: the CLI/code executor tool (level 1) on top of :mod:`core.tools.sandbox`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import Settings
from core.tools.sandbox import Sandbox, SandboxLimits, SandboxUnavailable
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolResult, ToolSpec

log = logging.getLogger(__name__)
SkillFolder = Callable[[str], Path | None]


class SandboxTool:
    """Runs the agent's command in a fresh sandbox; optionally mounts a skill's folder."""

    def __init__(self, sandbox: Sandbox, skill_folder: SkillFolder | None = None) -> None:
        self.sandbox = sandbox
        self.skill_folder = skill_folder

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Execute ``command`` (shell) or ``argv``; a non-zero exit is a result, not an error."""
        if ("command" in args) == ("argv" in args):
            raise ToolError("invalid_arguments", "give exactly one of 'command' or 'argv'")
        argv = ["/bin/sh", "-c", args["command"]] if "command" in args else list(args["argv"])
        read_only: dict[str, Path] = {}
        if "skill" in args:
            folder = self.skill_folder(args["skill"]) if self.skill_folder else None
            if folder is None:
                raise ToolError("not_found", f"no skill named '{args['skill']}'")
            read_only["/skill"] = folder
        try:
            result = await self.sandbox.run(
                argv,
                files=args.get("files"),
                stdin=args.get("stdin"),
                read_only=read_only,
                wall_seconds=args.get("timeout_s"),
            )
        except ValueError as exc:
            raise ToolError("invalid_arguments", str(exc)) from exc
        data = result.as_dict()
        if result.timed_out:
            return ToolResult.fail(
                "wall_clock_exceeded",
                f"the command ran past {result.limits['wall_seconds']:g} s and was stopped",
                data=data,
            )
        how = f"exit code {result.exit_code}"
        if result.signal:
            how += f" ({result.signal})"
        return ToolResult.ok(data, message=how)

    def spec(self) -> ToolSpec:
        """The tool's declaration."""
        limits = self.sandbox.limits
        return ToolSpec(
            name="sandbox_run",
            description=(
                "Run a shell command or program in an isolated sandbox (no network, a fresh "
                f"scratch folder at /work, {limits.cpu_seconds} CPU-seconds, "
                f"{limits.memory_mb} MB). Returns exit code, stdout, stderr and changed files."
            ),
            fn=self.run,
            input_schema={
                "type": "object",
                "properties": {
                    "command": {"type": "string", "minLength": 1, "maxLength": 10_000},
                    "argv": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 10_000},
                        "minItems": 1,
                        "maxItems": 100,
                    },
                    "files": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "maxLength": 1_000_000},
                        "maxProperties": 50,
                    },
                    "stdin": {"type": "string", "maxLength": 1_000_000},
                    "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                    "skill": {"type": "string", "maxLength": 64},
                },
                "additionalProperties": False,
            },
            risk_level=RiskLevel.LOCAL_WRITE,
            scopes=("sandbox:run",),
            # The sandbox enforces its own wall clock; the gate's timeout is only a backstop.
            timeout_s=limits.wall_seconds + 15,
            idempotency=Idempotency.SAFE,
        )


def sandbox_spec(settings: Settings, skill_folder: SkillFolder | None = None) -> list[ToolSpec]:
    """sandbox_run, if bubblewrap works on this machine (never an unsandboxed fallback)."""
    limits = SandboxLimits(
        cpu_seconds=settings.sandbox_cpu_seconds,
        memory_mb=settings.sandbox_memory_mb,
        wall_seconds=settings.sandbox_wall_seconds,
        max_output_bytes=settings.sandbox_max_output_bytes,
    )
    # Scratch folders go to the system temp dir: bubblewrap, running as nobody when Baton is
    # root, must be able to reach them, which a private data dir may not allow.
    sandbox = Sandbox(settings.sandbox_bwrap, limits)
    try:
        sandbox.probe()
    except (SandboxUnavailable, OSError) as exc:
        log.warning("sandbox_run is not available: %s", exc)
        return []
    return [SandboxTool(sandbox, skill_folder).spec()]
