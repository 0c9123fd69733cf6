"""Notes: save (level 1) and search (level 0) the user's own notes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from core.ids import new_id, utcnow
from core.tools.builtin.storage import read, write
from core.tools.builtin.tables import Note
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolSpec
from core.understanding.command import Intent
from core.understanding.grammar import IntentPhrases, phrases

NOTES = Note.__table__  # type: ignore[attr-defined]
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "about", "for", "from", "has", "have", "i", "in", "is", "it",
        "me", "my", "of", "on", "or", "the", "to", "was", "what", "with",
    }
)  # fmt: skip
MAX_TERMS = 8

_NOTE = r"(?:note|notes|memo|reminder|to-?do|todo)"
INTENTS: tuple[IntentPhrases, ...] = (
    phrases(
        Intent.NOTES_SAVE,
        (
            r"^(?:take|make|write|jot|add|save|create|leave|record|keep|put)(?: down)? (?:a |me "
            r"a |this |that "
            rf"|the |another |one )?(?:quick |new |short |little )?{_NOTE}\b",
            0.96,
        ),
        (
            r"^(?:note|write down|jot down|put down|note down|record|write this down|take this "
            r"down|jot"
            r" this down)\b",
            0.95,
        ),
        (r"^note to self\b", 0.96),
        (r"^remind me (?:that|about)\b", 0.9),
        (
            r"^(?:jot|write|note|take|put|get)(?: (?:this|that|it|something|these|a few things"
            r"|some things))? down\b",
            0.95,
        ),
        (
            r"^(?:add|put|save|write|jot)(?: down)? (?:this |that |it )?(?:to|in|into|on)"
            r" (?:my |the )?(?:notes?|to-?do(?: list)?|to do(?: list)?|reminders)\b",
            0.95,
        ),
        (r"^(?:save|store|record) (?:that|this)(?= \w+ \w)", 0.9),
        (r"^(?:remind me|remember) to\b", 0.96),
        (r"^remind me (?:at|on|in|tomorrow|today|tonight|this|next|\w+day)\b.{0,30} to\b", 0.9),
        (
            r"^(?:add|put) .{1,80} (?:to|on|in) (?:my |the )?(?:notes|list|to-?do(?: list)?|"
            r"shopping list"
            r"|grocery list|reminders)\b",
            0.95,
        ),
        (r"\b(?:save|keep) (?:this|that|it) (?:as a note|in my notes)\b", 0.95),
    ),
    phrases(
        Intent.NOTES_SEARCH,
        (
            r"\b(?:find|search|look up|look for|look through|check|read|show|list|open|get|pull "
            r"up|go"
            r" through|read out|read back|give me|dig up|dig out)(?: me)? (?:all |back |whatever "
            r"|any )?(?:of )?(?:my |the "
            r")?(?:notes?|memos?)\b",
            0.96,
        ),
        (r"\bsearch (?:in |through )?(?:my |the )?notes\b", 0.96),
        (r"\bwhat i (?:wrote|noted|saved|jotted|put)(?: down)? (?:about|on|regarding)\b", 0.93),
        (
            r"^what(?:'s| is| was| were) (?:the |my )?.{1,40} (?:i|i've|i have) (?:saved|noted"
            r"|wrote(?: down)?|jotted(?: down)?|written down|put down)\s*$",
            0.93,
        ),
        (
            r"^(?:where|when|what) (?:did|have) i (?:note|noted|write|wrote|written|jot|jotted|save"
            r"|saved|put|keep|kept)\b",
            0.93,
        ),
        (r"\b(?:what|which|any) (?:notes?|memos?) (?:do|did|have) i\b", 0.95),
        (
            r"\b(?:find|look up|look for|search for|check|get|pull up|read|dig up)\b.{1,40}\b(?:in"
            r"|from|among|through) (?:my |the )?notes\b",
            0.95,
        ),
        (
            r"\bwhat (?:did|have) i (?:note|noted|write|written|wrote|jot|jotted|save|saved|"
            r"take)(?: down)?"
            r"(?: a note| in my notes)?\b",
            0.9,
        ),
        (r"\b(?:do|did) i (?:have|make|take|write|save|leave) (?:a |any )?notes?\b", 0.95),
        (
            r"\b(?:did|have) i (?:ever )?(?:jot|jotted|write|written|note|noted|save|saved|put"
            r"|record|recorded|take|taken)(?: down)? (?:anything|something|a note|notes)(?: down)?"
            r" (?:about|on|regarding|for)\b",
            0.95,
        ),
        (r"\bwhat(?:'s| is| are| s)? (?:in |on )?my notes?\b", 0.95),
        (r"\bmy notes? (?:about|on|for|from|regarding|mentioning)\b", 0.9),
        (
            r"^(?:what|which)(?:'s| is| was| were)? (?:that|the|those|my) (?:notes?|memos?)"
            r" (?:(?:that )?i (?:made|took|wrote|saved|left|had) )?(?:about|on|regarding|for)\b",
            0.93,
        ),
        (r"\b(?:any|a|some|that|the|my) notes? (?:about|on|for|regarding|mentioning)\b", 0.9),
        (
            r"\b(?:written|jotted|noted|saved|wrote|put) down (?:about|on|for|regarding)\b"
            r"|\b(?:anything|something) (?:written|jotted|noted|saved) (?:down )?(?:about|on)\b",
            0.96,
        ),
    ),
)
CANDIDATES = 200


def _terms(query: str) -> list[str]:
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1 and w not in STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _public(row: Any) -> dict[str, Any]:
    created: datetime = row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return {
        "note_id": row["note_id"],
        "title": row["title"],
        "body": row["body"],
        "tags": row["tags"] or [],
        "created_at": created.isoformat(),
    }


async def save_note(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Keep a note; a replay of the same call returns the note it saved."""
    body = args["body"].strip()
    title = (args.get("title") or body.splitlines()[0])[:120].strip()

    def save(conn: Connection) -> dict[str, Any]:
        found = (
            conn.execute(
                select(NOTES).where(
                    NOTES.c.tenant_id == ctx.tenant_id,
                    NOTES.c.user_id == ctx.user_id,
                    NOTES.c.idempotency_key == ctx.idempotency_key,
                )
            )
            .mappings()
            .first()
        )
        if found is not None:
            return {"note": _public(found), "replayed": True}
        row = {
            "note_id": new_id("note"),
            "tenant_id": ctx.tenant_id,
            "user_id": ctx.user_id,
            "title": title,
            "body": body,
            "tags": [t.strip().lower() for t in args.get("tags", []) if t.strip()],
            "idempotency_key": ctx.idempotency_key,
            "run_id": ctx.run_id,
            "created_at": utcnow(),
        }
        conn.execute(insert(NOTES).values(**row))
        return {"note": _public(row), "replayed": False}

    return await write(ctx.engine, save)


