"""Run-change notifications: wake whoever waits on a run (or on new work) when a change commits.

The in-transaction hook of :mod:`core.runs.log` stages the runs a transaction touched on its
connection; nothing is announced until that transaction has committed (a waiter that woke
earlier would read the old state and sleep again with nothing left to wake it):

* in this process, waiters (threads and asyncio tasks) wake as soon as the connection is
  returned or begins its next transaction after the COMMIT;
* other processes hear it through Postgres ``LISTEN/NOTIFY`` (``pg_notify`` runs inside the
  transaction, so Postgres itself delivers it at commit and drops it on rollback);
* on SQLite a watcher checks the database and WAL files' modification time and size (every
  commit writes one of them; a stat costs microseconds) and wakes every waiter when they
  move; it runs only while someone waits.

Waiters subscribe before they read the state they wait on, so no change is lost between
their read and their wait; a wake-up only says "look again", never what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.pool import Pool

from core.runs.log import register_tx_hook

log = logging.getLogger(__name__)

CHANNEL = "baton_runs"
WORK = "*work*"
"""The key of waiters for new or resumable work (workers)."""
ANY = "*any*"
"""Internal key: a change the process cannot attribute (another SQLite writer)."""

# Events after which a worker may find the run claimable (queued again, or answered).
WORK_EVENTS = frozenset(
    {
        "RunQueued",
        "UserMessageReceived",
        "ApprovalGranted",
        "ApprovalDenied",
        "RunResumed",
        "MemoryWriteProposed",
    }
)
SQLITE_WATCH_SECONDS = 0.02
LISTEN_TICK_SECONDS = 0.5
WATCH_READY_SECONDS = 10.0
_PENDING = "baton_notify_pending"
_COMMITTED = "baton_notify_committed"
_PROCESS = uuid.uuid4().hex[:16]
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


class Subscription:
    """A waiter's interest in some runs (or in work); wait on it with :meth:`wait`/:meth:`changed`.

    Use it as a context manager: it stops receiving wake-ups when the block ends.
    """

    def __init__(self, changes: RunChanges, keys: frozenset[str], engine: Engine | None) -> None:
        self._changes = changes
        self.keys = keys
        self._engine = engine
        self._flag = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()
        self.hints: deque[str] = deque(maxlen=64)
        """Run ids announced since the last look, newest last (workers claim these first)."""

    def fire(self, run_id: str | None) -> None:
        """Wake this subscriber (called by the notifier, from any thread)."""
        if run_id is not None:
            self.hints.append(run_id)
        self._flag.set()
        with self._lock:
            waiters = list(self._waiters)
        for loop, ev in waiters:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits there
                loop.call_soon_threadsafe(ev.set)

    def wait(self, timeout: float | None) -> bool:
        """Block this thread until a change is announced; False after ``timeout`` without one."""
        fired = self._flag.wait(timeout)
        self._flag.clear()
        return fired

    async def changed(self, timeout: float | None) -> bool:
        """Wait in asyncio until a change is announced; False after ``timeout`` without one."""
        if not self._flag.is_set():
            ev = asyncio.Event()
            entry = (asyncio.get_running_loop(), ev)
            with self._lock:
                self._waiters.append(entry)
            try:
                if not self._flag.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ev.wait(), timeout)
            finally:
                with self._lock:
                    self._waiters.remove(entry)
        fired = self._flag.is_set()
        self._flag.clear()
        return fired

    def close(self) -> None:
        """Stop receiving wake-ups."""
        self._changes._drop(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class _Watch:
    """A cross-process watcher of one database, shared by the subscriptions on it."""

    users: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once the watcher listens: subscribing waits for it, so no change slips by."""
    thread: threading.Thread | None = None


