"""A run's events as a timeline a person can read: model and tool calls, approvals, messages,
and which tool calls changed something outside Baton; and its trace step by step (durations,
model cost and latency, tool outcomes)."""

from __future__ import annotations

import json
from typing import Any

from core.tools.spec import RiskLevel
from core.tracing.tree import StepTiming, TraceTimeline

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


# ----- the run's trace, step by step ---------------------------------------------------------

_VERDICT = {"allow": "allowed", "approve": "needs your approval", "deny": "not allowed"}


def trace_view(trace: TraceTimeline) -> dict[str, Any]:
    """The run's trace for the run page: each step's figures as recorded, plus a title and
    one readable line per thing that happened in it (``{kind, text}``)."""
    return {
        "exported_to": trace.exported_to,
        "cost_usd": sum((s.cost_usd for s in trace.steps), 0.0),
        "steps": [
            {**s.model_dump(mode="json"), "title": _step_title(s), "lines": _step_lines(s)}
            for s in trace.steps
        ],
    }


def _step_title(s: StepTiming) -> str:
    what = f"Step {s.step}" if s.name == "run.step" and s.step is not None else s.name
    failed = " · failed" if s.status == "error" else ""
    return f"{what} · {_ms(s.duration_ms)}{failed}"


def _step_lines(s: StepTiming) -> list[dict[str, str]]:
    lines: list[dict[str, str]] = []
    if s.understanding is not None:
        u = s.understanding
        text = f"Understood by the {u.stage}"
        if u.intent:
            text += f": {u.intent}"
        if u.confidence is not None:
            text += f" ({u.confidence:.0%} sure)"
        lines.append({"kind": "understanding", "text": text})
    for m in s.model_calls:
        parts = [f"Model {m.model}"]
        if m.input_tokens is not None or m.output_tokens is not None:
            parts.append(f"{m.input_tokens or 0} → {m.output_tokens or 0} tokens")
        parts.append(_ms(m.latency_ms))
        if m.cost_usd is not None:
            parts.append(_usd(m.cost_usd))
        if m.status and m.status != "ok":
            parts.append(m.status)
        lines.append({"kind": "model", "text": " · ".join(parts)})
    for p in s.proposals:
        lines.append(
            {"kind": "tool", "text": f"Proposed {p.tool}: {_VERDICT.get(p.verdict, p.verdict)}"}
        )
    if s.approvals_requested:
        lines.append({"kind": "approval", "text": "Approval asked"})
    for t in s.tool_calls:
        outcome = t.outcome or "unfinished"
        if t.error_type:
            outcome += f" ({t.error_type})"
        approved = ", approved" if t.approval == "approved" else ""
        kind = "tool" if t.outcome == "succeeded" else "error"
        lines.append(
            {"kind": kind, "text": f"Tool {t.tool} · {_ms(t.latency_ms)} · {outcome}{approved}"}
        )
    return lines


def _ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _usd(cost: float) -> str:
    return "$" + (f"{cost:.6f}".rstrip("0").rstrip(".") or "0")
