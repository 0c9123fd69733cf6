"""The command layer decides recognised commands itself, resolves them, and speaks results
from templates; the model behind it is never asked (it fails the test if it is)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from core.agent.factory import ModelConfigError, with_command_stage
from core.auth.keys import create_key
from core.memory.pipeline import process_proposals
from core.runs.service import RunStore
from core.tools.builtin.calendar_tools import EVENTS, CalendarTools
from core.tools.spec import ToolContext
from core.understanding.agent import CommandAgent
from models.contract import AgentResult, ContextPack, ToolCallDecision
from tests.core.helpers import drive
from tests.memory.helpers import seed as seed_memory
from tests.understanding.world import (
    NOW,
    TENANT,
    USER,
    ModelMustNotBeCalled,
    approve,
    events,
    gate,
    run_command,
    say,
    seed,
    settings,
)
from voice.approvals import approval_question as spoken_question


def _status(engine, event_title: str, day: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENTS.c.status, EVENTS.c.start_at)
            .where(
                EVENTS.c.tenant_id == TENANT,
                EVENTS.c.user_id == USER,
                EVENTS.c.title == event_title,
            )
            .order_by(EVENTS.c.start_at, EVENTS.c.event_id)
        ).all()
    return [r.status for r in rows if str(r.start_at).startswith(day)]


def test_a_calendar_question_is_answered_from_the_calendar_without_a_model(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "um, what do I have on Wednesday?")
    assert run["status"] == "completed", run
    assert run["result"] == (
        "You have two meetings on Wednesday: Standup at 9 and Lunch with Carol at 12:30."
    )
    decided = events(engine, run["run_id"], "DecisionRecorded")
    first = decided[0]
    assert first["decision"] == {
        "type": "tool_call",
        "tool": "calendar_list_events",
        "arguments": {"date": "2030-01-09"},
        "reason": "understood command",
    }
    assert first["understanding"]["stage"] == "parser"
    assert first["understanding"]["intent"] == "calendar_list"
    assert first["understanding"]["slots"] == {"date": "2030-01-09"}
    assert first["understanding"]["confidence"] >= 0.75


def test_a_meeting_asked_about_by_what_it_is_is_found_with_its_day(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "When's the budget review?")
    assert run["result"] == (
        "You have one meeting in the next month: Budget review on Monday, January 14th at 4."
    )
    missing = run_command(engine, s, "when is my dentist appointment")
    assert missing["result"] == "I don't see dentist on your calendar in the next month."


def test_cancel_by_time_reads_back_the_meeting_and_cancels_it_once(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "Cancel the 4 pm meeting on Monday")
    assert run["status"] == "waiting_for_human", run
    asked = events(engine, run["run_id"], "ApprovalRequested")
    assert (
        asked[0]["question"] == "Should I cancel 'Budget review' on Monday, January 14th at 4 PM?"
    )
    understood = events(engine, run["run_id"], "DecisionRecorded")[0]["understanding"]
    assert understood["slots"] == {"date": "2030-01-14", "time": "16:00"}
    assert understood["resolved"]["event_id"] == asked[0]["arguments"]["event_id"]
    done = approve(engine, s, run["run_id"])
    assert done["status"] == "completed", done
    assert done["result"] == "Done. I cancelled Budget review on Monday, January 14th at 4 PM."
    assert _status(engine, "Budget review", "2030-01-14") == ["cancelled"]
    assert len(events(engine, run["run_id"], "ToolCallSucceeded")) == 1


def test_a_misheard_title_still_finds_the_one_meeting_at_that_day_and_time(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    # Whisper's rendering of "Cancel the 4 pm meeting on Monday" on phone audio.
    run = run_command(engine, s, "Cancel the 4-P game meeting on Monday.")
    assert run["status"] == "waiting_for_human", run
    asked = events(engine, run["run_id"], "ApprovalRequested")
    assert asked[0]["question"].startswith("Should I cancel 'Budget review' on Monday")


def test_a_title_that_matches_nothing_on_a_busy_day_cancels_nothing(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "Cancel the dentist on Friday")
    assert run["status"] == "completed", run
    assert events(engine, run["run_id"], "ApprovalRequested") == []


def test_several_matches_get_one_short_question_and_the_answer_picks_one(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "could you cancel my meeting on Friday")
    assert run["status"] == "waiting_for_human", run
    asked = events(engine, run["run_id"], "HumanInputRequested")
    assert asked[-1]["question"] == "Which one: Standup at 9 or Design review at 4?"
    run = say(engine, s, run["run_id"], "the one at 4")
    pending = events(engine, run["run_id"], "ApprovalRequested")
    assert pending[-1]["arguments"]["title"] == "Design review"


def test_booking_asks_for_the_missing_time_and_survives_a_call_back(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "Book a meeting with Bob")
    assert events(engine, run["run_id"], "HumanInputRequested")[-1]["question"] == (
        "What day and time?"
    )
    # Nothing is kept in memory between steps: a new agent and runner continue the run.
    run = say(engine, s, run["run_id"], "tomorrow at ten")
    assert run["status"] == "waiting_for_human", run
    asked = events(engine, run["run_id"], "ApprovalRequested")[-1]
    assert asked["arguments"] == {
        "title": "Meeting with Bob Jones",
        "start": "2030-01-08T10:00:00+00:00",
        "duration_minutes": 30,
        "attendees": ["bob@example.com"],
    }
    # The tool reads back relative to the real date: "on Tuesday, January 8th" from afar.
    assert asked["question"].startswith("Should I book 'Meeting with Bob Jones' ")
    assert "Tuesday" in asked["question"] and "January 8th" in asked["question"]
    assert asked["question"].endswith(" at 10 AM, for 30 minutes, with bob@example.com?")
    understood = events(engine, run["run_id"], "DecisionRecorded")[-1]["understanding"]
    assert understood["resolved"]["attendees"] == {"Bob Jones": "bob@example.com"}
    done = approve(engine, s, run["run_id"])
    assert (
        done["result"]
        == "Done. I booked Meeting with Bob Jones tomorrow, Tuesday January 8th, at 10 AM."
    )


def test_people_resolve_to_contacts_or_get_one_question(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "book lunch with Alice tomorrow at noon")
    assert events(engine, run["run_id"], "HumanInputRequested")[-1]["question"] == (
        "Which Alice: Alice Smith or Alice Wong?"
    )
    run = say(engine, s, run["run_id"], "Alice Wong")
    asked = events(engine, run["run_id"], "ApprovalRequested")[-1]
    assert asked["arguments"]["attendees"] == ["alice.wong@example.com"]
    assert asked["arguments"]["title"] == "Lunch with Alice Wong"

    unknown = run_command(engine, s, "email Zed saying the report is ready")
    assert events(engine, unknown["run_id"], "HumanInputRequested")[-1]["question"] == (
        "What's Zed's email address?"
    )
    unknown = say(engine, s, unknown["run_id"], "zed at example dot com")
    drafted = events(engine, unknown["run_id"], "ToolCallProposed")[-1]
    assert drafted["tool"] == "email_draft"
    assert drafted["arguments"]["to"] == ["zed@example.com"]
    assert drafted["arguments"]["body"] == "the report is ready"
    assert unknown["result"] == "I saved a draft email to zed@example.com."


def test_a_tool_argument_is_never_made_up(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "send an email to Dave saying see you soon")
    assert events(engine, run["run_id"], "HumanInputRequested")[-1]["question"] == (
        "What's Dave Miller's email address?"
    )
    assert events(engine, run["run_id"], "ToolCallProposed") == []


def test_move_reads_back_both_times_and_moves_the_meeting(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "move the budget review on monday to tuesday at half past ten")
    asked = events(engine, run["run_id"], "ApprovalRequested")[-1]
    assert asked["tool"] == "calendar_move_meeting"
    assert asked["question"] == (
        "Should I move 'Budget review' on Monday, January 14th at 4 PM to Tuesday, "
        "January 8th at 10:30 AM?"
    )
    done = approve(engine, s, run["run_id"])
    assert done["result"].startswith("Done. I moved Budget review to tomorrow")


def test_notes_and_memories_are_handled_without_a_model(engine, tmp_path):
    s = settings(tmp_path)
    saved = run_command(engine, s, "take a note buy milk and eggs")
    assert saved["result"] == "I saved that note."
    found = run_command(engine, s, "what did I note about milk")
    assert found["result"] == "I found one note: buy milk and eggs."
    nothing = run_command(engine, s, "what do you remember about me")
    assert nothing["result"] == "I don't remember anything about you yet."
    remembered = run_command(engine, s, "remember that my wife's birthday is May 3rd")
    assert remembered["result"] == "Got it. I'll remember that."
    proposed = events(engine, remembered["run_id"], "MemoryWriteProposed")
    assert proposed[0]["content"] == "my wife's birthday is May 3rd"


def test_out_of_scope_and_noise_get_an_honest_answer_and_no_tool(engine, tmp_path):
    s = settings(tmp_path)
    for text, answer in [
        ("what's the weather like tomorrow", "I can't do that yet."),
        ("play some jazz", "I can't do that yet."),
        ("order me a pizza", "I can't do that yet."),
        ("asdkjh qwpoeiru zxcmnb", "Sorry, I didn't catch that."),
        (("lorem ipsum dolor sit amet " * 300)[:8000], "Sorry, I didn't catch that."),
        ("what can you do", "I can tell you what's on your calendar"),
    ]:
        run = run_command(engine, s, text)
        assert run["status"] == "completed", (text[:40], run)
        assert run["result"].startswith(answer), (text[:40], run["result"])
        assert events(engine, run["run_id"], "ToolCallProposed") == []


def test_free_time_with_a_teammate_checks_both_calendars(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    create_key(engine, TENANT, "bob@example.com")
    teammate = ToolContext(TENANT, "bob@example.com", "run_seed", 1, "seed-bob", engine)
    busy = {"title": "Dentist", "start": "2030-01-08T09:00:00+00:00", "duration_minutes": 60}
    asyncio.run(CalendarTools(s).book(busy, teammate))
    run = run_command(engine, s, "when are Bob and I free tomorrow morning")
    proposed = events(engine, run["run_id"], "ToolCallProposed")[0]
    assert proposed["arguments"]["attendees"] == ["bob@example.com"]
    assert run["result"] == "You and Bob are both free tomorrow at 10 AM, 10:30 AM or 11 AM."


def test_a_model_guess_never_causes_an_unasked_side_effect(engine, tmp_path):
    s = settings(tmp_path, tool_approval_policy={"acme": {"min_level": 2}})

    class Guessing:
        async def decide(self, pack: ContextPack) -> AgentResult:
            return AgentResult(
                decision=ToolCallDecision(
                    tool="email_draft",
                    arguments={"to": ["x@example.com"], "subject": "hi", "body": "hello"},
                )
            )

    store = RunStore(engine)
    run = store.create_run(TENANT, USER, "blorp fizzle wug")
    drive(engine, gate(s), CommandAgent(Guessing(), engine, s, clock=lambda: NOW))
    done = store.get_run(TENANT, USER, run["run_id"])
    assert events(engine, run["run_id"], "ToolCallProposed") == []
    asked = events(engine, run["run_id"], "HumanInputRequested")
    assert asked[-1]["question"].startswith("Sorry, I'm not sure what you'd like me to do")
    assert events(engine, run["run_id"], "DecisionRecorded")[0]["understanding"] == {
        "stage": "model",
        "intent": None,
        "confidence": None,
        "slots": {},
        "resolved": {},
    }
    assert done["status"] == "waiting_for_human"


def test_the_setting_chooses_parser_first_or_model_only(engine, tmp_path):
    model = ModelMustNotBeCalled()
    first = with_command_stage(model, settings(tmp_path), engine)
    assert isinstance(first, CommandAgent)
    only = with_command_stage(model, settings(tmp_path, understanding="model_only"), engine)
    assert only is model
    with pytest.raises(ModelConfigError, match="BATON_UNDERSTANDING"):
        with_command_stage(model, settings(tmp_path, understanding="maybe"), engine)


def test_voice_speaks_the_tools_own_read_back(engine, tmp_path):
    s = settings(tmp_path)
    seed(engine, s)
    run = run_command(engine, s, "cancel the budget review")
    pending = RunStore(engine).pending_approval(TENANT, USER, run["run_id"])
    assert pending is not None
    assert spoken_question(pending) == (
        "Should I cancel 'Budget review' on Monday, January 14th at 4 PM? Please say yes or no."
    )


def test_memories_are_listed_and_forgotten_by_what_they_are_about(engine, tmp_path):
    s = settings(tmp_path)
    seed_memory(engine, TENANT, USER, "Prefers no meetings on Fridays")
    seed_memory(engine, TENANT, USER, "Daughter is called Emma")
    seed_memory(engine, TENANT, "mallory", "Mallory likes Fridays")
    listed = run_command(engine, s, "what do you remember about me")
    assert listed["result"].startswith("Here's what I remember: ")
    assert "Prefers no meetings on Fridays" in listed["result"]
    assert "Emma" in listed["result"] and "Mallory" not in listed["result"]
    forgot = run_command(engine, s, "forget what I said about Fridays")
    assert forgot["result"] == "Done. I forgot that Prefers no meetings on Fridays."
    understood = events(engine, forgot["run_id"], "DecisionRecorded")[0]["understanding"]
    assert understood["slots"] == {"text": "Fridays"} and understood["resolved"]["memory_id"]
    left = run_command(engine, s, "what do you know about me")
    assert left["result"] == "Here's what I remember: Daughter is called Emma."
    again = run_command(engine, s, "forget what I said about Fridays")
    assert again["result"] == "I don't have anything about Fridays to forget."


def test_the_last_thing_asked_to_be_remembered_is_the_one_forgotten(engine, tmp_path):
    s = settings(tmp_path)
    seed_memory(engine, TENANT, USER, "Daughter is called Emma")
    run_command(engine, s, "remember that I like aisle seats")
    process_proposals(engine, settings=s)
    forgot = run_command(engine, s, "That last thing I asked you to remember, forget that.")
    assert forgot["result"] == "Done. I forgot that I like aisle seats."
    left = run_command(engine, s, "what do you know about me")
    assert left["result"] == "Here's what I remember: Daughter is called Emma."


def test_an_email_to_a_contact_is_read_back_and_sent_once(engine, tmp_path, smtp):
    url, mailbox = smtp
    s = settings(tmp_path, smtp_url=url)
    seed(engine, s)
    run = run_command(engine, s, "um, could you email Bob saying the deck is ready")
    asked = events(engine, run["run_id"], "ApprovalRequested")[-1]
    assert asked["tool"] == "email_send"
    assert asked["arguments"] == {
        "to": ["bob@example.com"],
        "subject": "The deck is ready",
        "body": "the deck is ready",
    }
    assert asked["question"] == (
        "Should I send the email 'The deck is ready' to bob@example.com saying: the deck is ready?"
    )
    done = approve(engine, s, run["run_id"])
    assert done["result"] == "Done. I sent the email to bob@example.com."
    assert mailbox.envelopes == [["bob@example.com"]]
