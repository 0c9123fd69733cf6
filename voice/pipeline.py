"""The call pipeline shared by every transport (browser WebRTC, phone websockets).

    transport.input() -> voice clock -> Silero VAD (and first sound) -> Whisper STT (16 kHz)
        -> end of turn -> Baton bridge -> Piper TTS -> audio tap -> speech hold
        -> transport.output()

The transport decides only how audio gets in and out; everything between is the same for
every call, built from the process-wide models in :class:`voice.services.VoiceServices`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.observers.base_observer import BaseObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.turns.user_turn_processor import UserTurnProcessor
from pipecat.workers.runner import WorkerRunner

from core.metrics.voice import call_ended, call_started
from voice.bridge import FIXED_PHRASES, BatonBridge
from voice.services import VoiceServices
from voice.session import CallSession
from voice.speech_end import VoiceClock
from voice.speech_hold import OutputHold, SpeechHold
from voice.speech_onset import OnsetVADProcessor
from voice.turn_timing import CallMetrics

# Whisper needs 16 kHz; every transport resamples its input to this rate.
STT_SAMPLE_RATE = 16000
# Twilio, Telnyx and Plivo carry 8 kHz audio: synthesising more is wasted work.
PHONE_OUT_SAMPLE_RATE = 8000
BROWSER_OUT_SAMPLE_RATE = 24000
# A turn whose end no strategy declares (noise Whisper hears no words in) ends after this
# long without news. It must outlast a slow transcription: at 3 s a busy machine's Whisper
# (4 s for one short segment under load) got its turns cut in half.
USER_TURN_STOP_TIMEOUT = 8.0


class AudioTap(FrameProcessor):
    """Notes when bot audio leaves TTS (first greeting audio, first reply audio per turn)."""

    def __init__(self, metrics: CallMetrics) -> None:
        super().__init__(name="audio-tap", enable_direct_mode=True)
        self.metrics = metrics

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Pass every frame on; time the audio ones."""
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.metrics.audio_out()
        await self.push_frame(frame, direction)


def call_processors(
    call: CallSession, services: VoiceServices, metrics: CallMetrics
) -> list[FrameProcessor]:
    """The processors between a transport's input and output, for one call."""
    services.phrases.add_fixed(FIXED_PHRASES)
    contacts = services.caller_contact_names(call.tenant_id, call.user_id)
    vad = services.new_vad()
    clock = VoiceClock()
    return [
        clock,
        OnsetVADProcessor(vad),
        services.new_stt(contacts, vad=vad),
        UserTurnProcessor(
            user_turn_strategies=services.new_turn_strategies(contacts, clock.sounding),
            user_turn_stop_timeout=USER_TURN_STOP_TIMEOUT,
        ),
        BatonBridge(call, services, metrics, clock),
        services.new_tts(),
        AudioTap(metrics),
    ]


def build_call_pipeline(
    transport: BaseTransport,
    call: CallSession,
    services: VoiceServices,
    *,
    observers: Sequence[BaseObserver] = (),
    audio_out_sample_rate: int | None = None,
) -> PipelineWorker:
    """Build the worker that runs one call over ``transport``. Stable public API.

    Args:
        transport: Any pipecat transport whose ``input()``/``output()`` carry the call's audio
            (``SmallWebRTCTransport`` for browsers, ``FastAPIWebsocketTransport`` with a
            telephony serializer for phones). Input is resampled to 16 kHz for Whisper by the
            pipeline (``audio_in_sample_rate``), so the transport may deliver any rate.
        call: Who is calling and, optionally, the run they asked to continue
            (``call.run_id``). The bridge updates ``call.run_id`` as the call attaches to runs.
        services: The process-wide models and run store (:func:`load_voice_services`).
        observers: Extra pipecat observers (tests, benchmarks).
        audio_out_sample_rate: TTS output rate; defaults to 8 kHz for phone calls and
            24 kHz for browser calls.

    Returns:
        A ``PipelineWorker``; run it with :func:`run_call` (or your own ``WorkerRunner``) and
        end it with ``await worker.cancel()`` when the caller hangs up. ``worker.call_metrics``
        holds the call's timings and ``worker.bridge`` the bridge processor.
    """
    metrics = CallMetrics(
        call_id=call.call_id, channel=call.channel, tenant_id=call.tenant_id, user_id=call.user_id
    )
    output = transport.output()
    hold = OutputHold()
    hold.install(output)
    processors = [
        transport.input(),
        *call_processors(call, services, metrics),
        SpeechHold(hold, metrics),
        output,
    ]
    if audio_out_sample_rate is None:
        audio_out_sample_rate = (
            PHONE_OUT_SAMPLE_RATE if call.channel == "phone" else BROWSER_OUT_SAMPLE_RATE
        )
    worker = PipelineWorker(
        Pipeline(processors),
        params=PipelineParams(
            audio_in_sample_rate=STT_SAMPLE_RATE,
            audio_out_sample_rate=audio_out_sample_rate,
            enable_metrics=True,
        ),
        observers=list(observers),
        idle_timeout_secs=None,
        enable_rtvi=False,
        name=f"call-{call.call_id}",
    )
    worker.call_metrics = metrics  # type: ignore[attr-defined]
    worker.bridge = next(p for p in processors if isinstance(p, BatonBridge))  # type: ignore[attr-defined]
    return worker


async def run_call(worker: PipelineWorker) -> None:
    """Run one call's worker to its end (hang-up, ``worker.cancel()`` or an EndFrame)."""
    runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
    await runner.add_workers(worker)
    call_started()
    try:
        await runner.run()
    finally:
        call_ended()
        worker.call_metrics.hung_up()  # type: ignore[attr-defined]
