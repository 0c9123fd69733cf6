"""Calendar, notes and email built-ins against the real store (SQLite and Postgres) and a
real SMTP server."""

from __future__ import annotations

from typing import Any

import pytest

from core.config import Settings
from core.tools.builtin import builtin_tools
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry
from core.tools.spec import ToolResult
from voice.speech_pieces import speech_pieces

DAY = "2031-03-03"  # a Monday


def gate_for(tmp_path, **settings: Any) -> ToolGate:
    s = Settings(data_dir=tmp_path, sandbox_bwrap="/nonexistent/bwrap", **settings)
    return ToolGate(ToolRegistry(builtin_tools(s)), retry_wait_s=0.01)


async def call(gate: ToolGate, tool: str, args: dict[str, Any], ctx) -> ToolResult:
    verdict = gate.judge(ctx.tenant_id, ctx.user_id, tool, args, approved=True)
    assert verdict.outcome == "allow", verdict
    assert verdict.spec is not None
    return await gate.execute(verdict.spec, args, ctx)


async def test_calendar_finds_slots_books_refuses_clashes_and_cancels(engine, tmp_path, make_ctx):
    gate = gate_for(tmp_path)
    alice = make_ctx(engine)
    free = await call(gate, "calendar_find_slots", {"date": DAY, "duration_minutes": 60}, alice)
    assert free.status == "succeeded"
    assert [s["start"] for s in free.data["slots"]][:2] == [
        f"{DAY}T09:00:00+00:00",
        f"{DAY}T10:00:00+00:00",
    ]

    book = {"title": "Design review", "start": f"{DAY}T09:00:00Z", "duration_minutes": 90}
    booked = await call(gate, "calendar_book_meeting", book, alice)
    assert booked.status == "succeeded", booked
    event = booked.data["event"]
    assert (event["start"], event["end"]) == (f"{DAY}T09:00:00+00:00", f"{DAY}T10:30:00+00:00")

    after = await call(gate, "calendar_find_slots", {"date": DAY, "duration_minutes": 60}, alice)
    assert after.data["slots"][0]["start"] == f"{DAY}T10:30:00+00:00"

    clash = {"title": "Standup", "start": f"{DAY}T10:00:00+00:00", "duration_minutes": 15}
    refused = await call(gate, "calendar_book_meeting", clash, make_ctx(engine))
    assert (refused.status, refused.error_type, refused.retryable) == ("failed", "conflict", False)
    assert refused.data["conflicts"][0]["title"] == "Design review"

    # another user of the same tenant has a free calendar at that time
    bob = make_ctx(engine, user="bob")
    assert (await call(gate, "calendar_book_meeting", clash, bob)).status == "succeeded"
    alices = await call(gate, "calendar_list_events", {"date": DAY}, alice)
    assert [e["title"] for e in alices.data["events"]] == ["Design review"]

    cancelled = await call(gate, "calendar_cancel_meeting", {"event_id": event["event_id"]}, alice)
    assert cancelled.data["event"]["status"] == "cancelled"
    # bob cannot cancel alice's meeting: it is not on his calendar
    missing = await call(gate, "calendar_cancel_meeting", {"event_id": event["event_id"]}, bob)
    assert missing.error_type == "not_found"
    assert (await call(gate, "calendar_list_events", {"date": DAY}, alice)).data["events"] == []


async def test_a_replayed_booking_returns_the_same_meeting(engine, tmp_path, make_ctx):
    gate = gate_for(tmp_path)
    ctx = make_ctx(engine, key="run_1:3:calendar_book_meeting:abc")
    book = {"title": "1:1", "start": f"{DAY}T14:00:00+00:00", "duration_minutes": 30}
    first = await call(gate, "calendar_book_meeting", book, ctx)
    again = await call(gate, "calendar_book_meeting", book, ctx)
    assert first.data["event"]["event_id"] == again.data["event"]["event_id"]
    assert again.data["replayed"] is True
    listed = await call(gate, "calendar_list_events", {"date": DAY}, ctx)
    assert len(listed.data["events"]) == 1
    # the declared compensation undoes exactly that booking
    spec = gate.registry.get("calendar_book_meeting")
    assert spec.compensate is not None
    await spec.compensate(book, ctx)
    assert (await call(gate, "calendar_list_events", {"date": DAY}, ctx)).data["events"] == []


async def test_calendar_rejects_bad_times_with_a_clear_error(engine, tmp_path, make_ctx):
    gate = gate_for(tmp_path)
    ctx = make_ctx(engine)
    for start in ("next tuesday", "Caleb's Calendar"):
        verdict = gate.judge(
            ctx.tenant_id, ctx.user_id, "calendar_book_meeting", {"title": "x", "start": start}
        )
        assert (verdict.outcome, verdict.error_type) == ("deny", "invalid_arguments")
        assert "date-time" in (verdict.reason or "")
    backwards = {"title": "x", "start": f"{DAY}T10:00:00Z", "end": f"{DAY}T09:00:00Z"}
    assert (await call(gate, "calendar_book_meeting", backwards, ctx)).error_type == (
        "invalid_arguments"
    )


