"""Turn-taking pieces without models: speculative readings of a paused answer, the
fixed-phrase cache, backchannels and when a pause ends a turn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import cast

import pytest
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_stop import BaseUserTurnStopStrategy
from pipecat.turns.user_turn_processor import UserTurnProcessor
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.asyncio.task_manager import TaskManager

from voice.backchannels import BargeInStart
from voice.frames import AnswerAwaitedFrame, SegmentTranscribedFrame, TurnTranscriptFrame
from voice.phrases import PhraseCache
from voice.speculation import Speculation
from voice.turn_complete import reads_complete, reads_look_up, reads_new_request
from voice.turns import SilenceTurnStop


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


def _started_turns(frames: Sequence[Frame], barge_in_secs: float = 0.8) -> int:
    """How many caller turns the turn-start strategy starts for ``frames``."""
    strategy = BargeInStart(vad_stop_secs=0.2, barge_in_secs=barge_in_secs)
    started: list[object] = []

    async def on_started(_strategy: object, *_args: object) -> None:
        started.append(True)

    strategy.add_event_handler("on_user_turn_started", on_started)

    async def feed() -> None:
        for frame in frames:
            await strategy.process_frame(frame)

    asyncio.run(feed())
    return len(started)


def _short_word_over_bot(text: str) -> list[Frame]:
    """The caller says a short word while the bot is still speaking; the bot then stops."""
    audio = InputAudioRawFrame(audio=b"\0\0" * 1600, sample_rate=16000, num_channels=1)
    return [
        BotStartedSpeakingFrame(),
        VADUserStartedSpeakingFrame(start_secs=0.2),
        audio,
        audio,
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        BotStoppedSpeakingFrame(),
        TranscriptionFrame(text=text, user_id="caller", timestamp="now"),
    ]


def test_a_murmur_over_the_bot_is_not_a_turn():
    assert _started_turns(_short_word_over_bot("Mhm.")) == 0


@pytest.mark.parametrize("said", ["Stop.", "Okay, stop!", "That's enough.", "Be quiet."])
def test_a_short_stop_over_the_bot_interrupts_it(said: str) -> None:
    assert _started_turns(_short_word_over_bot(said)) == 1


@pytest.mark.parametrize("said", ["Okay.", "Right.", "Yeah.", "I see.", "Thank you.", "Oh."])
def test_a_short_acknowledgement_over_the_bot_is_not_a_turn(said: str) -> None:
    assert _started_turns(_short_word_over_bot(said)) == 0


def test_a_short_yes_over_the_end_of_a_question_is_the_answer():
    frames = [AnswerAwaitedFrame(awaited=True), *_short_word_over_bot("Yes.")]
    assert _started_turns(frames) == 1


@pytest.mark.parametrize("tail", ["Please.", "Thank you.", "Um, thanks."])
def test_a_courtesy_over_the_question_lets_it_go_on(tail: str) -> None:
    # The tail of the request being confirmed, said as the question begins.
    frames = [AnswerAwaitedFrame(awaited=True), *_short_word_over_bot(tail)]
    assert _started_turns(frames) == 0


def test_a_yes_with_a_courtesy_over_the_question_is_the_answer() -> None:
    frames = [AnswerAwaitedFrame(awaited=True), *_short_word_over_bot("Yes, please.")]
    assert _started_turns(frames) == 1


def test_once_answered_a_murmur_is_a_backchannel_again():
    frames = [
        AnswerAwaitedFrame(awaited=True),
        AnswerAwaitedFrame(awaited=False),
        *_short_word_over_bot("Mhm."),
    ]
    assert _started_turns(frames) == 0


def test_long_speech_over_the_bot_is_a_barge_in():
    audio = InputAudioRawFrame(audio=b"\0\0" * 16000, sample_rate=16000, num_channels=1)
    frames = [BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame(start_secs=0.2), audio]
    assert _started_turns(frames) == 1


def _turn_ended(
    said: str,
    *,
    answer_awaited: bool = False,
    read_again: str = "",
    sounding: Callable[[float], bool] | None = None,
    full_wait: float = 60.0,
) -> bool:
    """Whether a pause after ``said`` ends the turn within two seconds, where the full
    silence wait is ``full_wait`` (a minute). ``read_again`` is the STT's reading of the whole
    turn; ``sounding`` tells whether the caller has made a sound since a moment."""

    strategy = SilenceTurnStop(
        user_speech_timeout=full_wait,
        complete=reads_complete,
        new_request=reads_new_request,
        complete_wait=0.05,
        sounding=sounding,
    )
    stopped: list[object] = []

    async def on_stopped(_strategy: object, *_args: object) -> None:
        stopped.append(True)

    strategy.add_event_handler("on_user_turn_stopped", on_stopped)

    async def feed() -> None:
        tasks = TaskManager(loop=asyncio.get_running_loop())
        # A stop strategy uses only the clock and the task manager of its setup.
        no_worker = cast(PipelineWorker, None)
        await strategy.setup(
            FrameProcessorSetup(clock=SystemClock(), task_manager=tasks, pipeline_worker=no_worker)
        )
        frames: list[Frame] = [
            AnswerAwaitedFrame(awaited=answer_awaited),
            VADUserStartedSpeakingFrame(start_secs=0.2),
            VADUserStoppedSpeakingFrame(stop_secs=0.2),
            TranscriptionFrame(text=said, user_id="caller", timestamp="now", finalized=True),
            *([TurnTranscriptFrame(text=read_again, replaces=2)] if read_again else []),
            SegmentTranscribedFrame(),
        ]
        for frame in frames:
            await strategy.process_frame(frame)
        for _ in range(100):
            if stopped:
                break
            await asyncio.sleep(0.02)
        await strategy.cleanup()

    asyncio.run(feed())
    return bool(stopped)


@pytest.mark.parametrize(
    "said",
    [
        "What do I have on Wednesday?",
        "Cancel the 4 p.m. meeting on Monday.",
        "Take a note to buy milk.",
        "Remember that I like aisle seats.",
    ],
)
def test_a_pause_after_a_whole_request_ends_the_turn_at_once(said: str) -> None:
    assert _turn_ended(said)


def test_a_sound_after_a_whole_request_holds_the_turn_open() -> None:
    # The caller goes on after "Cancel my meeting tomorrow," before the VAD confirms speech.
    assert not _turn_ended("Cancel my meeting tomorrow.", sounding=lambda since: True)


def test_a_sound_that_passes_lets_a_whole_request_end() -> None:
    heard_until = time.monotonic() + 0.3

    def sounding(since: float) -> bool:
        return time.monotonic() < heard_until

    assert _turn_ended("Cancel my meeting tomorrow.", sounding=sounding)


def test_a_sound_that_never_stops_holds_no_longer_than_the_full_wait() -> None:
    # A noisy line: the end of the turn comes when the full silence wait would have.
    assert _turn_ended("Cancel my meeting tomorrow.", sounding=lambda since: True, full_wait=0.5)


@pytest.mark.parametrize(
    "said",
    [
        "What is the capital of France,",
        "Book a meeting with",
        "Email Bob saying.",
        "Could you.",
        "Um.",
    ],
)
def test_a_pause_after_an_unfinished_or_open_request_waits_for_more(said: str) -> None:
    assert not _turn_ended(said)


def test_a_yes_awaited_by_a_question_gets_the_full_wait() -> None:
    assert not _turn_ended("Yes, go ahead.", answer_awaited=True)
    assert not _turn_ended("Which meeting is that?", answer_awaited=True)


def test_a_new_task_instead_of_an_awaited_answer_ends_the_turn_at_once() -> None:
    assert _turn_ended("Take a note to buy milk.", answer_awaited=True)


def test_the_turn_read_again_as_one_clip_decides_whether_it_is_whole() -> None:
    # Segment by segment the words ran "Take a" + "note, by", which reads unfinished.
    assert not _turn_ended("Take a note, by")
    assert _turn_ended("note, by", read_again="Take a note to buy milk.")


@pytest.mark.parametrize(
    ("said", "new"),
    [
        ("Take a note to buy milk.", True),
        ("Book the budget review meeting with Bob.", True),
        # A question that names its own day or people asks about something else; one that
        # does not is about the pending action and answered from it.
        ("What do I have on Wednesday?", True),
        ("Do I have anything with Carol tomorrow?", True),
        ("What meeting?", False),
        ("When is it?", False),
        ("Yes, go ahead.", False),
        ("No, don't send it.", False),
        ("Which meeting is that?", False),
        ("Cancel it.", False),
        ("Let me think about it.", False),
        ("What is the capital of France?", False),
    ],
)
def test_only_a_whole_task_counts_as_a_new_request_over_a_yes_no_question(
    said: str, new: bool
) -> None:
    assert reads_new_request(said) is new


@pytest.mark.parametrize(
    ("said", "look_up"),
    [
        ("What do I have on Friday?", True),
        ("Am I free tomorrow afternoon?", True),
        # A task with a side effect, even when the recogniser heard it as a question.
        ("Book the budget review meeting with Bob?", False),
    ],
)
def test_only_a_look_up_is_answered_before_the_waiting_question(said: str, look_up: bool) -> None:
    assert reads_new_request(said)
    assert reads_look_up(said) is look_up


# Ten times the turn-end waits below: a loaded machine still ends each turn within it.
PAUSE_SECS = 4.0


def _segment(words: str) -> list[Frame]:
    """One stretch of speech as the STT passes it on: VAD start and stop, then its words."""
    audio = InputAudioRawFrame(audio=b"\0\0" * 1600, sample_rate=16000, num_channels=1)
    return [
        VADUserStartedSpeakingFrame(start_secs=0.15),
        audio,
        audio,
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        TranscriptionFrame(text=words, user_id="caller", timestamp="now", finalized=True),
        SegmentTranscribedFrame(),
    ]


async def test_turns_after_an_answer_over_the_question_end_on_their_pause() -> None:
    # A short answer over the question starts its turn only once transcribed, after the VAD
    # heard it end; that turn and the next must still end on their pauses.
    # A stop timeout far beyond the test: every turn that ends here ended on its pause.
    turns = UserTurnProcessor(
        user_turn_strategies=UserTurnStrategies(
            start=[BargeInStart(vad_stop_secs=0.2)],
            stop=[
                SilenceTurnStop(
                    user_speech_timeout=0.3,
                    complete=reads_complete,
                    new_request=reads_new_request,
                    complete_wait=0.1,
                )
            ],
        ),
        user_turn_stop_timeout=600,
    )
    ended: list[BaseUserTurnStopStrategy | None] = []

    @turns.event_handler("on_user_turn_stopped")
    async def on_stopped(_processor: object, strategy: BaseUserTurnStopStrategy | None) -> None:
        ended.append(strategy)

    await run_test(
        Pipeline([turns]),
        frames_to_send=[
            AnswerAwaitedFrame(awaited=True),
            BotStartedSpeakingFrame(),
            *_segment("Yes."),
            SleepFrame(sleep=PAUSE_SECS),
            BotStoppedSpeakingFrame(),
            AnswerAwaitedFrame(awaited=False),
            *_segment("What do I have on Friday?"),
            SleepFrame(sleep=PAUSE_SECS),
        ],
    )
    assert len(ended) == 2 and all(isinstance(s, SilenceTurnStop) for s in ended), ended
