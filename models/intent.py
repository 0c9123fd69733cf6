"""A cheap classifier that picks the action before a small model writes the details.

A 135M model is poor at choosing among tools but, once the action is fixed by constrained
decoding, fair at filling in arguments. This classifier compares the person's last message
with prototypes of each action (a tool's name and description plus its worked examples;
fixed phrases for answering and remembering) in a sentence-embedding space and returns the
nearest action. The embedding function is injected (the core supplies its MiniLM encoder),
so ``models/`` carries no second embedding model.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.action_format import ANSWER, REMEMBER, available_actions
from models.contract import ContextPack, ToolSchema

Embed = Callable[[list[str]], NDArray[np.float32]]

_ANSWER_PROTOTYPES = [
    "what is the capital of Italy",
    "how many centimetres are in a metre",
    "who painted the Mona Lisa",
    "how do you say thank you in French",
    "hello, how are you today",
    "good evening",
    "thank you, that is all",
    "tell me something funny",
    "you are great",
]
_REMEMBER_PROTOTYPES = [
    "remember that I am allergic to peanuts",
    "my son's name is Leo",
    "I prefer tea over coffee",
    "I always take the train to work",
    "keep in mind that I live in Lyon",
]


def _tool_prototypes(tool: ToolSchema) -> list[str]:
    readable = tool.name.replace(".", " ").replace("_", " ")
    texts = [f"{readable}: {tool.description}"]
    for example in (tool.input_schema or {}).get("x-examples") or []:
        if isinstance(example, dict) and example.get("request"):
            texts.append(str(example["request"]))
    return texts


class ActionClassifier:
    """Nearest-prototype action choice over sentence embeddings (thread-safe, cached)."""

    def __init__(self, embed: Embed) -> None:
        self.embed = embed
        self._cache: dict[str, tuple[list[str], NDArray[np.float32]]] = {}
        self._lock = threading.Lock()

    def _prototypes(self, pack: ContextPack) -> tuple[list[str], NDArray[np.float32]]:
        actions = available_actions(pack)
        key_src = json.dumps(
            [actions, [t.model_dump() for t in pack.tools]], sort_keys=True, default=str
        )
        key = hashlib.sha256(key_src.encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        labels: list[str] = []
        texts: list[str] = []
        tools = {t.name: t for t in pack.tools}
        for action in actions:
            if action in tools:
                protos = _tool_prototypes(tools[action])
            elif action == ANSWER:
                protos = _ANSWER_PROTOTYPES
            elif action == REMEMBER:
                protos = _REMEMBER_PROTOTYPES
            else:
                continue  # asking back is decided by the model once the action is known
            labels += [action] * len(protos)
            texts += protos
        built = (labels, self.embed(texts))
        with self._lock:
            self._cache[key] = built
        return built

    def choose(self, pack: ContextPack) -> str | None:
        """The action nearest to the person's last message (None: nothing to compare)."""
        said = next((m.content for m in reversed(pack.messages) if m.role == "user"), pack.goal)
        labels, matrix = self._prototypes(pack)
        if not labels or not said.strip():
            return None
        query = self.embed([said])[0]
        scores: NDArray[Any] = matrix @ query
        return labels[int(np.argmax(scores))]
