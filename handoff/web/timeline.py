"""A run's events as a timeline a person can read: model and tool calls, approvals, messages,
and which tool calls changed something outside Baton."""

from __future__ import annotations

import json
from typing import Any

from core.tools.spec import RiskLevel

# Tools at or above this level act on the world outside Baton (send, book, pay).
OUTSIDE = int(RiskLevel.EXTERNAL_DRAFT)
_QUIET = frozenset({"StepStarted", "CheckpointWritten", "RunQueued", "DecisionRecorded"})


def _args(arguments: Any, limit: int = 160) -> str:
    text = json.dumps(arguments or {}, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per event worth showing: ``{seq, at, kind, title, detail, outside}``."""
    risk: dict[str, int] = {}
    items: list[dict[str, Any]] = []
    for e in events:
        t, d = e["type"], e.get("data") or {}
        if t in _QUIET:
            continue
        kind, title, detail, outside = "info", t, "", False
        if t == "RunCreated":
            kind, title, detail = "run", "Run started", d.get("goal", "")
            if d.get("parent_run_id"):
                detail += f" (follow-up of {d['parent_run_id']})"
        elif t == "ModelCalled":
            kind, title = "model", f"Model called (step {d.get('step')})"
        elif t == "ToolCallProposed":
            verdict = d.get("verdict") or {}
            if "risk_level" in verdict:
                risk[d.get("tool", "")] = int(verdict["risk_level"])
            kind, title = "tool", f"Proposed {d.get('tool')}"
            detail = _args(d.get("arguments"))
        elif t == "ToolCallStarted":
            kind, title = "tool", f"Running {d.get('tool')}"
        elif t in ("ToolCallSucceeded", "ToolCallReplayed"):
            outside = risk.get(d.get("tool", ""), 0) >= OUTSIDE
            kind = "outside" if outside else "tool"
            title = f"{'Changed outside: ' if outside else ''}{d.get('tool')} done"
            detail = d.get("message", "")
        elif t == "ToolCallFailed":
            kind, title, detail = "error", f"{d.get('tool')} failed", d.get("message", "")
        elif t == "ToolCallDenied":
            verdict = d.get("verdict") or {}
            kind, title, detail = "error", f"{d.get('tool')} not allowed", verdict.get("reason", "")
        elif t == "ApprovalRequested":
            kind, title = "approval", "Approval asked"
            detail = d.get("question") or f"{d.get('tool')} {_args(d.get('arguments'))}"
        elif t == "ApprovalGranted":
            kind, title = "approval", f"Approved{_via(d)}"
            detail = "with edited arguments" if d.get("edited") else ""
        elif t == "ApprovalDenied":
            kind, title = "approval", f"Denied{_via(d)}"
        elif t == "ApprovalSuperseded":
            kind, title = "approval", "Approval replaced by a new message"
        elif t == "HumanInputRequested":
            kind, title, detail = "question", "Question for you", d.get("question", "")
        elif t == "UserMessageReceived":
            kind, title, detail = "message", f"You{_via(d)}", d.get("text", "")
        elif t == "ArtifactCreated":
            kind, title = "artifact", f"Artifact: {d.get('name')}"
            detail = f"{d.get('content_type')}, {d.get('size_bytes')} bytes"
        elif t == "MemoryWriteProposed":
            kind, title, detail = "memory", "Memory proposed", str(d.get("content", ""))
        elif t == "RunCompleted":
            kind, title, detail = "done", "Completed", d.get("result") or ""
        elif t == "RunFailed":
            kind, title, detail = "error", "Failed", d.get("reason") or ""
        elif t == "RunCancelled":
            kind, title, detail = "run", f"Cancelled{_via(d)}", d.get("reason") or ""
        elif t == "RunResumed":
            kind, title = "run", f"Resumed{_via(d)}"
        items.append(
            {
                "seq": e["seq"],
                "at": e["created_at"].isoformat() if e.get("created_at") else None,
                "type": t,
                "kind": kind,
                "title": title,
                "detail": detail,
                "outside": outside,
            }
        )
    return items


def _via(data: dict[str, Any]) -> str:
    channel = data.get("channel")
    return f" ({channel})" if channel else ""