class RunChanges:
    """The process-wide notifier: subscriptions by run id (or :data:`WORK`) and their wake-ups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}
        self._watches: dict[str, _Watch] = {}

    def subscribe(
        self,
        run_ids: Iterable[str] = (),
        *,
        work: bool = False,
        engine: Engine | None = None,
    ) -> Subscription:
        """Wake-ups for changes to ``run_ids`` (and for new work with ``work``).

        With ``engine``, changes committed by other processes on that database wake it too.
        """
        keys = frozenset([*run_ids, *([WORK] if work else [])])
        sub = Subscription(self, keys, engine)
        with self._lock:
            for key in keys | {ANY}:
                self._subs.setdefault(key, set()).add(sub)
        if engine is not None:
            self._watch(engine).ready.wait(WATCH_READY_SECONDS)
        return sub

    def publish(self, changed: dict[str, bool]) -> None:
        """Wake the waiters of each changed run id (and work waiters where the value is True)."""
        woken: dict[Subscription, str | None] = {}
        with self._lock:
            for run_id, work in changed.items():
                if run_id == ANY:
                    for sub in self._subs.get(ANY, ()):
                        woken.setdefault(sub, None)
                    continue
                for sub in self._subs.get(run_id, ()):
                    woken[sub] = run_id
                if work:
                    for sub in self._subs.get(WORK, ()):
                        woken[sub] = run_id
        for sub, hint in woken.items():
            sub.fire(hint)

    def wake_all(self) -> None:
        """Wake every waiter (shutdown, or a change from a writer that cannot say which run)."""
        self.publish({ANY: True})

    def _drop(self, sub: Subscription) -> None:
        with self._lock:
            for key in sub.keys | {ANY}:
                subs = self._subs.get(key)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subs[key]
        if sub._engine is not None:
            self._unwatch(sub._engine)
            sub._engine = None

    # ----- other processes ---------------------------------------------------------------

    def _watch(self, engine: Engine) -> _Watch:
        key = _database_key(engine)
        if key is None:
            return _Watch(ready=_SET)
        with self._lock:
            watch = self._watches.get(key)
            if watch is None or not (watch.thread and watch.thread.is_alive()):
                watch = _Watch(users=watch.users if watch else 0)
                self._watches[key] = watch
                target = _listen_postgres if engine.dialect.name == "postgresql" else _watch_sqlite
                watch.thread = threading.Thread(
                    target=_guarded, args=(target, self, engine, watch), daemon=True,
                    name="baton-run-changes",
                )  # fmt: skip
                watch.thread.start()
            watch.users += 1
            return watch

    def _unwatch(self, engine: Engine) -> None:
        key = _database_key(engine)
        with self._lock:
            watch = self._watches.get(key) if key else None
            if watch is None:
                return
            watch.users -= 1
            if watch.users <= 0:
                watch.stop.set()
                del self._watches[key]  # type: ignore[arg-type]


def _database_key(engine: Engine) -> str | None:
    if engine.dialect.name == "postgresql":
        return engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return f"sqlite:{engine.url.database}"
    return None


def _guarded(target: Any, changes: RunChanges, engine: Engine, watch: _Watch) -> None:
    # A watcher that cannot reach its database retries: waiters keep their own timeouts, so
    # they are slower meanwhile but never stuck.
    while not watch.stop.is_set():
        try:
            target(changes, engine, watch)
        except Exception:
            log.warning("run-change watcher failed; retrying", exc_info=True)
            watch.stop.wait(1.0)


def _listening(changes: RunChanges, watch: _Watch) -> None:
    if watch.ready.is_set():
        # Listening again after a failure: what committed meanwhile was not heard.
        changes.wake_all()
    watch.ready.set()


def _listen_postgres(changes: RunChanges, engine: Engine, watch: _Watch) -> None:
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        _listening(changes, watch)
        while not watch.stop.is_set():
            changed: dict[str, bool] = {}
            for note in conn.notifies(timeout=LISTEN_TICK_SECONDS):
                origin, _, rest = note.payload.partition("|")
                if origin == _PROCESS:
                    continue  # this process announced it already, at its commit
                run_id, _, work = rest.partition("|")
                changed[run_id] = changed.get(run_id, False) or work == "1"
                if len(changed) >= 256:
                    break
            if changed:
                changes.publish(changed)


def _file_state(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def _watch_sqlite(changes: RunChanges, engine: Engine, watch: _Watch) -> None:
    # The files, not a connection: a connection of its own maps the WAL index (-shm), and a
    # process that maps it while another process resets it dies of SIGBUS. Every commit
    # writes the WAL (or, outside WAL mode, the database file), which moves its mtime or size.
    path = engine.url.database
    assert path is not None
    files = (path, f"{path}-wal")
    last = [_file_state(f) for f in files]
    _listening(changes, watch)
    while not watch.stop.wait(SQLITE_WATCH_SECONDS):
        now = [_file_state(f) for f in files]
        if now != last:
            last = now
            changes.wake_all()


_SET = threading.Event()
_SET.set()


# ----- feeding the notifier from transactions -------------------------------------------------

_changes = RunChanges()


def run_changes() -> RunChanges:
    """The notifier of this process."""
    return _changes


def _stage(conn: Connection, events: list[dict[str, Any]]) -> None:
    """In-transaction hook: remember which runs changed; tell Postgres listeners at commit."""
    if not events:
        return
    pending: dict[str, bool] = conn.info.setdefault(_PENDING, {})
    postgres = conn.dialect.name == "postgresql"
    for e in events:
        run_id = str(e["run_id"])
        work = e["type"] in WORK_EVENTS
        announced = pending.get(run_id)
        if announced is None or (work and not announced):
            pending[run_id] = work
            if postgres:
                payload = f"{_PROCESS}|{run_id}|{int(work)}"
                conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})


def _on_commit(conn: Connection) -> None:
    # Fires just before the COMMIT is sent: keep the runs aside until it has gone through.
    pending = conn.info.pop(_PENDING, None)
    if pending:
        committed: dict[str, bool] = conn.info.setdefault(_COMMITTED, {})
        for run_id, work in pending.items():
            committed[run_id] = committed.get(run_id, False) or work


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_PENDING, None)


def _announce(info: dict[str, Any]) -> None:
    committed = info.pop(_COMMITTED, None)
    if committed:
        _changes.publish(committed)


def _on_begin(conn: Connection) -> None:
    _announce(conn.info)


def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        _announce(record.info)


def _install() -> None:
    register_tx_hook(_stage)
    event.listen(Engine, "commit", _on_commit)
    event.listen(Engine, "rollback", _on_rollback)
    event.listen(Engine, "begin", _on_begin)
    event.listen(Pool, "checkin", _on_checkin)


_install()


@contextlib.contextmanager
def subscribed(
    engine: Engine, run_ids: Iterable[str] = (), *, work: bool = False
) -> Iterator[Subscription]:
    """``with subscribed(engine, [run_id]) as sub:`` read the state, then ``sub.wait(...)``."""
    sub = _changes.subscribe(run_ids, work=work, engine=engine)
    try:
        yield sub
    finally:
        sub.close()
