"""The speech models of a process, loaded once and shared by every call.

Loading Whisper, Piper and the ONNX sessions takes seconds; a call takes milliseconds to
build because each one only wraps the shared models in its own pipecat services (which keep
per-stream state: VAD and turn buffers, resamplers, audio contexts).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import onnxruntime as ort
from faster_whisper import WhisperModel
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from piper import PiperVoice
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.config import Settings
from core.contacts.service import list_contacts
from core.inference import Priority, inference_queue
from core.runs.service import RunStore
from models.contract import Agent
from models.weights import piper_voice, silero_vad, smart_turn, whisper_dir
from voice.answers import read_answer
from voice.audio_trim import without_leading_silence
from voice.backchannels import BargeInStart
from voice.config import VoiceSettings
from voice.frames import (
    AnswerAwaitedFrame,
    HeardConfidence,
    SegmentTranscribedFrame,
    TurnTranscriptFrame,
)
from voice.phrases import PhraseCache
from voice.segment_ahead import QUIET_WINDOWS, SegmentAhead
from voice.speech_pieces import speech_pieces
from voice.stt_bias import WhisperBias, whisper_bias
from voice.turn_complete import reads_complete, reads_new_request
from voice.turn_transcript import TurnAudio, words_after
from voice.turns import SilenceTurnStop, SmartTurnStop
from voice.whisper_decode import MAX_BEAM_SIZE, ShortTurnWhisper, WhisperWindow, collect_heard

log = logging.getLogger(__name__)

PIPER_VOICE_NAME = "en_US-joe-medium"
TURN_STRATEGIES = ("silence", "smart_turn")
# Whisper drops a segment whose no-speech probability is above this. pipecat's 0.4 threw away
# short, clear answers ("yes.") from tiny.en; Silero has already decided this is speech.
NO_SPEECH_THRESHOLD = 0.6
# Silero's defaults (0.2 s of speech, volume 0.6) missed 5 of 24 one-word answers ("Yes.",
# "No.") on 8 kHz phone audio; 0.15 s and 0.4 missed none, and start barge-in sooner.
VAD_START_SECS = 0.15
# Silero reads 16 kHz audio in windows of 512 samples.
VAD_WINDOW_SECS = 512 / 16000
VAD_MIN_VOLUME = 0.4


class SharedWhisperSTTService(WhisperSTTService):
    """pipecat's Whisper STT service over a model loaded once per process."""

    def __init__(
        self,
        *,
        model: ShortTurnWhisper,
        model_name: str,
        bias: WhisperBias | None = None,
        vad: SharedSileroVADAnalyzer | None = None,
        **kwargs: Any,
    ) -> None:
        self._shared_model = model
        bias = bias or WhisperBias()
        self._biased = bias != WhisperBias()
        self._answer_awaited = False
        self._turn = TurnAudio()
        # The call's VAD, read to start a segment's decode before it reports the end.
        self._vad = vad
        self.ahead: SegmentAhead[tuple[list[Frame], str]] = SegmentAhead()
        self._in_stt = False
        super().__init__(
            settings=WhisperSTTService.Settings(
                model=model_name,
                no_speech_prob=NO_SPEECH_THRESHOLD,
                initial_prompt=bias.initial_prompt,
                hotwords=bias.hotwords,
            ),
            **kwargs,
        )

    def _load(self) -> None:
        self._model = self._shared_model  # type: ignore[assignment]

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Follow the caller's turn (its start and end come upstream from the turn processor)
        and whether a yes/no answer is awaited (upstream from the bridge)."""
        if isinstance(frame, AnswerAwaitedFrame):
            self._answer_awaited = frame.awaited
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._turn.start()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._turn.end()
        await super().process_frame(frame, direction)

    async def process_audio_frame(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        """Buffer the caller's audio; start decoding a segment the VAD is about to end (see
        :mod:`voice.segment_ahead`), and drop that decode if speech resumes."""
        await super().process_audio_frame(frame, direction)
        if self._vad is None or not self._user_speaking:
            return
        if self._vad.state == VADState.SPEAKING:
            self.ahead.drop()
        elif (
            self._vad.quiet_windows >= QUIET_WINDOWS
            and not self.ahead.running
            and not self._in_stt
            and self._segment_queue.empty()
        ):
            segment = bytes(self._audio_buffer) + self._trailing_silence()
            context = self._turn.context_for(segment, self.sample_rate)
            self.ahead.start(self._decode_key(context), partial(self._decode, context or segment))

    def _decode_key(self, context: bytes | None) -> tuple[int, bool, bool]:
        """What a segment's decode depends on besides its own audio."""
        return (len(self._turn.segments), self._turn.open, context is not None)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one segment, in the context of its turn, then mark it done (see
        :mod:`voice.turns` and :mod:`voice.turn_transcript`).

        Decodes wait for a turn slot of the process's inference queue, ahead of
        background work.
        """
        self._in_stt = True
        try:
            for frame in await self._transcribe_in_turn(audio):
                yield frame
        except Exception as exc:  # a failed segment must still count as finished
            yield ErrorFrame(f"transcription failed: {exc}")
        finally:
            self._in_stt = False
        yield SegmentTranscribedFrame()

    async def _transcribe_in_turn(self, segment: bytes) -> list[Frame]:
        context = self._turn.context_for(segment, self.sample_rate)
        early = await self.ahead.take(self._decode_key(context))
        if context is not None:
            frames, whole = early or await self._decode(context)
            rest = words_after(" ".join(self._turn.heard), whole) if whole else None
            if rest is not None:
                self._turn.add(segment, rest)
                replaced = self._turn.replace_heard(whole)
                out: list[Frame] = []
                for frame in frames:
                    if isinstance(frame, TranscriptionFrame):
                        if rest:
                            frame.text = rest
                            out.append(frame)
                    else:
                        out.append(frame)
                out.append(TurnTranscriptFrame(text=whole, replaces=replaced))
                return out
        frames, text = early or await self._decode(segment)
        self._turn.add(segment, text)
        return frames

    async def _decode(self, audio: bytes) -> tuple[list[Frame], str]:
        async with inference_queue().slot_async(Priority.TURN):
            with collect_heard() as heard:
                frames = [frame async for frame in super().run_stt(audio)]
        kept = [
            h.avg_logprob
            for h in heard
            if h.text.strip() and h.no_speech_prob < NO_SPEECH_THRESHOLD
        ]
        text = " ".join(f.text.strip() for f in frames if isinstance(f, TranscriptionFrame))
        disputed = self._answer_awaited and self._biased and await self.yes_disputed(audio, text)
        for frame in frames:
            if isinstance(frame, TranscriptionFrame) and kept:
                # How sure Whisper was of its least sure segment (see voice.answers.doubted).
                frame.result = HeardConfidence(min(kept), yes_disputed=disputed)
        return frames, text.strip()

    async def yes_disputed(self, audio: bytes, heard: str) -> bool:
        """Whether ``heard``, read as a yes/no answer, is a yes that decoding ``audio`` (16 kHz
        16-bit PCM) again without the call's biasing does not hear.

        Asked of each segment while a yes/no answer is awaited. The command prompt and contact
        names make Whisper likelier to write whole, fluent phrases, and on a misheard answer
        that phrase can be a yes ("Not right now." as "That's right."). A yes both decodings
        agree on is kept; otherwise the question is asked again. Only a yes pays for the
        second decode.
        """
        if read_answer(heard).answer != "yes":
            return False
        pcm = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        async with inference_queue().slot_async(Priority.TURN):
            # English, as the short-window decoder's tokenizer is.
            segments, _ = await asyncio.to_thread(self._shared_model.transcribe, pcm, language="en")
        plain = " ".join(
            s.text.strip()
            for s in segments
            if s.text.strip() and s.no_speech_prob < NO_SPEECH_THRESHOLD
        )
        return read_answer(plain).answer != "yes"


class SharedPiperTTSService(PiperTTSService):
    """pipecat's Piper TTS service over a voice loaded once per process."""

    def __init__(
        self, *, voice: PiperVoice, phrases: PhraseCache | None = None, **kwargs: Any
    ) -> None:
        # PiperTTSService.__init__ loads (or downloads) the voice; the shared one is used instead.
        TTSService.__init__(
            self,
            push_start_frame=True,
            push_stop_frames=True,
            # The check is for a remote provider that goes silent; here a context without
            # audio is one the caller talked over, and three barge-ins in a row would
            # otherwise mark the voice unusable for the rest of the call.
            max_consecutive_zero_audio_contexts=0,
            settings=PiperTTSService.Settings(model=None, voice=PIPER_VOICE_NAME, language=None),
            **kwargs,
        )
        self._voice = voice
        self._phrases = phrases or PhraseCache()

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Speak ``text``: a fixed phrase from the cache, anything else synthesised chunk by
        chunk (each chunk in a turn slot of the inference queue, so a long reply never holds
        up another call's transcription for more than one sentence)."""
        cached = self._phrases.get(text)
        rate = self._voice.config.sample_rate
        source = _replay(cached) if cached is not None else self._synthesise(text)
        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                without_leading_silence(source, rate), in_sample_rate=rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as exc:
            yield ErrorFrame(error=f"speech synthesis failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()

    async def _synthesise(self, text: str) -> AsyncIterator[bytes]:
        done: list[bytes] = []
        for piece in speech_pieces(text):
            chunks = iter(self._voice.synthesize(piece))
            while True:
                async with inference_queue().slot_async(Priority.TURN):
                    chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    break
                done.append(chunk.audio_int16_bytes)
                yield chunk.audio_int16_bytes
        self._phrases.put(text, done)


async def _replay(chunks: tuple[bytes, ...]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    """A Silero VAD with its own recurrent state over a process-wide ONNX session."""

    def __init__(self, *, session: ort.InferenceSession, params: VADParams) -> None:
        VADAnalyzer.__init__(self, sample_rate=None, params=params)
        model = SileroOnnxModel.__new__(SileroOnnxModel)
        model.session = session
        model.sample_rates = [8000, 16000]
        model.reset_states()
        self._model = model
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self._voiced = False

    def voice_confidence(self, buffer: bytes) -> float:
        """Silero's confidence that the window holds voice (remembered for :attr:`voiced`)."""
        confidence: float = super().voice_confidence(buffer)
        self._voiced = confidence >= self._params.confidence
        return confidence

    @property
    def voiced(self) -> bool:
        """Whether Silero heard voice in the last window, however loud the audio so far.

        pipecat also asks for a loudness over a 0.4 s window, smoothed across windows: that
        keeps a burst of noise from starting speech, but it lags a sudden voice by two or three
        windows after Silero has already heard it.
        """
        return self._voiced

    @property
    def state(self) -> VADState:
        """Where the analyzer stands after the audio it has read."""
        return self._vad_state

    @property
    def quiet_windows(self) -> int:
        """Quiet windows in a row since speech, while the analyzer is deciding it stopped."""
        return self._vad_stopping_count if self._vad_state == VADState.STOPPING else 0


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """Smart Turn v3 with its own audio buffer over a process-wide ONNX session."""

    def __init__(self, *, session: ort.InferenceSession, params: SmartTurnParams) -> None:
        BaseSmartTurn.__init__(self, params=params)
        self._log_data = False
        self._session = session


def _onnx_session(path: str, threads: int = 1) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


@dataclass
class VoiceServices:
    """Everything a call needs that is process-wide: the run store and the loaded models.

    Build it once with :func:`load_voice_services`; :func:`voice.pipeline.build_call_pipeline`
    turns it into per-call pipecat services with the ``new_*`` factories.
    """

    settings: Settings
    voice_settings: VoiceSettings
    store: RunStore
    whisper: ShortTurnWhisper
    whisper_name: str
    piper: PiperVoice
    silero: ort.InferenceSession
    smart_turn: ort.InferenceSession | None = None
    phrases: PhraseCache = field(default_factory=PhraseCache)
    """Audio of the fixed phrases, synthesised once per process."""
    classifier_agent: Callable[[], Agent] | None = None
    """Builds the agent whose classification task judges answers the lexical path cannot."""
    load_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        """The store's database engine."""
        return self.store.engine

    def new_vad(self) -> SharedSileroVADAnalyzer:
        """A VAD analyzer for one call."""
        return SharedSileroVADAnalyzer(
            session=self.silero,
            params=VADParams(
                start_secs=VAD_START_SECS,
                stop_secs=self.voice_settings.voice_vad_stop_secs,
                min_volume=VAD_MIN_VOLUME,
            ),
        )

    def new_stt(
        self, contact_names: Sequence[str] = (), vad: SharedSileroVADAnalyzer | None = None
    ) -> SharedWhisperSTTService:
        """A Whisper STT service for one call (expects 16 kHz input).

        Recognition is biased (BATON_WHISPER_BIAS) toward the command vocabulary and the
        caller's ``contact_names``. Given the call's ``vad``, a segment is decoded while the
        VAD is still confirming its end.
        """
        bias = whisper_bias(self.voice_settings.whisper_bias, contact_names)
        return SharedWhisperSTTService(
            model=self.whisper, model_name=self.whisper_name, bias=bias, vad=vad
        )

    def caller_contact_names(self, tenant_id: str, user_id: str) -> list[str]:
        """The names in the caller's address book, to bias recognition toward them.

        Biasing is an aid: a failed lookup is logged and the call is recognised without names.
        """
        try:
            with self.engine.connect() as conn:
                return [c.name for c in list_contacts(conn, tenant_id, user_id)]
        except SQLAlchemyError as exc:
            log.warning("contact names for speech recognition unavailable: %s", exc)
            return []

    def new_tts(self) -> SharedPiperTTSService:
        """A Piper TTS service for one call (fixed phrases come from the process's cache)."""
        return SharedPiperTTSService(voice=self.piper, phrases=self.phrases)

    def new_turn_strategies(
        self,
        contact_names: Sequence[str] = (),
        sounding: Callable[[float], bool] | None = None,
    ) -> UserTurnStrategies:
        """How a call decides that the caller has finished a turn (BATON_VOICE_TURN).

        With the silence strategy a pause after a whole request ends the turn sooner
        (``contact_names`` help read it), unless ``sounding`` says the caller has made a sound
        since the VAD heard them stop.
        """
        # Over the bot's speech only a real barge-in starts a turn (not "uh-huh").
        start = [BargeInStart(vad_stop_secs=self.voice_settings.voice_vad_stop_secs)]
        if self.voice_settings.voice_turn == "smart_turn":
            if self.smart_turn is None:
                raise RuntimeError(
                    "Smart Turn is not loaded: load with BATON_VOICE_TURN=smart_turn"
                )
            analyzer = SharedSmartTurnAnalyzer(session=self.smart_turn, params=SmartTurnParams())
            return UserTurnStrategies(
                start=list(start), stop=[SmartTurnStop(turn_analyzer=analyzer)]
            )
        return UserTurnStrategies(
            start=list(start),
            stop=[
                SilenceTurnStop(
                    user_speech_timeout=self.voice_settings.voice_turn_wait_secs,
                    complete=partial(reads_complete, contact_names=contact_names),
                    new_request=partial(reads_new_request, contact_names=contact_names),
                    complete_wait=self.voice_settings.voice_complete_turn_wait_secs,
                    sounding=sounding,
                )
            ],
        )


def _warm_up(model: WhisperModel, voice: PiperVoice) -> None:
    """Run each model once: the first inference allocates buffers and costs several times more."""
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000) * 0.01).astype(np.float32)
    segments, _ = ShortTurnWhisper(model).transcribe(noise, language="en")
    list(segments)
    for _chunk in voice.synthesize("Hello."):
        pass


def load_voice_services(
    settings: Settings,
    voice_settings: VoiceSettings,
    engine: Engine,
    *,
    classifier_agent: Callable[[], Agent] | None = None,
) -> VoiceServices:
    """Load Whisper, Piper, Silero (and Smart Turn when it is the turn strategy) from local weights.

    Raises :class:`models.weights.WeightError` naming the package to install when a weight
    is missing, and ValueError for a BATON_VOICE_TURN, BATON_WHISPER_BIAS,
    BATON_WHISPER_WINDOW or BATON_WHISPER_BEAM_SIZE it does not know.
    """
    vs = voice_settings
    if vs.voice_turn not in TURN_STRATEGIES:
        raise ValueError(
            f"BATON_VOICE_TURN={vs.voice_turn!r}: use one of {', '.join(TURN_STRATEGIES)}"
        )
    whisper_bias(vs.whisper_bias)  # an unknown mode fails at start-up, not on a call
    if not 1 <= vs.whisper_beam_size <= MAX_BEAM_SIZE:
        raise ValueError(
            f"BATON_WHISPER_BEAM_SIZE={vs.whisper_beam_size}: use 1 (greedy) to {MAX_BEAM_SIZE}"
        )
    windows = [w.value for w in WhisperWindow]
    if vs.whisper_window not in windows:
        raise ValueError(
            f"BATON_WHISPER_WINDOW={vs.whisper_window!r}: use one of {', '.join(windows)}"
        )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    folder = whisper_dir(vs.whisper_model, settings.data_dir)
    model = WhisperModel(
        str(folder), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1
    )
    timings["whisper"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    onnx, config = piper_voice()
    voice = PiperVoice.load(onnx, config_path=config)
    timings["piper"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    silero = _onnx_session(str(silero_vad()))
    turn = _onnx_session(str(smart_turn())) if vs.voice_turn == "smart_turn" else None
    timings["onnx"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _warm_up(model, voice)
    timings["warm_up"] = time.perf_counter() - t0
    return VoiceServices(
        settings=settings,
        voice_settings=vs,
        store=RunStore(engine, settings),
        whisper=ShortTurnWhisper(model, WhisperWindow(vs.whisper_window), vs.whisper_beam_size),
        whisper_name=str(folder),
        piper=voice,
        silero=silero,
        smart_turn=turn,
        classifier_agent=classifier_agent,
        load_seconds=timings,
    )
