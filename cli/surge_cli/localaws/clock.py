"""A discrete-event simulated clock shared by threads (test support, never shipped to Lambda).

The model (see /work/shared/LOCAL_AWS.md, "The discrete-event clock, checked"):

* Every live *flow* (an execution, a Parallel branch, a Map worker) holds one **busy token** while it
  computes. The thread that starts a flow takes the token for it *before* the flow's thread exists; the
  flow's thread returns it in a ``finally`` at its very end. Threads that work for a flow (a Task's
  thread, the in-process Lambda) run under that flow's token.
* A flow that waits for simulated time (Wait, Retry back-off) calls :meth:`SimClock.sleep`: it gives
  its token up and registers a wake-up instant. The driver takes the token back *for* the sleeper
  before waking it, so a woken flow is never invisible to the quiescence check.
* A flow that waits for its children (Parallel, Map) calls :meth:`SimClock.park`: it gives its token
  up while it waits on an event its children set before they return their own tokens.
* Children started together (Parallel branches, a Map's workers) first call :meth:`SimClock.take_turn`: each
  waits to be released like a sleeper due now, so they begin one at a time in key order, never side by side in
  thread-scheduling order (which worker takes which Map item, and which latency draw each gets, would follow it).
* **Quiescent** = no busy token and no parked event already set (a set event means its parent is about
  to take its token back).
* The driver (one thread: the test, or the replay loop) only moves simulated time when quiescent, to
  the earliest pending item; at one instant it runs due timers first (in registration order, each to
  quiescence), then releases due sleepers one at a time, ordered by ``(instant, rank, seq)``. The rank
  comes from the flow key (a tuple of ints derived from execution start order and branch/worker
  index), so the order does not depend on thread scheduling; with ``interleave_seed`` set, flows due
  at the same instant are released in a seeded pseudo-random order instead of start order (a seeded
  interleaving: different seeds explore different orders, the same seed always the same one).

Time is kept as integer microseconds since the epoch (exact; no float drift). The clock knows nothing
about moto: ``on_advance`` is called with the delta each time simulated time moves (the harness
shifts time-machine there).
"""

from __future__ import annotations

import heapq
import itertools
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FlowKey", "HarnessStalledError", "SimClock", "Timer", "dump_threads"]

FlowKey = tuple[int, ...]
"""Deterministic identity of a flow: ``(execution_seq, child_index, grandchild_index, ...)``."""

_INF = sys.maxsize


class HarnessStalledError(RuntimeError):
    """Quiescence did not come within the real-time stall timeout (a flow is blocked on something
    that is not simulated time, or a handler is slow). The message holds a dump of every thread."""


def dump_threads() -> str:
    """Return the stack of every live thread, for stall diagnostics."""
    frames = sys._current_frames()
    parts: list[str] = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        parts.append(f"--- thread {thread.name!r} (ident={thread.ident}, daemon={thread.daemon}) ---")
        if frame is not None:
            parts.append("".join(traceback.format_stack(frame)))
    return "\n".join(parts)


@dataclass(eq=False)
class _Sleeper:
    wake_us: int
    owner: object | None
    event: threading.Event = field(default_factory=threading.Event)
    released: bool = False


