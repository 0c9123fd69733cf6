"""Whisper decoding for the short turns of a call.

faster-whisper pads every clip to Whisper's 30 s window, so the encoder costs the same for
"yes" as for half a minute: on two cores about 0.4 s of tiny.en's 0.45 s per turn. The encoder
accepts a shorter window (it slices its position embeddings), and a window sized to the speech
costs a tenth of that. What a shorter window changes is that the decoder no longer sees half a
minute of silence after the words, and now and then says them again ("Stop. Stop. Stop."). Two
guards keep that out of the transcript: a token budget from the clip's duration (fast speech
with numbers, "December 7 at 4 p.m.", comes to about seven tokens a second) and cutting a
transcript that repeats itself word for word. Clips longer than 29 s are decoded the
ordinary way.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

SAMPLE_RATE = 16000
# Past this a wider search only costs time on a few words of speech.
MAX_BEAM_SIZE = 10
# Below ten seconds the decoder repeated itself noticeably more often; ten seconds still
# encode in about a tenth of the full window's time.
SHORT_WINDOW_SECS = 10
# The window keeps at least this much silence after the speech.
TRAILING_SECS = 1.0
TOKENS_PER_SEC = 10
TOKEN_SLACK = 8
_WORD = re.compile(r"[^a-z0-9']")


class WhisperWindow(enum.StrEnum):
    """How much audio the Whisper encoder sees for one turn."""

    SPEECH = "speech"
    """A window sized to the speech (at least ten seconds)."""
    FULL = "full"
    """Whisper's fixed 30 s window, as faster-whisper decodes."""


@dataclass(frozen=True)
class Heard:
    """One transcribed segment, with the fields pipecat's Whisper service reads and how
    sure Whisper was of its words."""

    text: str
    no_speech_prob: float
    avg_logprob: float = 0.0
    """Mean log-probability of the segment's tokens (0 is certain)."""


_collected: ContextVar[list[Heard] | None] = ContextVar("heard_segments", default=None)


@contextmanager
def collect_heard() -> Iterator[list[Heard]]:
    """Collect every segment transcribed in this context (and the threads it starts): pipecat
    passes on only a segment's text, the caller may want how sure Whisper was."""
    heard: list[Heard] = []
    token = _collected.set(heard)
    try:
        yield heard
    finally:
        _collected.reset(token)


def _loop_at(plain: list[str], i: int) -> tuple[int, int]:
    """The shortest phrase (up to four words) said three or more times in a row from word
    ``i``: its length and how many times, or (1, 1)."""
    for size in range(1, 5):
        unit = plain[i : i + size]
        if len(unit) < size:
            break
        times = 1
        while plain[i + times * size : i + (times + 1) * size] == unit:
            times += 1
        if times >= 3:
            return size, times
    return 1, 1


def drop_repeats(text: str) -> str:
    """``text`` without the decoder saying things again: "Stop. Stop. Stop." is "Stop.",
    "Yes, go, go, go, go," is "Yes, go,".

    A phrase of up to four words said three or more times in a row is kept once. A
    transcript whose words, from some point on, restate its own opening word for word (at
    least two words, or the whole of a one- or two-word phrase, its last word perhaps cut
    short) is cut where the restatement starts.
    """
    words = text.split()
    plain = [_WORD.sub("", w.lower()) for w in words]
    kept: list[int] = []
    i = 0
    while i < len(words):
        size, times = _loop_at(plain, i)
        kept.extend(range(i, i + size))
        i += size * times
    words = [words[k] for k in kept]
    plain = [plain[k] for k in kept]
    n = len(plain)
    for period in range(1, n):
        overlap = n - period
        if overlap < min(2, period):
            break
        # The token budget can stop the decoder inside a word: "... Send an email to Pri".
        last = plain[n - 1]
        if all(plain[i] == plain[i + period] for i in range(overlap - 1)) and (
            last and plain[overlap - 1].startswith(last)
        ):
            return " ".join(words[:period])
    return " ".join(words)


class ShortTurnWhisper:
    """faster-whisper without timestamps and with a window sized to the speech, for short
    conversational turns.

    ``beam_size`` hypotheses are kept while decoding. On rendered phone commands, beam search of
    5 understood 4.5 points more of them than greedy decoding (1), for about 30 ms more per turn
    on two cores with tiny.en: a misheard first word ("Both dinner with Caleb") is most often
    one that a wider search reads right.
    """

    def __init__(
        self,
        model: WhisperModel,
        window: WhisperWindow = WhisperWindow.SPEECH,
        beam_size: int = 5,
    ) -> None:
        self._model = model
        self._window = window
        self._beam_size = beam_size
        self.supported_languages = model.supported_languages
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])

    @property
    def beam_size(self) -> int:
        """Hypotheses kept while decoding (1 is greedy)."""
        return self._beam_size

    @property
    def model(self) -> WhisperModel:
        """The faster-whisper model decoded with."""
        return self._model

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        hotwords: str | None = None,
        initial_prompt: str | None = None,
        **kwargs: Any,
    ) -> tuple[list[Heard], None]:
        """Transcribe 16 kHz float audio like :meth:`WhisperModel.transcribe`.

        Returns the segments heard and, in place of faster-whisper's info, None.
        """
        heard = self._transcribe(audio, language, hotwords, initial_prompt, **kwargs)
        collected = _collected.get()
        if collected is not None:
            collected.extend(heard)
        return heard, None

    def _transcribe(
        self,
        audio: np.ndarray,
        language: str | None,
        hotwords: str | None,
        initial_prompt: str | None,
        **kwargs: Any,
    ) -> list[Heard]:
        seconds = len(audio) / SAMPLE_RATE
        if self._window is WhisperWindow.SPEECH and seconds + TRAILING_SECS <= 30:
            return [self._short(audio, hotwords, initial_prompt)]
        segments, _info = self._model.transcribe(
            audio,
            language=language,
            hotwords=hotwords,
            initial_prompt=initial_prompt,
            beam_size=self._beam_size,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            **kwargs,
        )
        return [Heard(s.text, s.no_speech_prob, s.avg_logprob) for s in segments]

    def _short(self, audio: np.ndarray, hotwords: str | None, initial_prompt: str | None) -> Heard:
        seconds = len(audio) / SAMPLE_RATE
        window = max(SHORT_WINDOW_SECS, math.ceil(seconds + TRAILING_SECS))
        samples = window * SAMPLE_RATE
        padded = np.pad(audio.astype(np.float32), (0, samples - len(audio)))
        features = self._model.feature_extractor(padded, padding=0)[:, : samples // 160]
        encoded = self._model.encode(features)
        tok = self._tokenizer
        previous = tok.encode(" " + initial_prompt.strip()) if initial_prompt else []
        prompt = self._model.get_prompt(tok, previous, without_timestamps=True, hotwords=hotwords)
        budget = math.ceil(seconds * TOKENS_PER_SEC) + TOKEN_SLACK
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=self._beam_size,
            max_length=min(self._model.max_length, len(prompt) + budget),
            return_no_speech_prob=True,
            return_scores=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
        )[0]
        text = tok.decode(result.sequences_ids[0]).strip()
        # The score is the sequence's log-probability over its length (length_penalty 1).
        score = result.scores[0] if result.scores else 0.0
        return Heard(" " + drop_repeats(text) if text else "", result.no_speech_prob, score)
