"""Context packs: what the model sees for one step, scoped, ranked and budgeted (blueprint 4.6).

Order of assembly: the fixed parts first (instructions, output contract, policy, response
profile, task, run state, allowed tools, remaining budget), then retrieved memories (at most a
third of what is left), then the conversation: newest turns verbatim, older turns summarised.
``pack.refs`` lists every source that went in (``message:<i>`` of the checkpointed state,
``summary:<i>-<j>``, ``memory:<id>``, ``artifact:<id>``, ``tool:<name>``, ``profile:<channel>``)
so the step can save them in its checkpoint for audit and replay.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, or_, select

from core.config import Settings, get_settings
from core.context.history import fit_history
from core.context.instructions import DEVELOPER, OUTPUT_CONTRACT, SYSTEM, policy_lines
from core.context.tokens import TokenCounter
from core.memory.retrieval import retrieve
from core.store.tables import Artifact
from models.contract import ContextPack, ToolSchema

ARTIFACTS = Artifact.__table__  # type: ignore[attr-defined]
_MEMORY_SHARE = 1 / 3
_MEMORY_FIELDS = ("memory_id", "type", "subject", "content", "confidence", "scope")
_MAX_DOCUMENTS = 10
_DOCUMENTS = (
    select(ARTIFACTS.c.artifact_id, ARTIFACTS.c.name, ARTIFACTS.c.kind, ARTIFACTS.c.content_type)
    .where(
        ARTIFACTS.c.tenant_id == bindparam("t"),
        ARTIFACTS.c.user_id == bindparam("u"),
        or_(ARTIFACTS.c.run_id == bindparam("r"), ARTIFACTS.c.run_id == bindparam("p")),
    )
    .order_by(ARTIFACTS.c.created_at.desc())
    .limit(_MAX_DOCUMENTS)
)


class ContextBudgetExceeded(Exception):
    """Even the parts a step cannot do without do not fit the model's context budget."""


def retrieval_query(run: dict[str, Any], state: dict[str, Any]) -> str:
    """What the memory search looks for: the latest thing the person said, with the task."""
    last_user = next(
        (
            str(m.get("content", ""))
            for m in reversed(state.get("messages", []))
            if m.get("role") == "user"
        ),
        "",
    )
    goal = str(run.get("goal") or "")
    if not last_user or last_user == goal:
        return goal
    return f"{last_user}\n{goal}"


def _documents(conn: Connection, run: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's artifacts (and its parent's): long results the person may refer back to."""
    params = {
        "t": run["tenant_id"],
        "u": run["user_id"],
        "r": run["run_id"],
        "p": run.get("parent_run_id") or run["run_id"],
    }
    return [dict(r) for r in conn.execute(_DOCUMENTS, params).mappings()]


def _run_state(
    run: dict[str, Any], state: dict[str, Any], docs: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "status": run.get("status"),
        "step": run.get("current_step"),
        "tool_calls": run.get("tool_calls"),
        "max_tool_calls": run.get("max_tool_calls"),
        "max_steps": run.get("max_steps"),
        "decisions": state.get("decisions", 0),
        "channel": run.get("channel"),
        "meta": run.get("meta") or {},
        "documents": docs,
    }


def assemble_context(
    conn: Connection,
    *,
    run: dict[str, Any],
    state: dict[str, Any],
    tools: list[ToolSchema],
    profile: dict[str, Any],
    budget: dict[str, Any],
    token_budget: int,
    settings: Settings | None = None,
) -> ContextPack:
    """Build the context pack of the run's current step within ``token_budget`` tokens.

    ``budget`` is the run's remaining budget (copied into the pack); a ``model`` key in it
    (a litellm model string) makes token counts use that model's tokenizer. Raises
    ContextBudgetExceeded when the fixed parts alone do not fit.
    """
    settings = settings or get_settings()
    counter = TokenCounter(budget.get("model"))
    docs = _documents(conn, run)
    run_state = _run_state(run, state, docs)
    policy = policy_lines(profile, settings)
    system = "\n\n".join([SYSTEM, DEVELOPER, OUTPUT_CONTRACT])
    goal = str(run["goal"])
    tool_dump = [t.model_dump() for t in tools]
    fixed = (
        counter.count(system)
        + counter.count(goal)
        + counter.count_json(profile)
        + counter.count_json(run_state)
        + counter.count_json(tool_dump)
        + counter.count("\n".join(policy))
        + counter.count_json(budget)
        + 64  # the budget figures added below and the prompt's framing
    )
    if fixed > token_budget:
        raise ContextBudgetExceeded(
            f"instructions, task, tools and state need {fixed} tokens; the budget is {token_budget}"
        )
    left = token_budget - fixed
    memories, memory_tokens = _memories(
        conn, run, state, counter, int(left * _MEMORY_SHARE), settings
    )
    history = fit_history(list(state.get("messages", [])), left - memory_tokens, counter)
    used = fixed + memory_tokens + history.tokens
    refs = [
        *history.refs,
        *(f"memory:{m['memory_id']}" for m in memories),
        *(f"artifact:{d['artifact_id']}" for d in docs),
        *(f"tool:{t.name}" for t in tools),
    ]
    if profile.get("channel"):
        refs.append(f"profile:{profile['channel']}@{profile.get('version', 0)}")
    return ContextPack(
        tenant_id=run["tenant_id"],
        user_id=run["user_id"],
        run_id=run["run_id"],
        step=int(run.get("current_step") or 0),
        system=system,
        goal=goal,
        messages=history.messages,
        tools=tools,
        response_profile=profile,
        memories=memories,
        run_state=run_state,
        policy=policy,
        budget={
            **budget,
            "context_tokens": {
                "limit": token_budget,
                "used": used,
                "counted_with": counter.method,
                "summarised_messages": history.summarised,
            },
        },
        refs=refs,
    )


def _memories(
    conn: Connection,
    run: dict[str, Any],
    state: dict[str, Any],
    counter: TokenCounter,
    room: int,
    settings: Settings,
) -> tuple[list[dict[str, Any]], int]:
    """Relevant memories, best first, as many as fit in ``room`` tokens."""
    query = retrieval_query(run, state)
    if room <= 0 or not query.strip():
        return [], 0
    found = retrieve(
        conn,
        tenant_id=run["tenant_id"],
        user_id=run["user_id"],
        query=query,
        run_id=run["run_id"],
        settings=settings,
    )
    chosen: list[dict[str, Any]] = []
    used = 0
    for m in found:
        item = {k: m[k] for k in _MEMORY_FIELDS}
        item["updated"] = m["updated_at"].date().isoformat()
        cost = counter.count_json(item)
        if used + cost > room:
            break
        chosen.append(item)
        used += cost
    return chosen, used
