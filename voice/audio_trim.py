"""Silence Piper puts before a reply's first word, taken off.

Piper starts most sentences with 50 to 110 ms of near silence. At the start of a reply that
is time the caller waits for nothing, so the first chunk is cut to a short lead-in before the
first audible sample. Silence inside or after a reply is left as it is: it is pacing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

# 16-bit samples quieter than this are silence (about -40 dBFS).
SILENCE_LEVEL = 300
# Kept before the first audible sample, so the onset of a consonant is not clipped.
LEAD_IN_SECS = 0.01


def trim_leading_silence(pcm: bytes, sample_rate: int) -> bytes:
    """``pcm`` (16-bit mono) from ``LEAD_IN_SECS`` before its first audible sample; empty
    when nothing in it is audible."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL)
    if loud.size == 0:
        return b""
    start = max(0, int(loud[0]) - int(LEAD_IN_SECS * sample_rate))
    return samples[start:].tobytes()


async def without_leading_silence(
    chunks: AsyncIterator[bytes], sample_rate: int
) -> AsyncIterator[bytes]:
    """``chunks`` of a reply with the silence before its first audible sample removed."""
    heard = False
    async for chunk in chunks:
        if not heard:
            chunk = trim_leading_silence(chunk, sample_rate)
            if not chunk:
                continue
            heard = True
        yield chunk
