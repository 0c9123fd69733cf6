"""The worker: slots that claim runs and execute their steps until there is nothing to do.

Each slot is a thread with its own event loop (database calls block, model and tool calls are
async). A slot keeps its lease while it works on a run and renews it in the background; it
gives the run back after the run stops being runnable or after ``max_steps_per_claim`` steps so
one long run cannot starve the others.

An idle slot does not poll: it sleeps until the run-change notifier (:mod:`core.runs.notify`)
announces new or resumable work, or until a lease on a runnable run expires (a crashed
worker's run), whichever comes first; ``poll_s`` only bounds that sleep. A run announced to
the process (a caller's new turn) is claimed by id at once, before older work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from core.agent.invocation_ledger import ApprovalReused, IdempotencyConflict
from core.agent.step import Observer, StepRunner
from core.auth.keys import user_scopes
from core.ids import utcnow
from core.runs.log import LeaseLost, RunWriter
from core.runs.notify import Subscription, run_changes
from core.runs.states import IllegalTransition
from core.tools.gate import ToolGate
from core.worker.leases import (
    Lease,
    claim,
    next_retry_at,
    next_takeover_at,
    release,
    renew,
    runnable_exists,
)
from models.contract import Agent

log = logging.getLogger(__name__)


class Worker:
    """Runs ``concurrency`` slots against one database."""

    def __init__(
        self,
        engine: Engine,
        agent_factory: Callable[[], Agent],
        gate: ToolGate,
        concurrency: int = 1,
        lease_ttl_s: float = 30.0,
        poll_s: float = 2.0,
        observer: Observer | None = None,
        max_steps_per_claim: int = 100,
        housekeeping: Sequence[Callable[[], object]] = (),
        housekeeping_every_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.agent_factory = agent_factory
        self.gate = gate
        self.concurrency = max(1, concurrency)
        self.lease_ttl_s = lease_ttl_s
        self.poll_s = poll_s
        self.observer = observer
        self.max_steps_per_claim = max_steps_per_claim
        self.housekeeping = list(housekeeping)
        self.housekeeping_every_s = housekeeping_every_s
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._subs: list[Subscription] = []
        self.steps_done = 0

    def start(self) -> None:
        """Start the slots in background threads (a broken agent set-up fails here, loudly)."""
        self.agent_factory()
        for i in range(self.concurrency):
            t = threading.Thread(
                target=self._slot, args=(i,), name=f"baton-worker-{i}", daemon=True
            )
            t.start()
            self._threads.append(t)
        if self.housekeeping:
            t = threading.Thread(target=self._housekeep, name="baton-housekeeping", daemon=True)
            t.start()
            self._threads.append(t)

    def _housekeep(self) -> None:
        # Background duties beside the steps (the memory write pipeline): busy slots never
        # starve them, and a failing duty is logged and tried again next round.
        while not self._stop.wait(self.housekeeping_every_s):
            for duty in self.housekeeping:
                try:
                    duty()
                except Exception:
                    log.exception("housekeeping duty failed")

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the slots to finish their current step and wait for them."""
        self._stop.set()
        for sub in list(self._subs):
            sub.fire(None)
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def run_forever(self) -> None:
        """Start and block until interrupted."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def _slot(self, index: int) -> None:
        asyncio.run(self._slot_loop(f"{self.name}/{index}"))

    async def _slot_loop(self, owner: str) -> None:
        agent = self.agent_factory()
        runner = StepRunner(
            self.engine,
            agent,
            self.gate,
            observer=self.observer,
            scopes_for=lambda tenant, user: user_scopes(self.engine, tenant, user),
        )
        with run_changes().subscribe(work=True, engine=self.engine) as work:
            self._subs.append(work)
            try:
                while not self._stop.is_set():
                    try:
                        lease = await asyncio.to_thread(self._claim_next, owner, work)
                    except Exception:
                        log.exception("claiming a run failed")
                        lease = None
                    if lease is None:
                        await work.changed(await asyncio.to_thread(self._idle_wait))
                        continue
                    await self.work_on(runner, lease)
            finally:
                self._subs.remove(work)

    def _claim_next(self, owner: str, work: Subscription) -> Lease | None:
        # Runs announced to this process first (newest first: a caller is waiting on it),
        # then the oldest runnable run.
        while work.hints:
            lease = claim(self.engine, owner, self.lease_ttl_s, run_id=work.hints.pop())
            if lease is not None:
                return lease
        # Most wake-ups find nothing to do (another slot got there first, or the database
        # changed elsewhere): look before taking the write lock a claim needs on SQLite.
        if not runnable_exists(self.engine):
            return None
        return claim(self.engine, owner, self.lease_ttl_s)

    def _idle_wait(self) -> float:
        """How long an idle slot sleeps unless woken: until a lease may be taken over or a
        deferred tool call may be retried."""
        due = [at for at in (next_takeover_at(self.engine), next_retry_at(self.engine)) if at]
        if not due:
            return self.poll_s
        return min(self.poll_s, max(0.0, (min(due) - utcnow()).total_seconds()) + 0.01)

    async def work_on(self, runner: StepRunner, lease: Lease) -> None:
        """Execute steps of one leased run while it stays runnable, renewing the lease."""
        renewer = asyncio.create_task(self._renew(lease))
        try:
            for _ in range(self.max_steps_per_claim):
                if self._stop.is_set():
                    break
                more = await runner.run_step(lease)
                self.steps_done += 1
                if not more:
                    break
        except (LeaseLost, IllegalTransition):
            # Cancelled or taken over while we worked: the store already says what happened.
            log.info("run %s: stopped working (lease lost or run changed)", lease.run_id)
        except (IdempotencyConflict, ApprovalReused) as exc:
            _fail(self.engine, lease, str(exc))
        except Exception as exc:
            log.exception("run %s: step crashed", lease.run_id)
            _fail(self.engine, lease, f"internal error in a step: {exc.__class__.__name__}")
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await asyncio.to_thread(release, self.engine, lease)

    async def _renew(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl_s / 3)
            if not await asyncio.to_thread(renew, self.engine, lease, self.lease_ttl_s):
                return


def _fail(engine: Engine, lease: Lease, reason: str) -> None:
    with contextlib.suppress(LeaseLost, IllegalTransition), engine.begin() as conn:
        w = RunWriter.open(conn, lease.run_id, lease.token)
        w.emit("RunFailed", {"reason": reason})
        w.flush()
