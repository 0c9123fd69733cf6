"""Voice metrics, defined in the core so that the voice surface only reports into them."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

TURN_LATENCY = Histogram(
    "baton_voice_turn_latency_seconds",
    "Voice-to-voice latency: end of the caller's speech to the first audio of the answer",
    buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
ACTIVE_CALLS = Gauge("baton_voice_active_calls", "Calls connected to this process now")
BARGE_IN = Histogram(
    "baton_voice_barge_in_seconds",
    "Barge-in: onset of the caller's speech over the bot to the bot's speech being stopped",
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0),
)


def turn_latency(seconds: float) -> None:
    """Record one turn's voice-to-voice latency."""
    TURN_LATENCY.observe(max(0.0, seconds))


def barge_in(seconds: float) -> None:
    """Record how long the bot went on talking over the caller before it stopped."""
    BARGE_IN.observe(max(0.0, seconds))


def call_started() -> None:
    """A call connected."""
    ACTIVE_CALLS.inc()


def call_ended() -> None:
    """A call ended (pair every :func:`call_started` with one call of this)."""
    ACTIVE_CALLS.dec()