@dataclass(eq=False)
class Timer:
    """A callback due at a simulated instant (run on the driver thread). ``cancel()`` is idempotent."""

    when_us: int
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class SimClock:
    """Discrete-event clock; see the module docstring for the protocol."""

    def __init__(
        self,
        start_us: int,
        *,
        on_advance: Callable[[int], None] | None = None,
        stall_timeout: float = 30.0,
        interleave_seed: int | None = None,
    ) -> None:
        self._interleave_seed = interleave_seed
        self._ranks: dict[FlowKey, float] = {}
        self._cond = threading.Condition(threading.RLock())
        self._now_us = start_us
        self._on_advance = on_advance
        self.stall_timeout = stall_timeout
        self._busy = 0
        self._parked: dict[int, threading.Event] = {}
        self._sleepers: list[tuple[int, tuple[float, FlowKey], int, _Sleeper]] = []
        self._by_owner: dict[int, set[_Sleeper]] = {}
        self._timers: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()
        self._shutdown = False

    # ------------------------------------------------------------------ reading
    @property
    def lock(self) -> threading.RLock:
        """The clock's re-entrant lock (held by the harness around moto state changes that wake sleepers)."""
        return self._cond._lock  # type: ignore[attr-defined,no-any-return]

    def now_us(self) -> int:
        with self._cond:
            return self._now_us

    @property
    def busy(self) -> int:
        with self._cond:
            return self._busy

    def _rank(self, key: FlowKey) -> tuple[float, FlowKey]:
        # caller holds the lock
        if self._interleave_seed is None:
            return (0.0, key)
        rank = self._ranks.get(key)
        if rank is None:
            rank = self._ranks[key] = random.Random(f"{self._interleave_seed}:{key}").random()
        return (rank, key)

    def _quiescent(self) -> bool:
        return self._busy == 0 and not any(e.is_set() for e in self._parked.values())

    def describe(self) -> str:
        with self._cond:
            live = sum(1 for *_, s in self._sleepers if not s.released)
            return (
                f"now_us={self._now_us} busy={self._busy} parked={len(self._parked)} "
                f"(set: {sum(e.is_set() for e in self._parked.values())}) sleepers={live} "
                f"timers={sum(1 for *_, t in self._timers if not t.cancelled)} shutdown={self._shutdown}"
            )

    # ------------------------------------------------------------------ flow side (any thread)
    def acquire(self) -> None:
        """Take a busy token (call in the *starting* thread, before the flow's thread exists)."""
        with self._cond:
            self._busy += 1

    def release(self) -> None:
        """Return a busy token (call in a ``finally`` at the very end of the flow's thread)."""
        with self._cond:
            self._busy -= 1
            if self._busy < 0:  # pragma: no cover - protocol bug
                self._busy = 0
                raise RuntimeError("SimClock: busy token released twice")
            self._cond.notify_all()

    def sleep(
        self,
        seconds: float,
        *,
        owner: object | None = None,
        is_live: Callable[[], bool] | None = None,
        key: FlowKey = (),
    ) -> None:
        """Block the calling flow for ``seconds`` of simulated time (the caller holds a token).

        Returns immediately if ``seconds <= 0``, the clock is shut down, or ``is_live()`` is false.
        :meth:`interrupt` with the same ``owner`` wakes it early.
        """
        delta_us = round(seconds * 1_000_000)
        with self._cond:
            if delta_us <= 0 or self._shutdown or (is_live is not None and not is_live()):
                return
            sleeper = self._add_sleeper(self._now_us + delta_us, owner, key)
        sleeper.event.wait()  # the waker has taken our token back for us

    def take_turn(self, *, key: FlowKey = ()) -> None:
        """Wait, at the current instant, for the driver to release this flow (the caller holds a token): flows
        started together then begin one at a time, ordered as sleepers due now are (``(instant, rank, seq)``),
        instead of side by side in thread-scheduling order. Returns at once if the clock is shut down."""
        with self._cond:
            if self._shutdown:
                return
            sleeper = self._add_sleeper(self._now_us, None, key)
        sleeper.event.wait()  # the driver has taken our token back for us

    def _add_sleeper(self, wake_us: int, owner: object | None, key: FlowKey) -> _Sleeper:
        # caller holds the lock and a token, which it gives up here: the waker takes it back for the sleeper
        sleeper = _Sleeper(wake_us=wake_us, owner=owner)
        heapq.heappush(self._sleepers, (wake_us, self._rank(key), next(self._seq), sleeper))
        if owner is not None:
            self._by_owner.setdefault(id(owner), set()).add(sleeper)
        self._busy -= 1
        self._cond.notify_all()
        return sleeper

    def _wake(self, sleeper: _Sleeper) -> None:
        # caller holds the lock
        if sleeper.released:
            return
        sleeper.released = True
        if sleeper.owner is not None:
            owned = self._by_owner.get(id(sleeper.owner))
            if owned is not None:
                owned.discard(sleeper)
                if not owned:
                    del self._by_owner[id(sleeper.owner)]
        self._busy += 1
        sleeper.event.set()
        self._cond.notify_all()

    def interrupt(self, owner: object) -> None:
        """Wake every sleeper registered by ``owner`` now (its execution was stopped/failed/ended)."""
        with self._cond:
            for sleeper in list(self._by_owner.get(id(owner), ())):
                self._wake(sleeper)

    def park(self, event: threading.Event) -> None:
        """Wait for ``event`` (set by child flows before they return their tokens), without holding
        a busy token meanwhile. The caller holds a token before and after."""
        with self._cond:
            if event.is_set():
                return
            self._busy -= 1
            self._parked[id(event)] = event
            self._cond.notify_all()
        try:
            threading.Event.wait(event)  # not event.wait(): a subclass may route its own wait() here
        finally:
            with self._cond:
                self._parked.pop(id(event), None)
                self._busy += 1
                self._cond.notify_all()

    # ------------------------------------------------------------------ driver side (one thread)
    def call_at(self, when_us: int, callback: Callable[[], None]) -> Timer:
        """Schedule ``callback`` on the driver thread at simulated ``when_us`` (>= now)."""
        with self._cond:
            if when_us < self._now_us:
                raise ValueError(f"cannot schedule in the simulated past ({when_us} < {self._now_us})")
            timer = Timer(when_us=when_us, callback=callback)
            heapq.heappush(self._timers, (when_us, next(self._seq), timer))
            return timer

    def wait_quiescent(self) -> None:
        """Block until no flow is computing; raise :class:`HarnessStalledError` after ``stall_timeout``
        real seconds, with every thread's stack."""
        deadline = time.perf_counter() + self.stall_timeout
        with self._cond:
            while not self._quiescent():
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise HarnessStalledError(
                        f"no quiescence within {self.stall_timeout} s of real time "
                        f"({self.describe()}); thread stacks:\n{dump_threads()}"
                    )
                self._cond.wait(min(remaining, 0.05))

    def _advance_to(self, when_us: int) -> None:
        # caller holds the lock
        delta = when_us - self._now_us
        if delta > 0:
            self._now_us = when_us
            if self._on_advance is not None:
                self._on_advance(delta)

    def next_due_us(self) -> int | None:
        """Simulated instant of the earliest pending sleeper or timer, if any."""
        with self._cond:
            self._drop_stale()
            nxt = min(
                self._sleepers[0][0] if self._sleepers else _INF,
                self._timers[0][0] if self._timers else _INF,
            )
            return None if nxt == _INF else nxt

    def _drop_stale(self) -> None:
        while self._sleepers and self._sleepers[0][3].released:
            heapq.heappop(self._sleepers)
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)

    def step(self, limit_us: int) -> bool:
        """Wait for quiescence, then handle the single earliest item due at or before ``limit_us``
        (timers before sleepers at the same instant). Returns False if nothing is due by then."""
        self.wait_quiescent()
        with self._cond:
            self._drop_stale()
            t_sleep = self._sleepers[0][0] if self._sleepers else _INF
            t_timer = self._timers[0][0] if self._timers else _INF
            when = min(t_sleep, t_timer)
            if when > limit_us:
                return False
            self._advance_to(when)
            if t_timer <= t_sleep:
                timer = heapq.heappop(self._timers)[2]
            else:
                self._wake(heapq.heappop(self._sleepers)[3])
                return True
        timer.cancelled = True
        timer.callback()  # outside the lock: it may start executions
        return True

    def run_until(self, limit_us: int) -> None:
        """Handle everything due up to ``limit_us``, then set the clock to ``limit_us``."""
        while self.step(limit_us):
            pass
        with self._cond:
            self._advance_to(limit_us)
        self.wait_quiescent()

    def shutdown(self) -> None:
        """Release every sleeper, drop every timer; later sleeps return at once."""
        with self._cond:
            self._shutdown = True
            for *_, sleeper in self._sleepers:
                self._wake(sleeper)
            self._sleepers.clear()
            self._by_owner.clear()
            self._timers.clear()
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """After :meth:`shutdown`: wait (real time) until no busy token remains."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while self._busy > 0:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True
