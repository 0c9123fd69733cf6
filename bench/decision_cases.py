"""Spoken-style requests with the decision expected of the agent (for bench/agent_decisions.py).

Each case: what the person said, the expected decision type, and for tool calls the tool and
words that must appear in given arguments ("*" means any argument).
"""

from __future__ import annotations

from typing import Any

from models.contract import ToolSchema

TODAY = "Saturday 2026-11-21"

TOOLS: list[ToolSchema] = [
    ToolSchema(
        name="calendar.create_event",
        description="Add an event (meeting, appointment, block of time) to the user's calendar.",
        input_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string", "description": "what the event is"},
                "start": {"type": "string", "description": "start, ISO 8601 date and time"},
                "attendees": {"type": "array", "items": {"type": "string"}},
            },
            "x-examples": [
                {
                    "request": "set up a review with Tom on tuesday at 4pm",
                    "arguments": {
                        "title": "Review with Tom",
                        "start": "2026-11-24T16:00:00",
                        "attendees": ["Tom"],
                    },
                }
            ],
            "required": ["title", "start"],
        },
        risk_level=2,
    ),
    ToolSchema(
        name="calendar.list_events",
        description="List the events in the user's calendar on a day.",
        input_schema={
            "type": "object",
            "properties": {"date": {"type": "string", "description": "ISO 8601 date"}},
            "x-examples": [
                {"request": "what is on my agenda on friday", "arguments": {"date": "2026-11-27"}}
            ],
            "required": ["date"],
        },
    ),
    ToolSchema(
        name="email.send",
        description="Send an email message to someone.",
        input_schema={
            "type": "object",
            "properties": {
                "to": {"type": "string", "description": "recipient name or address"},
                "subject": {"type": "string"},
                "body": {"type": "string"},
            },
            "x-examples": [
                {
                    "request": "mail Karen that the report is ready",
                    "arguments": {
                        "to": "Karen",
                        "subject": "Report",
                        "body": "The report is ready.",
                    },
                }
            ],
            "required": ["to", "body"],
        },
        risk_level=2,
    ),
    ToolSchema(
        name="email.search",
        description="Search the user's inbox for emails.",
        input_schema={
            "type": "object",
            "properties": {"query": {"type": "string", "description": "words to look for"}},
            "x-examples": [
                {
                    "request": "find the email about the train tickets",
                    "arguments": {"query": "train tickets"},
                }
            ],
            "required": ["query"],
        },
    ),
    ToolSchema(
        name="notes.create",
        description="Write down a note for the user.",
        input_schema={
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "x-examples": [
                {
                    "request": "make a note that the gate code is 4512",
                    "arguments": {"text": "The gate code is 4512"},
                }
            ],
            "required": ["text"],
        },
    ),
    ToolSchema(
        name="notes.search",
        description="Find the user's notes about something.",
        input_schema={
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "x-examples": [
                {"request": "what are my notes about the garden", "arguments": {"query": "garden"}}
            ],
            "required": ["query"],
        },
    ),
    ToolSchema(
        name="reminders.create",
        description="Remind the user of something at a time.",
        input_schema={
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "what to remind about"},
                "when": {"type": "string", "description": "ISO 8601 date and time"},
            },
            "x-examples": [
                {
                    "request": "remind me to feed the cat at 7pm",
                    "arguments": {"text": "Feed the cat", "when": "2026-11-21T19:00:00"},
                }
            ],
            "required": ["text", "when"],
        },
    ),
]


def _tool(tool: str, **contains: str) -> dict[str, Any]:
    return {"type": "tool_call", "tool": tool, "contains": contains}


RESPOND = {"type": "respond"}
ASK = {"type": "ask_human"}
MEMORY = {"type": "propose_memory"}