async def test_notes_are_saved_once_per_call_and_searched_per_user(engine, tmp_path, make_ctx):
    gate = gate_for(tmp_path)
    alice = make_ctx(engine, key="k1")
    saved = await call(gate, "notes_save", {"body": "Dentist on Friday at 3pm"}, alice)
    replay = await call(gate, "notes_save", {"body": "Dentist on Friday at 3pm"}, alice)
    assert saved.data["note"]["note_id"] == replay.data["note"]["note_id"]
    await call(
        gate,
        "notes_save",
        {"title": "Gift ideas", "body": "Book for Sam; 100% cotton scarf", "tags": ["Family"]},
        make_ctx(engine),
    )
    await call(gate, "notes_save", {"body": "friday: dentist reminder"}, make_ctx(engine))
    await call(gate, "notes_save", {"body": "Bob's dentist note"}, make_ctx(engine, user="bob"))
    await call(
        gate, "notes_save", {"body": "Other tenant dentist"}, make_ctx(engine, tenant="globex")
    )

    found = await call(gate, "notes_search", {"query": "dentist friday"}, make_ctx(engine))
    bodies = [n["body"] for n in found.data["notes"]]
    assert sorted(bodies) == ["Dentist on Friday at 3pm", "friday: dentist reminder"]
    literal = await call(gate, "notes_search", {"query": "100%"}, make_ctx(engine))
    assert [n["title"] for n in literal.data["notes"]] == ["Gift ideas"]
    by_tag = await call(gate, "notes_search", {"tag": "family"}, make_ctx(engine))
    assert [n["title"] for n in by_tag.data["notes"]] == ["Gift ideas"]
    recent = await call(gate, "notes_search", {}, make_ctx(engine))
    assert len(recent.data["notes"]) == 3


async def test_email_draft_then_send_delivers_one_real_message(engine, tmp_path, make_ctx, smtp):
    url, box = smtp
    gate = gate_for(tmp_path, smtp_url=url, email_from="assistant@baton.test")
    draft = await call(
        gate,
        "email_draft",
        {"to": ["sam@example.com"], "subject": "Lunch", "body": "Thursday at noon?"},
        make_ctx(engine),
    )
    assert draft.status == "succeeded" and draft.data["status"] == "draft"
    assert box.messages == []  # a draft sends nothing

    ctx = make_ctx(engine, key="run_9:4:email_send:feed")
    sent = await call(gate, "email_send", {"draft_id": draft.data["draft_id"]}, ctx)
    assert sent.status == "succeeded", sent
    assert len(box.messages) == 1
    msg = box.messages[0]
    assert msg["Subject"] == "Lunch"
    assert msg["From"] == "assistant@baton.test"
    assert msg["Message-ID"] == sent.data["message_id"]
    assert msg.get_content().strip() == "Thursday at noon?"
    assert box.envelopes == [["sam@example.com"]]

    # the same call again (a replay after a crash): the ledger answers, nothing is sent
    again = await call(gate, "email_send", {"draft_id": draft.data["draft_id"]}, ctx)
    assert again.data["replayed"] is True
    assert again.data["message_id"] == sent.data["message_id"]
    assert len(box.messages) == 1
    # a new call for an already-sent draft is refused rather than sending it twice
    twice = await call(gate, "email_send", {"draft_id": draft.data["draft_id"]}, make_ctx(engine))
    assert twice.error_type == "already_sent"
    # another user cannot send alice's draft
    other = make_ctx(engine, user="bob")
    assert (
        await call(gate, "email_send", {"draft_id": draft.data["draft_id"]}, other)
    ).error_type == ("not_found")


async def test_email_errors_are_classified_for_the_agent(
    engine, tmp_path, make_ctx, smtp, closed_port
):
    url, box = smtp
    box.refuse.add("ghost@example.com")
    gate = gate_for(tmp_path, smtp_url=url)
    msg = {"to": ["ghost@example.com"], "subject": "Hi", "body": "?"}
    refused = await call(gate, "email_send", msg, make_ctx(engine))
    assert (refused.error_type, refused.retryable) == ("recipient_refused", False)
    bad = await call(gate, "email_send", {**msg, "to": ["not an address"]}, make_ctx(engine))
    assert bad.error_type == "invalid_arguments"
    injected = await call(gate, "email_send", {**msg, "to": ["a@b.co"], "subject": "x\nBcc: z@z.z"},
                          make_ctx(engine))  # fmt: skip
    assert injected.error_type == "invalid_arguments"
    assert box.messages == []

    closed = gate_for(tmp_path, smtp_url=f"smtp://127.0.0.1:{closed_port}")
    spec = closed.registry.get("email_send")
    down = await closed.execute(spec, {**msg, "to": ["a@b.co"]}, make_ctx(engine))
    assert (down.error_type, down.retryable, down.attempts) == ("upstream_unavailable", True, 3)


@pytest.mark.parametrize("smtp_url", [None])
def test_email_send_is_not_offered_without_an_smtp_server(tmp_path, smtp_url):
    gate = gate_for(tmp_path, smtp_url=smtp_url)
    assert "email_draft" in gate.registry
    assert "email_send" not in gate.registry


def test_risky_tools_phrase_their_own_yes_no_question(tmp_path, closed_port):
    gate = gate_for(tmp_path, smtp_url=f"smtp://127.0.0.1:{closed_port}")
    book = gate.registry.get("calendar_book_meeting")
    question = book.approval_question(
        {"title": "Budget review", "start": f"{DAY}T10:00:00Z", "attendees": ["sam@example.com"]}
    )
    assert question is not None
    assert question.startswith("Should I book 'Budget review' ")
    assert question.endswith(" at 10 AM, for 30 minutes, with sam@example.com?")
    assert "Monday, March 3rd" in question
    # Spoken, its first part plays while the details after it are synthesised.
    first, rest = speech_pieces(question)
    assert first.startswith("Should I book 'Budget review' on Monday,")
    assert f"{first} {rest}" == question
    assert book.approval_question({"title": "x", "start": "soon"}) is None
    send = gate.registry.get("email_send")
    assert send.approval_question({"to": ["a@b.co"], "subject": "Hi", "body": "x"}) == (
        "Should I send the email 'Hi' to a@b.co saying: x?"
    )
    assert send.approval_question({"draft_id": "drf_1"}) == "Should I send your draft email now?"
