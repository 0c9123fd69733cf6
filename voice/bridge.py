"""The Baton bridge: caller turns become run inputs, run outcomes become speech.

The bridge sits where an LLM would in a pipecat pipeline. It never decides anything itself:
each finished user turn is written to the run core (a new run, a message to the attached run,
a follow-up of a finished one, or an approval decision) and the bridge then waits for the
store to say what the run did (completed, waiting for a human, failed). The store is the
source of truth; the pipeline only holds what is needed to talk (the mode of the
conversation and the current approval question). A hang-up therefore loses nothing: the run
goes on or waits, and the next call offers to continue it.

Barge-in: every new user turn bumps ``epoch``; a reply computed for an older epoch is not
spoken. Runs are never cancelled by an interruption; the durable run state (and the tool
layer's own idempotency) decides what happens to work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputDTMFFrame,
    InterruptionFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from core.errors import BatonError, Conflict
from core.runs.events import EventType
from core.runs.states import TERMINAL, RunStatus
from core.runs.surface_events import record_run_event
from voice.answers import DecidedBy, Reading, doubted
from voice.approvals import (
    KEYPAD_ANSWERS,
    AnswerClassifier,
    agent_classifier,
    approval_question,
    judge_answer,
    pending_details,
    reask_question,
)
from voice.composer import SpokenReply, compose_reply, fit_spoken, sentences_of, speech_chunks
from voice.frames import (
    AnswerAwaitedFrame,
    CallerSoundFrame,
    HeardConfidence,
    SegmentTranscribedFrame,
    TurnTranscriptFrame,
)
from voice.services import VAD_WINDOW_SECS, VoiceServices
from voice.session import CallSession
from voice.speculation import Speculation
from voice.speech_end import VoiceClock
from voice.turn_complete import reads_look_up, reads_new_request
from voice.turn_timing import CallMetrics, TurnTiming

log = logging.getLogger(__name__)
S = RunStatus
Mode = Literal["idle", "resume_offer", "approval"]
SETTLED = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.WAITING_FOR_HUMAN})
# An answer to a yes/no question is acted on only after this much more quiet: "Yes, but..."
# cut at the comma must not approve anything.
ANSWER_GRACE_SECONDS = 0.6
STILL_WORKING_AFTER = 2.5
MAX_APPROVAL_ASKS = 2

GREETING = "Hi, this is Baton. How can I help?"
DIDNT_CATCH = "Sorry, I didn't catch that."
STILL_WORKING = "One moment, I'm still working on it."
TOO_SLOW = "This is taking a while. I'll send the result to your phone."
LEFT_PENDING = "Okay, I'll leave that pending. You can approve it from your phone."
GUEST_CANNOT_APPROVE = (
    "That needs an approval, which I can't take from an unknown number. "
    "I've left it for the account owner."
)
FAILED = "Sorry, I couldn't finish that."
CANCELLED = "That task was cancelled."
ALREADY_DECIDED = "That approval was already decided."
NEW_TASK = "Okay. What can I do for you?"
RESUME_QUESTION = "Continue the open task?"
FIXED_PHRASES = (
    GREETING, DIDNT_CATCH, STILL_WORKING, TOO_SLOW, LEFT_PENDING, GUEST_CANNOT_APPROVE, FAILED,
    CANCELLED, ALREADY_DECIDED, NEW_TASK, "Okay, continuing.",
)  # fmt: skip
"""What the bot says word for word: synthesised once per process (voice.phrases)."""


class BatonBridge(FrameProcessor):
    """Turns the caller's finished turns into run inputs and the run's outcomes into speech."""

    def __init__(
        self,
        call: CallSession,
        services: VoiceServices,
        metrics: CallMetrics,
        voice_clock: VoiceClock | None = None,
    ) -> None:
        # Direct mode keeps frame order: through a queue, the (system) UserStoppedSpeakingFrame
        # could overtake the transcript of the turn it ends.
        super().__init__(name=f"baton-bridge-{call.call_id[-6:]}", enable_direct_mode=True)
        self.call = call
        self.services = services
        self.store = services.store
        self.metrics = metrics
        self.voice_clock = voice_clock
        self.mode: Mode = "idle"
        self.epoch = 0
        self._heard: list[str] = []
        self._held: list[str] = []
        self.turns_heard: list[str] = []
        """Every finished caller turn, as heard (for call pages, tests and benchmarks)."""
        self._grace: asyncio.Task[None] | None = None
        self._turn_index = 0
        self._offer_run: dict[str, Any] | None = None
        self._approval: dict[str, Any] | None = None
        self._approval_asks = 0
        self._unasked: dict[str, Any] | None = None
        """A run whose yes/no question the caller never heard: they spoke on first."""
        self._keypad_approval: dict[str, Any] | None = None
        """The approval a key press decides (phone calls; it outlives "left pending")."""
        self._current: TurnTiming | None = None
        self._waiting_on_run = False
        self._user_turn_open = False
        self._caller_speaking = False
        self._unclaimed: list[str] = []
        self.backchannels: list[str] = []
        """What the caller said over the bot that was only a backchannel (never a turn)."""
        self.answers: Speculation[Reading] = Speculation()
        """The reading of a yes/no answer, started when the caller pauses."""
        self._turns: asyncio.Queue[tuple[str, int, TurnTiming]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        # For barge-ins: whether the bot is talking, and when the caller's speech began.
        self._bot_speaking = False
        self._speech_onset: float | None = None
        self._sound_onset: float | None = None

    # ----- frames ------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Collect the caller's words; act when the turn ends; stop stale speech on barge-in."""
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._worker = self.create_task(self._work(), name="baton-bridge-turns")
            await self._turns.put(("", -1, TurnTiming()))  # the greeting goes first
            return
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._close()
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, UserStartedSpeakingFrame | InterruptionFrame):
            if self._bot_speaking and self._speech_onset is not None:
                # The caller talked over the bot: its speech fell quiet when their voice was
                # first heard (the hold), and is being cut off for good now.
                self._bot_speaking = False
                stopped = time.monotonic()
                held = self.metrics.audio_held_at
                if held is not None and self._speech_onset <= held <= stopped:
                    stopped = held
                self.metrics.barged_in(self._speech_onset, stopped, self.call.run_id)
            self._user_turn_open = True
            for text in self._unclaimed:
                await self._heard_words(text)
            self._unclaimed.clear()
            # The caller goes on: a reading of their words so far is void.
            self.answers.abandon()
            self.epoch += 1
            if self._current is None:
                self._current = TurnTiming()
            if self._grace is not None:
                # The caller went on talking: what they said joins this turn.
                await self.cancel_task(self._grace)
                self._grace = None
        elif isinstance(frame, CallerSoundFrame):
            # The VAD's first voiced window ends about a window after the voice began.
            self._sound_onset = time.monotonic() - VAD_WINDOW_SECS if frame.started else None
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._caller_speaking = True
            onset = time.monotonic() - frame.start_secs
            if self._sound_onset is not None:
                onset = min(onset, self._sound_onset)
                self._sound_onset = None
            self._speech_onset = onset
        elif isinstance(frame, BotStartedSpeakingFrame | BotStoppedSpeakingFrame):
            self._bot_speaking = isinstance(frame, BotStartedSpeakingFrame)
        elif isinstance(frame, SegmentTranscribedFrame) and not self._user_turn_open:
            # Words that started no turn (a backchannel over the bot): never part of one.
            self.backchannels.extend(self._unclaimed)
            self._unclaimed.clear()
        elif isinstance(frame, TurnTranscriptFrame) and self._user_turn_open:
            self._reread_turn(frame)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._caller_speaking = False
            timing = self._timing()
            timing.vad_stopped = time.monotonic()
            timing.speech_ended = timing.vad_stopped - frame.stop_secs
            if self.voice_clock is not None:
                timing.speech_ended = self.voice_clock.speech_ended(timing.speech_ended)
        elif isinstance(frame, InputDTMFFrame):
            digit = str(frame.button.value)
            if self._keypad_approval is not None and digit in KEYPAD_ANSWERS:
                await self._turns.put(("", self.epoch, TurnTiming(keypad=digit)))
        elif (
            isinstance(frame, TranscriptionFrame)
            and direction == FrameDirection.DOWNSTREAM
            and frame.text.strip()
        ):
            if self._user_turn_open:
                await self._heard_words(frame.text.strip(), frame.result)
            else:
                # Whether these words start a turn is decided next (voice.backchannels).
                self._unclaimed.append(frame.text.strip())
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_turn_open = False
            self._timing().turn_ended = time.monotonic()
            self._held.extend(self._heard)
            self._heard.clear()
            if self.mode == "idle" or reads_new_request(" ".join(self._held)):
                # A new request instead of an answer has nothing to wait for: an answer's
                # grace is for "yes" followed by "but...".
                await self._release_turn()
            else:
                self._grace = self.create_task(self._release_after_grace(), name="answer-grace")
        await self.push_frame(frame, direction)

    async def _heard_words(self, text: str, result: object = None) -> None:
        self._heard.append(text)
        timing = self._timing()
        timing.transcribed = time.monotonic()
        if isinstance(result, HeardConfidence):
            timing.heard_logprob = min(timing.heard_logprob or 0.0, result.avg_logprob)
            timing.yes_disputed = timing.yes_disputed or result.yes_disputed
        self._read_ahead()

    def _reread_turn(self, frame: TurnTranscriptFrame) -> None:
        """The STT read the turn's segments again as one clip: that reading replaces theirs."""
        if frame.replaces < 1 or len(self._heard) < frame.replaces:
            return
        self._heard[-frame.replaces :] = [frame.text.strip()] if frame.text.strip() else []
        self._read_ahead()

    def _read_ahead(self) -> None:
        # A transcript comes after the VAD heard silence: read the answer now, not after the
        # turn-end wait and the grace (used only if the turn ends with exactly these words).
        words = " ".join([*self._held, *self._heard]).strip()
        reader = self._answer_reader(words)
        if reader is not None and not self._caller_speaking:
            self.answers.start(words, reader)

    def _answer_reader(self, text: str) -> Callable[[], Awaitable[Reading]] | None:
        """How the open question reads an answer, or None when no question is open."""
        if self.mode == "resume_offer":
            return lambda: judge_answer(RESUME_QUESTION, text)
        approval = self._approval
        if self.mode == "approval" and approval is not None:
            return lambda: judge_answer(approval_question(approval), text, self._model(approval))
        return None

    async def _read_answer(self, text: str, timing: TurnTiming) -> Reading:
        """The reading of a finished answer turn (from the speculation when it read these
        exact words); a yes Whisper was unsure it heard, or heard only with biasing, is not
        taken."""
        reader = self._answer_reader(text)
        assert reader is not None
        return doubted(
            await self.answers.result(text, reader), timing.heard_logprob, timing.yes_disputed
        )

    async def _release_after_grace(self) -> None:
        await asyncio.sleep(ANSWER_GRACE_SECONDS)
        self._grace = None
        await self._release_turn()

    async def _release_turn(self) -> None:
        timing = self._timing()
        timing.text = " ".join(self._held).strip()
        self._held.clear()
        self.turns_heard.append(timing.text)
        self._current = None
        await self._turns.put((timing.text, self.epoch, timing))

    def _timing(self) -> TurnTiming:
        if self._current is None:
            self._current = TurnTiming()
        return self._current

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        was_waiting = self._waiting_on_run
        if self._grace is not None:
            await self.cancel_task(self._grace)
            self._grace = None
        if self._worker is not None:
            await self.cancel_task(self._worker)
            self._worker = None
        if self.mode == "approval" and self._approval and self.call.run_id:
            # Hung up with the question unanswered: it stays pending for the phone / web view.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._handoff, "call_ended_with_approval_pending")
        elif self._unasked is not None:
            unasked, self.call.run_id = self._unasked, self._unasked["run_id"]
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self._handoff,
                    "call_ended_with_approval_pending",
                    str(unasked["pending_approval_id"]),
                )
        elif was_waiting and self.call.run_id:
            # Hung up while the run worked: its outcome goes to the phone (or a call-back).
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._handoff, "call_ended_while_working")

    async def _work(self) -> None:
        """Handle turns one at a time, in order (the run core sees them in spoken order)."""
        while True:
            text, epoch, timing = await self._turns.get()
            try:
                if epoch < 0:
                    await self._greet()
                else:
                    await self._handle_turn(text, epoch, timing)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("call %s: a turn failed", self.call.call_id)
                await self._say(FAILED, self.epoch)

    # ----- speaking ----------------------------------------------------------------------

    async def _say(self, text: str, epoch: int, timing: TurnTiming | None = None) -> None:
        """Speak a fixed prompt at once (greeting, question, notice)."""
        if epoch != self.epoch or self._closed:
            return
        self._mark_first_text(timing)
        await self.call.emit({"type": "transcript", "role": "bot", "text": text})
        await self.push_frame(TTSSpeakFrame(text))

    async def _speak(self, reply: SpokenReply, epoch: int, timing: TurnTiming | None) -> None:
        """Stream a reply to TTS sentence by sentence, unless the caller has spoken since."""
        if epoch != self.epoch or self._closed or not reply.sentences:
            return
        self._mark_first_text(timing)
        await self.call.emit({"type": "transcript", "role": "bot", "text": reply.text})
        # Each chunk is synthesised as soon as the previous one is, while that one plays.
        for chunk in speech_chunks(reply.sentences):
            if epoch != self.epoch:
                break
            await self.push_frame(TTSSpeakFrame(chunk))

    def _mark_first_text(self, timing: TurnTiming | None) -> None:
        if timing is not None and timing.first_text is None:
            timing.first_text = time.monotonic()
            timing.run_id = self.call.run_id
            self.metrics.reply_started(timing)

    async def _set_mode(self, mode: Mode) -> None:
        """Enter ``mode``; the turn-start strategy hears whether a yes/no answer is awaited."""
        if mode != self.mode:
            self.mode = mode
            await self.push_frame(
                AnswerAwaitedFrame(awaited=mode != "idle"), FrameDirection.UPSTREAM
            )

    async def _ask(self, question: str, epoch: int, timing: TurnTiming | None) -> None:
        await self.call.emit({"type": "question", "text": question})
        await self._say(question, epoch, timing)

    # ----- greeting and resume -----------------------------------------------------------

    async def _greet(self) -> None:
        if self.call.ready is not None:
            await self.call.ready()
        epoch = self.epoch
        if self.call.meta.get("callback") and self.call.run_id:
            await self._open_callback(epoch)
            return
        offer: dict[str, Any] | None = None
        if self.call.run_id:
            with contextlib.suppress(BatonError):
                offer = await asyncio.to_thread(
                    self.store.get_run, self.call.tenant_id, self.call.user_id, self.call.run_id
                )
            self.call.run_id = None
        else:
            open_runs = await asyncio.to_thread(
                self.store.open_runs, self.call.tenant_id, self.call.user_id
            )
            offer = open_runs[0] if open_runs else None
            if offer is not None and len(open_runs) > 1:
                self.call.meta["open_runs"] = len(open_runs)
        if offer is None or offer["status"] in TERMINAL:
            await self._say(GREETING, epoch)
            return
        self._offer_run = offer
        await self._set_mode("resume_offer")
        count = self.call.meta.get("open_runs", 1)
        task = _task_summary(offer["goal"])
        lead = (
            "You have one open task" if count == 1 else f"You have {count} open tasks. The latest"
        )
        sep = ":" if count == 1 else " is:"
        await self._ask(f"{lead}{sep} {task}. Continue?", epoch, None)

    async def _open_callback(self, epoch: int) -> None:
        """A call-back opens with its reason: the run's result or its one yes/no question."""
        try:
            run = await asyncio.to_thread(self._run)
        except BatonError:
            self.call.run_id = None
            await self._say(GREETING, epoch)
            return
        await self._say(
            f"Hi, this is Baton, calling back about: {_task_summary(run['goal'])}.", epoch
        )
        await self._continue_run(run, epoch, None)

    async def _continue_run(
        self, run: dict[str, Any], epoch: int, timing: TurnTiming | None
    ) -> None:
        """Say where the attached run stands; if it still works, wait for its outcome."""
        if run["status"] in SETTLED:
            await self._outcome(run, epoch, timing)
            return
        await self._say("Okay, continuing.", epoch, timing)
        settled = await self._wait(int(run["last_event_seq"]), epoch, None)
        if settled is not None:
            await self._outcome(settled, epoch, None)

    async def _answer_resume_offer(self, text: str, epoch: int, timing: TurnTiming) -> None:
        offer = self._offer_run
        assert offer is not None
        # Read while the offer is still the open question.
        answer = (await self._read_answer(text, timing)).answer
        self._offer_run = None
        await self._set_mode("idle")
        if answer == "no":
            await self._say(NEW_TASK, epoch, timing)
            return
        if answer == "unclear":
            # Not an answer to the offer: take it as a new request.
            await self._submit(text, epoch, timing)
            return
        self.call.run_id = offer["run_id"]
        run = await asyncio.to_thread(self._run)
        await self._continue_run(run, epoch, timing)

    # ----- turns ---------------------------------------------------------------------------

    async def _handle_turn(self, text: str, epoch: int, timing: TurnTiming) -> None:
        if timing.keypad:
            await self._answer_keypad(timing.keypad, epoch, timing)
            return
        if not text:
            if self.mode == "approval":
                await self._approval_unclear(epoch, timing)
            else:
                await self._say(DIDNT_CATCH, epoch, timing)
            return
        await self.call.emit({"type": "transcript", "role": "user", "text": text})
        if self.mode == "resume_offer":
            await self._answer_resume_offer(text, epoch, timing)
        elif self.mode == "approval":
            await self._answer_approval(text, epoch, timing)
        elif self._unasked is not None:
            await self._after_unasked_approval(text, epoch, timing)
        else:
            await self._submit(text, epoch, timing)

    def _run(self) -> dict[str, Any]:
        assert self.call.run_id is not None
        return self.store.get_run(self.call.tenant_id, self.call.user_id, self.call.run_id)

    def _write_turn(self, text: str) -> dict[str, Any]:
        """Write the caller's words to the core; returns the run view after the write."""
        c = self.call
        self._turn_index += 1
        key = f"voice:{c.call_id}:{self._turn_index}"
        meta = {"call_id": c.call_id, "channel": c.channel, "guest": c.guest}
        run = None
        if c.run_id:
            try:
                run = self.store.get_run(c.tenant_id, c.user_id, c.run_id)
            except BatonError:
                run = None
        if run is None:
            return self.store.create_run(
                c.tenant_id, c.user_id, text, channel="voice", idempotency_key=key, meta=meta
            )
        if run["status"] in (S.COMPLETED, S.FAILED):
            return self.store.follow_up(c.tenant_id, c.user_id, run["run_id"], text, "voice")
        if run["pending_approval_id"]:
            # A new request while an approval waits: the approval stays pending (it is not
            # superseded by unrelated speech); the request becomes its own run.
            return self.store.create_run(
                c.tenant_id, c.user_id, text, channel="voice", idempotency_key=key,
                parent_run_id=run["run_id"], meta=meta,
            )  # fmt: skip
        return self.store.post_message(c.tenant_id, c.user_id, run["run_id"], text, "voice")

    async def _submit(self, text: str, epoch: int, timing: TurnTiming) -> None:
        timing.submitted = time.monotonic()
        run = await asyncio.to_thread(self._write_turn, text)
        self.call.run_id = run["run_id"]
        await self.call.emit({"type": "state", "run_id": run["run_id"], "status": run["status"]})
        settled = await self._wait(int(run["last_event_seq"]), epoch, timing)
        if settled is not None:
            await self._outcome(settled, epoch, timing)

    async def _wait(
        self, after_seq: int, epoch: int, timing: TurnTiming | None
    ) -> dict[str, Any] | None:
        """Wait until the attached run settles after ``after_seq``; None on timeout."""
        self._waiting_on_run = True
        try:
            return await self._await_settled(after_seq, epoch, timing)
        finally:
            self._waiting_on_run = False

    async def _await_settled(
        self, after_seq: int, epoch: int, timing: TurnTiming | None
    ) -> dict[str, Any] | None:
        """Wait until the attached run settles after ``after_seq``; None on timeout.

        The run-change notifier wakes the call when the run's events commit (no polling).
        """
        assert self.call.run_id is not None
        started = time.monotonic()
        deadline = started + self.services.voice_settings.voice_run_wait_secs
        nudge_at: float | None = started + STILL_WORKING_AFTER
        # Subscribing may wait for the database watcher to start: not on the event loop.
        with await asyncio.to_thread(self.store.watch, [self.call.run_id]) as changes:
            while True:
                run = await asyncio.to_thread(self._run)
                if run["status"] in SETTLED and int(run["last_event_seq"]) > after_seq:
                    if timing is not None:
                        timing.settled = time.monotonic()
                    return run
                now = time.monotonic()
                if now >= deadline:
                    await asyncio.to_thread(self._handoff, "run_slower_than_call")
                    await self._say(TOO_SLOW, epoch, timing)
                    return None
                if nudge_at is not None and now >= nudge_at:
                    nudge_at = None
                    await self._say(STILL_WORKING, epoch, None)
                await changes.changed(min(deadline, nudge_at or deadline) - now)

    async def _outcome(self, run: dict[str, Any], epoch: int, timing: TurnTiming | None) -> None:
        """Say what the run did (unless the caller has spoken since: the store keeps it)."""
        await self.call.emit({"type": "state", "run_id": run["run_id"], "status": run["status"]})
        if epoch != self.epoch or self._closed:
            # A question the caller never heard must not turn their next words into an answer;
            # it is asked after them (see _after_unasked_approval).
            if _waits_on_approval(run):
                self._unasked = run
            return
        status = run["status"]
        if status == S.COMPLETED:
            reply = await asyncio.to_thread(
                compose_reply,
                self.services.settings,
                self.services.voice_settings,
                self.services.engine,
                self.call,
                run["run_id"],
                run["result"] or "Done.",
                title=run["goal"],
            )
            await self._speak(reply, epoch, timing)
        elif _waits_on_approval(run):
            await self._start_approval(run, epoch, timing)
        elif status == S.WAITING_FOR_HUMAN:
            question = await asyncio.to_thread(self._human_question, run)
            inline, _ = fit_spoken(self.services.voice_settings, question)
            await self.call.emit({"type": "question", "text": inline})
            await self._speak(SpokenReply(sentences_of(inline)), epoch, timing)
        elif status == S.CANCELLED:
            await self._say(CANCELLED, epoch, timing)
        else:
            await self._say(FAILED, epoch, timing)

    def _human_question(self, run: dict[str, Any]) -> str:
        events = self.store.events(self.call.tenant_id, self.call.user_id, run["run_id"])
        asked = [e for e in events if e["type"] == "HumanInputRequested"]
        return str((asked[-1]["data"] or {}).get("question") or "") if asked else "Go on?"

    # ----- approvals -----------------------------------------------------------------------

    async def _start_approval(
        self, run: dict[str, Any], epoch: int, timing: TurnTiming | None
    ) -> None:
        approval = await asyncio.to_thread(
            self.store.pending_approval, self.call.tenant_id, self.call.user_id, run["run_id"]
        )
        if approval is None:
            await self._say(FAILED, epoch, timing)
            return
        if self.call.guest:
            await asyncio.to_thread(self._handoff, "guest_cannot_approve")
            await self._say(GUEST_CANNOT_APPROVE, epoch, timing)
            return
        self._approval = approval
        self._approval_asks = 0
        self._keypad_approval = approval if self.call.channel == "phone" else None
        await self._set_mode("approval")
        await self._ask(approval_question(approval), epoch, timing)

    async def _answer_approval(self, text: str, epoch: int, timing: TurnTiming) -> None:
        approval = self._approval
        assert approval is not None
        reading = await self._read_answer(text, timing)
        if reading.answer == "unclear" and reads_new_request(text):
            if reading.question is not None and reads_look_up(text):
                # Something to look up before deciding ("What do I have on Friday?"): it is
                # answered, then the same question is asked again.
                await self._answer_before_deciding(approval, text, epoch, timing)
                return
            # The caller asked for something else: that is answered, and the question stays
            # pending for the phone or the web view rather than being asked again.
            await self._set_aside_approval()
            await self._submit(text, epoch, timing)
            return
        if reading.question is not None:
            # A question about the action: answer it from the stored arguments, ask again.
            details = pending_details(approval, reading.question)
            await self._approval_unclear(epoch, timing, lead=details)
            return
        if reading.answer == "unclear":
            await self._approval_unclear(epoch, timing)
            return
        method = reading.decided_by or DecidedBy.LEXICON
        await self._decide(approval, reading.answer == "yes", text, method, epoch, timing)

    async def _answer_before_deciding(
        self, approval: dict[str, Any], text: str, epoch: int, timing: TurnTiming
    ) -> None:
        """Answer a question of its own asked over a yes/no question, then ask that again
        if it is still open and nothing else was asked meanwhile."""
        await self._set_mode("idle")
        self._approval = None
        self._keypad_approval = None
        await self._submit(text, epoch, timing)
        if epoch != self.epoch or self._closed or self.mode != "idle":
            return
        c = self.call
        still = await asyncio.to_thread(
            self.store.pending_approval, c.tenant_id, c.user_id, approval["run_id"]
        )
        if still is None or still["approval_id"] != approval["approval_id"]:
            return
        c.run_id = approval["run_id"]
        self._approval = still
        self._keypad_approval = still if c.channel == "phone" else None
        await self._set_mode("approval")
        await self._ask(approval_question(still), epoch, None)

    async def _answer_keypad(self, digit: str, epoch: int, timing: TurnTiming) -> None:
        """A key pressed on the phone decides the approval it was offered for."""
        approval = self._keypad_approval
        if approval is None:
            return
        approve = KEYPAD_ANSWERS[digit] == "yes"
        await self._decide(approval, approve, f"dtmf:{digit}", DecidedBy.DTMF, epoch, timing)

    async def _decide(
        self,
        approval: dict[str, Any],
        approve: bool,
        evidence: str,
        method: DecidedBy,
        epoch: int,
        timing: TurnTiming,
    ) -> None:
        await self._set_mode("idle")
        self._approval = None
        self._keypad_approval = None
        self.call.run_id = approval["run_id"]
        timing.submitted = time.monotonic()
        try:
            run = await asyncio.to_thread(
                self.store.decide_approval,
                self.call.tenant_id,
                self.call.user_id,
                approval["run_id"],
                approval["approval_id"],
                approve,
                None,
                "voice",
                evidence,
                method.value,
            )
        except Conflict:
            # Decided meanwhile (web view, another call): the store's answer stands.
            await self._say(ALREADY_DECIDED, epoch, timing)
            run = await asyncio.to_thread(self._run)
            if run["status"] in SETTLED - {S.WAITING_FOR_HUMAN}:
                return
        settled = await self._wait(int(run["last_event_seq"]), epoch, timing)
        if settled is not None:
            await self._outcome(settled, epoch, timing)

    def _model(self, approval: dict[str, Any]) -> AnswerClassifier | None:
        """The model's classification task for this call, when the process has one."""
        build = self.services.classifier_agent
        if build is None:
            return None
        c = self.call
        return agent_classifier(build(), c.tenant_id, c.user_id, approval["run_id"])

    async def _after_unasked_approval(self, text: str, epoch: int, timing: TurnTiming) -> None:
        """The caller spoke on before the run's yes/no question was said. A new request sets
        the question aside for the phone and web view; anything else (the request's tail:
        "please", "thanks") is followed by the question."""
        waiting, self._unasked = self._unasked, None
        assert waiting is not None
        self.call.run_id = waiting["run_id"]
        run = await asyncio.to_thread(self._run)
        if (
            not _waits_on_approval(run)
            or run["pending_approval_id"] != waiting["pending_approval_id"]
        ):
            await self._submit(text, epoch, timing)
            return
        if reads_new_request(text):
            await asyncio.to_thread(
                self._handoff, "approval_set_aside", str(run["pending_approval_id"])
            )
            await self._submit(text, epoch, timing)
            return
        await self._start_approval(run, epoch, timing)

    async def _set_aside_approval(self) -> None:
        """Leave the open approval pending and hand it to the phone and web view."""
        await self._set_mode("idle")
        await asyncio.to_thread(self._handoff, "approval_set_aside")
        self._approval = None
        self._keypad_approval = None

    async def _approval_unclear(self, epoch: int, timing: TurnTiming, lead: str = "") -> None:
        """Ask once more (after ``lead``, an answer to the caller's question), or leave it."""
        approval = self._approval
        assert approval is not None
        self._approval_asks += 1
        if self._approval_asks < MAX_APPROVAL_ASKS:
            if lead:
                question = f"{lead} {approval_question(approval)}"
            else:
                question = reask_question(approval, keypad=self._keypad_approval is not None)
            await self._ask(question, epoch, timing)
            return
        await self._set_mode("idle")
        await asyncio.to_thread(self._handoff, "approval_answer_unclear")
        self._approval = None
        await self._say(f"{lead} {LEFT_PENDING}".strip(), epoch, timing)

    def _handoff(self, reason: str, approval_id: str | None = None) -> None:
        """Ask the handoff surface to take over what the call could not finish (``approval_id``:
        the question left pending, when it is not the one being asked)."""
        run_id = self.call.run_id
        if not run_id:
            return
        data: dict[str, Any] = {
            "reason": reason,
            "channel": "voice",
            "call_channel": self.call.channel,
            "call_id": self.call.call_id,
        }
        if approval_id is None and self._approval is not None:
            approval_id = self._approval["approval_id"]
        if approval_id is not None:
            data["approval_id"] = approval_id
        record_run_event(
            self.services.engine,
            self.call.tenant_id,
            self.call.user_id,
            run_id,
            EventType.HANDOFF_REQUESTED,
            data,
            once_key=f"{self.call.call_id}:{reason}:{data.get('approval_id', '')}",
        )


def _waits_on_approval(run: dict[str, Any]) -> bool:
    """Whether ``run`` waits for a yes or no to an action."""
    return run["status"] == S.WAITING_FOR_HUMAN and bool(run["pending_approval_id"])


def _task_summary(goal: str, max_words: int = 12) -> str:
    """A goal short enough to say in one breath, without its final punctuation."""
    words = " ".join((goal or "").split()).rstrip(".!?").split()
    text = " ".join(words[:max_words])
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
