"""Spoken approvals: one clear yes/no question, and what the caller's answer means.

The question names the action and its key argument ("Should I send email to Alice?").
An answer is classified by a fast lexical path first; only when that is unsure is the model's
classification task asked (the ``AnswerClassifier`` hook), and anything still unsure is
``unclear``: a spoken approval is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from models.contract import Agent, ContextPack, Message, RespondDecision

Answer = Literal["yes", "no", "unclear"]
AnswerClassifier = Callable[[str, str], Awaitable[Answer]]
"""``(question, answer_text) -> "yes" | "no" | "unclear"`` through the model layer."""

# Phrases, matched on word boundaries in the lower-cased answer.
_YES = (
    "yes", "yeah", "yep", "yup", "yes please", "sure", "okay", "ok", "correct", "right",
    "affirmative", "approve", "approved", "confirm", "confirmed", "go ahead", "do it",
    "please do", "sounds good", "of course", "absolutely", "definitely", "that's right",
    "go for it", "proceed",
)  # fmt: skip
_NO = (
    "no", "nope", "nah", "don't", "do not", "dont", "cancel", "stop", "deny", "denied",
    "reject", "negative", "not now", "never mind", "nevermind", "hold off", "don't do",
    "abort", "wait",
)  # fmt: skip
# Hedges make any answer unclear, even one that also contains "yes" or "no".
_HEDGES = (
    "not sure", "maybe", "i don't know", "i dont know", "don't know", "perhaps", "i guess",
    "not certain", "hmm", "let me think", "unsure", "what",
)  # fmt: skip
# Approval answers are short; a long utterance is another request, not an answer.
MAX_ANSWER_WORDS = 8


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted((re.escape(p) for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])")


_YES_RE, _NO_RE, _HEDGE_RE = _pattern(_YES), _pattern(_NO), _pattern(_HEDGES)


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    return " ".join(re.sub(r"[^\w' ]+", " ", text).split())


def classify_lexical(text: str) -> Answer:
    """Yes, no or unclear from the words alone (no model): fast and conservative."""
    said = _normalise(text)
    if not said or len(said.split()) > MAX_ANSWER_WORDS or _HEDGE_RE.search(said):
        return "unclear"
    yes = bool(_YES_RE.search(said))
    no = bool(_NO_RE.search(said))
    if yes and not no:
        return "yes"
    if no and not yes:
        return "no"
    return "unclear"


async def classify_answer(
    question: str, text: str, model: AnswerClassifier | None = None
) -> Answer:
    """Classify a spoken answer: the lexical path, then the model's task when one is wired."""
    lexical = classify_lexical(text)
    if lexical != "unclear" or model is None or not _normalise(text):
        return lexical
    try:
        verdict = await model(question, text)
    except Exception:  # a failing model never turns an answer into a decision
        return "unclear"
    return verdict if verdict in ("yes", "no") else "unclear"


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


def approval_question(approval: dict[str, Any]) -> str:
    """One yes/no question naming the action and its key argument."""
    action = spoken_action(str(approval.get("tool_name") or ""))
    argument = key_argument(approval.get("arguments_json") or {})
    target = f"{action} {argument}".strip()
    return f"Should I {target}? Please say yes or no."


def reask_question(approval: dict[str, Any]) -> str:
    """The second and last time the question is asked, after an unclear answer."""
    return "Sorry, I need a yes or a no. " + approval_question(approval)