async def search_notes(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """The user's notes matching the most query words (title words count double), newest first
    among equals; an empty query lists the newest notes."""
    terms = _terms(args.get("query", ""))
    limit = int(args.get("limit", 5))
    tag = (args.get("tag") or "").strip().lower()

    def search(conn: Connection) -> list[dict[str, Any]]:
        stmt = select(NOTES).where(
            NOTES.c.tenant_id == ctx.tenant_id, NOTES.c.user_id == ctx.user_id
        )
        if terms:
            stmt = stmt.where(
                or_(
                    *(
                        col.ilike(_like(t), escape="\\")
                        for t in terms
                        for col in (NOTES.c.title, NOTES.c.body)
                    )
                )
            )
        stmt = stmt.order_by(NOTES.c.created_at.desc()).limit(CANDIDATES)
        return [dict(r) for r in conn.execute(stmt).mappings()]

    rows = await read(ctx.engine, search)
    if tag:
        rows = [r for r in rows if tag in (r["tags"] or [])]

    def score(row: dict[str, Any]) -> int:
        title, body = row["title"].lower(), row["body"].lower()
        return sum(2 * (t in title) + (t in body) for t in terms)

    # sorted() is stable: equal scores keep the newest-first order of the query.
    ranked = sorted(rows, key=score, reverse=True)[:limit]
    return {"notes": [_public(r) for r in ranked], "query_terms": terms}


def note_specs() -> list[ToolSpec]:
    """notes_save and notes_search."""
    return [
        ToolSpec(
            name="notes_save",
            description="Save a note for the user (a thought, a reminder, a fact to keep).",
            fn=save_note,
            input_schema={
                "type": "object",
                "required": ["body"],
                "properties": {
                    "title": {"type": "string", "maxLength": 120},
                    "body": {"type": "string", "minLength": 1, "maxLength": 20_000},
                    "tags": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 40},
                        "maxItems": 10,
                    },
                },
                "additionalProperties": False,
            },
            risk_level=RiskLevel.LOCAL_WRITE,
            scopes=("notes:write",),
            timeout_s=10,
            max_attempts=2,
            idempotency=Idempotency.KEYED,
        ),
        ToolSpec(
            name="notes_search",
            description="Search the user's notes by words; an empty query lists recent notes.",
            fn=search_notes,
            input_schema={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "maxLength": 500},
                    "tag": {"type": "string", "maxLength": 40},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                },
                "additionalProperties": False,
            },
            risk_level=RiskLevel.PURE_READ,
            scopes=("notes:read",),
            timeout_s=10,
            max_attempts=2,
        ),
    ]
