"""A reply starts with its first word, not with the silence Piper puts before it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from voice.audio_trim import LEAD_IN_SECS, SILENCE_LEVEL, without_leading_silence
from voice.services import VoiceServices

RATE = 22050


def _pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype(np.int16).tobytes()


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _trimmed(*chunks: bytes) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [c async for c in without_leading_silence(_chunks(*chunks), RATE)]

    return asyncio.run(collect())


def test_only_the_silence_before_the_first_word_is_removed() -> None:
    quiet, word = np.zeros(RATE // 10), np.full(RATE // 5, 5000)
    first, second = _pcm(quiet, word, quiet), _pcm(quiet, word)
    out = _trimmed(first, second)
    lead = int(LEAD_IN_SECS * RATE)
    assert out[0] == _pcm(np.zeros(lead), word, quiet)
    assert out[1] == second  # the pause before the next sentence is pacing


def test_silent_chunks_before_the_first_word_are_dropped() -> None:
    out = _trimmed(_pcm(np.zeros(RATE // 20)), _pcm(np.full(RATE // 10, 4000)))
    assert out == [_pcm(np.full(RATE // 10, 4000))]


def test_piper_replies_start_within_a_moment_of_their_first_word(
    voice_models: VoiceServices,
) -> None:
    voice = voice_models.piper
    rate = voice.config.sample_rate
    for reply in ["Hi, this is Baton. How can I help?", "Okay, I won't send it."]:
        raw = next(iter(voice.synthesize(reply))).audio_int16_bytes

        async def first(audio: bytes = raw) -> bytes:
            return await anext(without_leading_silence(_chunks(audio), rate))

        trimmed = asyncio.run(first())
        start = np.frombuffer(trimmed, np.int16).astype(np.int32)
        onset = int(np.flatnonzero(np.abs(start) > SILENCE_LEVEL)[0])
        assert onset <= int(LEAD_IN_SECS * rate) + 1, (reply, onset)
        assert len(raw) - len(trimmed) > 0.03 * rate * 2, reply  # silence was there
