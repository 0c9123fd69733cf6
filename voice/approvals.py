"""Spoken approvals: one clear yes/no question, and what the caller's answer means.

The question names the action and its key argument ("Should I send email to Alice?").
An answer is read by :mod:`voice.answers` (lexicon, negation, corrections, misheard words);
only when it says nothing that path knows is the model's classification task asked (the
``AnswerClassifier`` hook), and anything still unsure is ``unclear``: a spoken approval is
never guessed, and the model never overrules words that were understood.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from core.runs.approval_ledger import default_question
from models.contract import Agent, ContextPack, Message, RespondDecision
from voice.answers import Answer, DecidedBy, Reading, Topic, read_answer

AnswerClassifier = Callable[[str, str], Awaitable[Answer]]
"""``(question, answer_text) -> "yes" | "no" | "unclear"`` through the model layer."""

KEYPAD_HINT = "Say yes or no, or press 1 for yes and 2 for no."
KEYPAD_ANSWERS: dict[str, Answer] = {"1": "yes", "2": "no"}


def classify_lexical(text: str) -> Answer:
    """Yes, no or unclear from the words alone (no model): fast and conservative."""
    return read_answer(text).answer


async def judge_answer(question: str, text: str, model: AnswerClassifier | None = None) -> Reading:
    """Read a spoken answer; the model is asked only when the words say nothing known."""
    reading = read_answer(text)
    if not reading.open or model is None or not text.strip():
        return reading
    try:
        verdict = await model(question, text)
    except Exception:  # a failing model never turns an answer into a decision
        return reading
    if verdict in ("yes", "no"):
        return Reading(verdict, DecidedBy.MODEL)
    return reading


async def classify_answer(
    question: str, text: str, model: AnswerClassifier | None = None
) -> Answer:
    """Classify a spoken answer: the lexical path, then the model's task when one is wired."""
    return (await judge_answer(question, text, model)).answer


LABELS = ["yes", "no", "unclear"]
CLASSIFY_SYSTEM = (
    "A caller was asked a yes/no question by phone. Classify their answer as yes, no or "
    "unclear. Anything hesitant, conditional or off-topic is unclear."
)


def agent_classifier(agent: Agent, tenant_id: str, user_id: str, run_id: str) -> AnswerClassifier:
    """The model's classification task (through the process's agent) as an AnswerClassifier."""

    async def classify(question: str, text: str) -> Answer:
        pack = ContextPack(
            tenant_id=tenant_id,
            user_id=user_id,
            run_id=run_id,
            step=0,
            task_type="classification",
            system=CLASSIFY_SYSTEM,
            goal=question,
            messages=[Message(role="user", content=text)],
            response_profile={"channel": "voice", "labels": LABELS},
        )
        result = await agent.decide(pack)
        decision = result.decision
        label = decision.message.strip().lower() if isinstance(decision, RespondDecision) else ""
        return "yes" if label == "yes" else "no" if label == "no" else "unclear"

    return classify


# Argument names that best say what an action is about, with the word that introduces them.
_KEY_ARGUMENTS: tuple[tuple[str, str], ...] = (
    ("to", "to"), ("recipient", "to"), ("recipients", "to"), ("email", "to"),
    ("with", "with"), ("attendee", "with"), ("name", "for"), ("contact", "for"),
    ("title", "titled"), ("subject", "about"), ("amount", "for"), ("path", "at"),
    ("file", "at"), ("url", "at"), ("query", "for"), ("id", ""),
)  # fmt: skip
MAX_ARGUMENT_CHARS = 60


