"""Fixed phrases (greeting, "One moment", notices) synthesised once per process, then replayed.

The cache holds Piper's raw output (16-bit PCM at the voice's rate, in its chunks); the TTS
service resamples it per call like fresh audio, so phone and browser calls share one copy.
Only the phrases it was told are fixed are kept: replies are never cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from piper import PiperVoice


class PhraseCache:
    """Audio of the fixed phrases, keyed by their exact text."""

    def __init__(self, fixed: Iterable[str] = ()) -> None:
        self._fixed: set[str] = set(fixed)
        self._audio: dict[str, tuple[bytes, ...]] = {}
        self._lock = threading.Lock()

    def add_fixed(self, phrases: Iterable[str]) -> None:
        """Mark phrases as fixed: they are synthesised on first use and replayed after."""
        with self._lock:
            self._fixed.update(phrases)

    def is_fixed(self, text: str) -> bool:
        """Whether ``text`` is one of the fixed phrases."""
        return text in self._fixed

    def get(self, text: str) -> tuple[bytes, ...] | None:
        """The cached chunks of a fixed phrase, or None when not synthesised yet."""
        return self._audio.get(text)

    def put(self, text: str, chunks: Iterable[bytes]) -> None:
        """Keep the audio of a fixed phrase (other texts are ignored)."""
        if text in self._fixed:
            with self._lock:
                self._audio.setdefault(text, tuple(chunks))

    def warm(self, voice: PiperVoice) -> None:
        """Synthesise every fixed phrase not cached yet (at start-up, off the call path)."""
        for text in sorted(self._fixed):
            if self.get(text) is None:
                self.put(text, [c.audio_int16_bytes for c in voice.synthesize(text)])
