"""Turn-taking pieces without models: speculative readings of a paused answer and the
fixed-phrase cache."""

from __future__ import annotations

import asyncio

from voice.phrases import PhraseCache
from voice.speculation import Speculation


def test_a_speculation_for_the_final_words_is_used_once():
    calls: list[str] = []

    async def read(words: str) -> str:
        calls.append(words)
        return f"read {words}"

    async def scenario() -> str:
        spec: Speculation[str] = Speculation()
        spec.start("yes", lambda: read("yes"))
        return await spec.result("yes", lambda: read("yes"))

    assert asyncio.run(scenario()) == "read yes"
    assert calls == ["yes"]


def test_an_abandoned_speculation_never_answers_the_turn():
    calls: list[str] = []

    async def read(words: str, pause: float = 0.0) -> str:
        await asyncio.sleep(pause)
        calls.append(words)
        return f"read {words}"

    async def scenario() -> tuple[str, str]:
        spec: Speculation[str] = Speculation()
        spec.start("yes", lambda: read("yes", pause=0.05))
        spec.abandon()  # the caller went on talking
        first = await spec.result("yes but no", lambda: read("yes but no"))
        # Words that changed after the pause are read afresh too.
        spec.start("send it", lambda: read("send it"))
        await asyncio.sleep(0)
        second = await spec.result("send it to Bob", lambda: read("send it to Bob"))
        return first, second

    assert asyncio.run(scenario()) == ("read yes but no", "read send it to Bob")
    assert "yes" not in calls


def test_a_failed_speculation_is_read_again():
    async def broken() -> str:
        raise RuntimeError("model down")

    async def fine() -> str:
        return "unclear"

    async def scenario() -> str:
        spec: Speculation[str] = Speculation()
        spec.start("maybe", broken)
        return await spec.result("maybe", fine)

    assert asyncio.run(scenario()) == "unclear"


def test_only_fixed_phrases_are_cached():
    cache = PhraseCache(["Hi, this is Baton."])
    cache.put("Hi, this is Baton.", [b"\x01\x02", b"\x03\x04"])
    cache.put("The capital of France is Paris.", [b"\x05\x06"])
    assert cache.get("Hi, this is Baton.") == (b"\x01\x02", b"\x03\x04")
    assert cache.get("The capital of France is Paris.") is None