def _spoken(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
        value = " and ".join(str(v) for v in value[:3])
    if not isinstance(value, str | int | float):
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    return text if len(text) <= MAX_ARGUMENT_CHARS else text[:MAX_ARGUMENT_CHARS].rsplit(" ", 1)[0]


def spoken_action(tool_name: str) -> str:
    """A tool name as words a caller understands: ``email.send`` -> ``send email``."""
    if "." in tool_name:
        namespace, verb = tool_name.rsplit(".", 1)
        verb_words = verb.replace("_", " ").replace("-", " ").split()
        ns_words = namespace.replace("_", " ").replace("-", " ").replace(".", " ").split()
        words = verb_words if len(verb_words) > 1 else verb_words + ns_words[-1:]
    else:
        words = tool_name.replace("_", " ").replace("-", " ").split()
    return " ".join(words) or "do that"


def key_argument(arguments: dict[str, Any]) -> str:
    """The argument that identifies the action, introduced for speech ("to Alice")."""
    lowered = {str(k).lower(): v for k, v in (arguments or {}).items()}
    for name, word in _KEY_ARGUMENTS:
        spoken = _spoken(lowered.get(name))
        if spoken:
            return f"{word} {spoken}".strip()
    for name, value in lowered.items():
        spoken = _spoken(value)
        if spoken:
            return f"with {name.replace('_', ' ')} {spoken}"
    return ""


def _action_target(approval: dict[str, Any]) -> str:
    action = spoken_action(str(approval.get("tool_name") or ""))
    argument = key_argument(approval.get("arguments_json") or {})
    return f"{action} {argument}".strip()


def approval_question(approval: dict[str, Any]) -> str:
    """The tool's own read-back question stored with the approval (its ``confirm`` wording),
    else one naming the action and its key argument."""
    stored = str(approval.get("question") or "").strip()
    generic = default_question(
        str(approval.get("tool_name") or ""), approval.get("arguments_json") or {}
    )
    if stored and stored != generic:
        return f"{stored} Please say yes or no."
    return f"Should I {_action_target(approval)}? Please say yes or no."


def reask_question(approval: dict[str, Any], keypad: bool = False) -> str:
    """The question asked again after an unclear answer (with the keypad on a phone)."""
    if keypad:
        return f"Sorry, I need a yes or a no. Should I {_action_target(approval)}? {KEYPAD_HINT}"
    return "Sorry, I need a yes or a no. " + approval_question(approval)


# Which arguments answer which question about the pending action, and how to say them.
_TOPIC_ARGUMENTS: dict[Topic, tuple[str, ...]] = {
    Topic.RECIPIENT: ("to", "recipient", "recipients", "email", "attendees", "attendee",
                      "with", "contact", "name"),
    Topic.TIME: ("start", "when", "time", "date", "at", "end", "duration_minutes"),
    Topic.SUBJECT: ("subject", "title", "about", "body", "summary", "text"),
}  # fmt: skip
_LEADS: dict[Topic, str] = {
    Topic.RECIPIENT: "It goes to",
    Topic.TIME: "It's for",
    Topic.SUBJECT: "It's about",
}
_ARGUMENT_WORDS: dict[str, str] = {
    "to": "to", "recipient": "to", "recipients": "to", "email": "to", "attendees": "with",
    "attendee": "with", "with": "with", "title": "titled", "subject": "about",
    "start": "on", "when": "on", "time": "at", "date": "on", "at": "at", "end": "until",
    "duration_minutes": "minutes:", "amount": "for", "path": "at", "url": "at",
}  # fmt: skip
MAX_DETAILS = 4


def _spoken_value(name: str, value: Any) -> str | None:
    """An argument as speech; ISO date-times become "Tuesday December 1 at 10 a.m."."""
    if isinstance(value, str) and name in _TOPIC_ARGUMENTS[Topic.TIME]:
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(value)
            minutes = f":{when.minute:02d}" if when.minute else ""
            hour = f"{when.hour % 12 or 12}{minutes} {'a.m.' if when.hour < 12 else 'p.m.'}"
            return f"{when:%A %B} {when.day} at {hour}"
    return _spoken(value)


def pending_details(approval: dict[str, Any], topic: Topic) -> str:
    """Answer a caller's question about the pending action from its stored arguments."""
    arguments = {str(k).lower(): v for k, v in (approval.get("arguments_json") or {}).items()}
    wanted = _TOPIC_ARGUMENTS.get(topic, ())
    for name in wanted:
        spoken = _spoken_value(name, arguments.get(name))
        if spoken:
            return f"{_LEADS[topic]} {spoken.rstrip('.')}."
    parts = []
    for name, value in arguments.items():
        spoken = _spoken_value(name, value)
        if spoken:
            word = _ARGUMENT_WORDS.get(name, name.replace("_", " "))
            parts.append(f"{word} {spoken}")
    action = spoken_action(str(approval.get("tool_name") or ""))
    if not parts:
        return f"It's {action}."
    return f"It's {action}, " + ", ".join(parts[:MAX_DETAILS]).rstrip(".") + "."
