"""The process's inference queue: a caller's turn is served before background work, at most
``capacity`` inferences run at once, and background work is refused when the queue is full."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.inference import InferenceQueue, Overloaded, Priority


def test_a_waiting_turn_goes_before_background_work_that_queued_earlier():
    queue = InferenceQueue(capacity=1)
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with queue.slot(Priority.BACKGROUND):
            holding.set()
            release.wait(10)

    def work(name: str, priority: Priority) -> None:
        with queue.slot(priority):
            order.append(name)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    background = threading.Thread(target=work, args=("memory", Priority.BACKGROUND))
    background.start()
    while queue.waiting < 1:
        threading.Event().wait(0.001)
    turn = threading.Thread(target=work, args=("turn", Priority.TURN))
    turn.start()
    while queue.waiting < 2:
        threading.Event().wait(0.001)
    release.set()
    for t in (holder, background, turn):
        t.join(10)
    assert order == ["turn", "memory"]


def test_background_work_is_refused_when_the_queue_is_full_but_a_turn_still_queues():
    queue = InferenceQueue(capacity=1, max_waiting=1)

    async def scenario() -> list[str]:
        done: list[str] = []
        async with queue.slot_async(Priority.TURN):
            waiter = asyncio.ensure_future(_use(queue, Priority.BACKGROUND, "first", done))
            while queue.waiting < 1:
                await asyncio.sleep(0.001)
            with pytest.raises(Overloaded):
                async with queue.slot_async(Priority.BACKGROUND):
                    pass
            turn = asyncio.ensure_future(_use(queue, Priority.TURN, "turn", done))
            while queue.waiting < 2:
                await asyncio.sleep(0.001)
        await asyncio.gather(waiter, turn)
        return done

    assert asyncio.run(scenario()) == ["turn", "first"]


def test_a_cancelled_waiter_gives_its_place_back():
    queue = InferenceQueue(capacity=1)

    async def scenario() -> list[str]:
        done: list[str] = []
        async with queue.slot_async(Priority.TURN):
            gone = asyncio.ensure_future(_use(queue, Priority.TURN, "gone", done))
            while queue.waiting < 1:
                await asyncio.sleep(0.001)
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)
        await _use(queue, Priority.TURN, "next", done)
        return done

    assert asyncio.run(scenario()) == ["next"]
    assert queue.waiting == 0


async def _use(queue: InferenceQueue, priority: Priority, name: str, done: list[str]) -> None:
    async with queue.slot_async(priority):
        done.append(name)
