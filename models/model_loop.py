"""One event loop per process for every litellm call.

litellm keeps process-global, loop-bound state (its async logging worker, cached HTTP
clients). Baton's worker runs each slot on its own event loop in its own thread, so calls
from several loops would trample that state. Every provider call therefore runs on a single
background loop owned by this module; callers on any loop await it transparently.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()
_DONE = object()


def model_loop() -> asyncio.AbstractEventLoop:
    """The process's model-call loop, started on first use in a daemon thread."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="baton-model-loop", daemon=True)
            thread.start()
            _loop = loop
        return _loop


async def on_model_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the model loop (directly when already on it); cancellation of the
    caller cancels the call."""
    loop = model_loop()
    if asyncio.get_running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


async def iterate_on_model_loop(
    start: Awaitable[AsyncIterator[Any]], timeout_s: float
) -> AsyncIterator[Any]:
    """Items of an async iterator that must be created and consumed on the model loop.

    ``start`` is awaited there to obtain the iterator; each item (or the error) is handed
    over to the caller's loop. An item slower than ``timeout_s`` raises TimeoutError.
    """
    caller = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def hand_over(item: Any) -> None:
        caller.call_soon_threadsafe(queue.put_nowait, item)

    async def pump() -> None:
        try:
            iterator = (await asyncio.wait_for(start, timeout_s)).__aiter__()
            while True:
                try:
                    item = await asyncio.wait_for(iterator.__anext__(), timeout_s)
                except StopAsyncIteration:
                    break
                hand_over(item)
            hand_over(_DONE)
        except BaseException as exc:
            hand_over(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    loop = model_loop()
    future = asyncio.run_coroutine_threadsafe(pump(), loop)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        future.cancel()
