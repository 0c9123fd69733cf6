"""The ``save_artifact`` tool: how an agent hands a long result to the phone instead of the call."""

from __future__ import annotations

import asyncio
from typing import Any

from core.artifacts.service import KINDS, create_artifact
from core.config import Settings
from core.errors import BatonError
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolFn, ToolSpec

TEXT_TYPES = ("text/markdown", "text/plain", "text/csv", "application/json")


def _saver(settings: Settings | None) -> ToolFn:
    async def save_artifact(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Store the content as an artifact of this run; a replay returns the same artifact."""
        try:
            row = await asyncio.to_thread(
                create_artifact,
                ctx.engine,
                tenant_id=ctx.tenant_id,
                user_id=ctx.user_id,
                run_id=ctx.run_id,
                name=args["name"],
                content_type=args.get("content_type") or "text/markdown",
                data=args["content"].encode("utf-8"),
                kind=args.get("kind") or "report",
                idempotency_key=ctx.idempotency_key,
                settings=settings,
            )
        except BatonError as exc:
            raise ToolError("invalid_arguments", exc.message) from exc
        return {
            "artifact_id": row["artifact_id"],
            "name": row["name"],
            "size_bytes": row["size_bytes"],
            "message": "saved; the person gets it on their phone",
        }

    return save_artifact


def save_artifact_tool(settings: Settings | None = None) -> ToolSpec:
    """The ``save_artifact`` declaration, storing blobs where ``settings`` say (default: env)."""
    return ToolSpec(
        name="save_artifact",
        description=(
            "Keep a long or structured result (report, table, draft, transcript) as an artifact "
            "the person opens on their phone or in the web view. Then answer in one line."
        ),
        fn=_saver(settings),
        input_schema={
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "content": {"type": "string", "minLength": 1},
                "content_type": {"type": "string", "enum": list(TEXT_TYPES)},
                "kind": {"type": "string", "enum": sorted(KINDS)},
            },
            "required": ["name", "content"],
            "additionalProperties": False,
        },
        risk_level=RiskLevel.LOCAL_WRITE,
        idempotency=Idempotency.KEYED,
        approval_required=False,
    )


def artifact_tools(settings: Settings) -> list[ToolSpec]:
    """Tool provider (``core.tools.providers.register_tool_provider``) for artifact tools."""
    return [save_artifact_tool(settings)]