CASES: list[tuple[str, dict[str, Any]]] = [
    # calendar
    ("book a meeting with Alice tomorrow at ten", _tool("calendar.create_event", **{"*": "alice"})),
    (
        "put a dentist appointment on friday at 3pm in my calendar",
        _tool("calendar.create_event", title="dentist"),
    ),
    (
        "schedule a call with the marketing team next monday at nine",
        _tool("calendar.create_event", **{"*": "marketing"}),
    ),
    ("add lunch with mom on saturday at noon", _tool("calendar.create_event", **{"*": "mom"})),
    (
        "set up a one on one with Priya on thursday at two",
        _tool("calendar.create_event", **{"*": "priya"}),
    ),
    (
        "block two hours on wednesday morning for deep work",
        _tool("calendar.create_event", title="deep work"),
    ),
    (
        "create an event called team offsite on december third",
        _tool("calendar.create_event", title="offsite"),
    ),
    ("what's on my calendar tomorrow", _tool("calendar.list_events")),
    ("do I have anything scheduled for monday", _tool("calendar.list_events")),
    ("what meetings do I have today", _tool("calendar.list_events")),
    # email
    ("email bob that I'm running ten minutes late", _tool("email.send", to="bob")),
    ("send an email to sarah saying thanks for the report", _tool("email.send", to="sarah")),
    ("write to the landlord that the heating is broken", _tool("email.send", to="landlord")),
    ("tell john by email that the meeting moved to three", _tool("email.send", to="john")),
    ("reply to anna and say I'll be there", _tool("email.send", to="anna")),
    ("find the email from the bank about my card", _tool("email.search", query="bank")),
    ("search my inbox for the flight confirmation", _tool("email.search", query="flight")),
    ("did I get an email from amazon", _tool("email.search", query="amazon")),
    ("look for emails about the invoice", _tool("email.search", query="invoice")),
    # notes
    ("note that the wifi password is fish", _tool("notes.create", text="wifi")),
    ("take a note, buy milk and eggs", _tool("notes.create", text="milk")),
    ("write down that the car is parked on level three", _tool("notes.create", text="level")),
    ("save a note about my new project idea, a recipe app", _tool("notes.create", text="recipe")),
    ("jot down call the plumber", _tool("notes.create", text="plumber")),
    ("what did I write down about the wifi", _tool("notes.search", query="wifi")),
    ("find my notes on the project", _tool("notes.search", query="project")),
    # reminders
    ("remind me to call mum at six", _tool("reminders.create", text="mum")),
    ("remind me tomorrow morning to take out the bins", _tool("reminders.create", text="bins")),
    ("set a reminder to pay rent on the first", _tool("reminders.create", text="rent")),
    ("don't let me forget to water the plants tonight", _tool("reminders.create", text="plants")),
    # questions
    ("what's the capital of Spain", RESPOND),
    ("how many minutes are in an hour", RESPOND),
    ("what is two plus two", RESPOND),
    ("who wrote romeo and juliet", RESPOND),
    ("how do you spell necessary", RESPOND),
    ("what's the opposite of hot", RESPOND),
    ("how many days are in a week", RESPOND),
    # chit-chat
    ("hello, how are you", RESPOND),
    ("thanks, that's all for now", RESPOND),
    ("good morning", RESPOND),
    ("you're very helpful", RESPOND),
    ("tell me a joke", RESPOND),
    # missing details
    ("send an email", ASK),
    ("book a meeting", ASK),
    ("remind me", ASK),
    ("schedule something with Alice", ASK),
    # lasting facts about the person
    ("I'm vegetarian, remember that", MEMORY),
    ("my wife's name is Clara", MEMORY),
]


def is_correct(decision: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Does a decision match the expectation (type, tool, words in the arguments)?"""
    if decision.get("type") != expected["type"]:
        return False
    if expected["type"] != "tool_call":
        return True
    if decision.get("tool") != expected["tool"]:
        return False
    args = decision.get("arguments") or {}
    for key, word in expected["contains"].items():
        haystack = " ".join(str(v) for v in args.values()) if key == "*" else str(args.get(key, ""))
        if word.lower() not in haystack.lower():
            return False
    return True
