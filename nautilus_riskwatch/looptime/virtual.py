"""Simulated time for the watch: an asyncio loop whose time is the backtest's clock.

Why: during ``BacktestEngine.run()`` no event loop runs at all, yet the watch is written
with ``asyncio.timeout`` deadlines. Rather than keep two implementations of every
deadline, we give the watch a private loop whose ``time()`` is whatever the engine's
simulated clock says, and step it from the engine's callbacks. The same core then runs
here and on a live node's real loop.

How it works:

* ``VirtualTimeLoop.time()`` returns a number we set, never the wall clock: seconds since
  the watch started, as a float (``LoopOrigin`` converts, and says why relative seconds).
* ``SimulatedTime.step()`` moves the loop's time to the engine's current time and runs it
  until nothing is ready and no timer is due; a timer that fell due on the way runs at
  its own time, never at the later one. If nothing is ready and no timer is due it
  returns at once: that is the cost of a quote nobody is waiting for.
* The engine only calls us when it has data for us, so a deadline that falls between two
  data points would be noticed late. To prevent that, an engine time alert is kept at
  the loop's earliest timer; the engine fires it at that exact simulated nanosecond. It is
  re-armed lazily: only when the earliest deadline moves earlier, or when it fires.
* A timer is due when its deadline is less than half a nanosecond after now, i.e. when it
  rounds to a nanosecond not after the engine's; so it fires neither early nor late.
* While stepping, the private loop is installed as the thread's running loop and the
  previous one (a notebook's, an ``async def main``'s) is put back afterwards.
* Stepping never nests. A task on the loop sends a command, the engine answers in the
  same call (a backtest venue does), and that answer reaches an engine callback of the
  watch which asks to step again, while the task is still running. A nested step would run
  other tasks inside it (asyncio refuses: ``Cannot enter into task``, and the refused
  wake-up is lost) and empty the ready queue under the outer step (``IndexError``). So a
  step asked for while one runs only queues: what the callback handed over is already in
  the loop's ready queue or timers, and the running step goes on until nothing is ready
  or due, which includes it. A ``close`` asked for meanwhile happens when the step ends.
* The loop is the standard library's, chosen explicitly: importing nautilus_trader
  installs uvloop's policy, and a uvloop loop cannot be stepped this way.

Prior art: trio's ``MockClock`` and ``looptime`` give asyncio tests fake time; here the
time is not fake but borrowed from the backtest engine.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
from collections.abc import Callable
from typing import Any, Protocol

from nautilus_riskwatch.looptime.origin import NS_PER_SECOND, LoopOrigin

#: Half a nanosecond, in seconds: the tolerance that makes float deadlines land on whole ns.
_HALF_NS = 0.5e-9
_ALERT_NAME = "riskwatch-deadline"
_RUNS = itertools.count(1)  # numbers each run's alert name (see SimulatedTime)


class EngineClock(Protocol):
    """The part of a NautilusTrader ``TestClock`` the simulated time needs."""

    def timestamp_ns(self) -> int: ...

    def set_time_alert_ns(
        self, name: str, alert_time_ns: int, callback: Callable[[Any], None]
    ) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


class _NoIOSelector(selectors.DefaultSelector):
    """Registers like a real selector but never polls: the virtual loop has no I/O."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A standard-library event loop whose time is a number, never the wall clock.

    Its time starts at 0.0 and moves two ways: set from outside (``SimulatedTime`` brings
    it to the engine's clock), and, whenever nothing is ready to run, straight to the
    earliest timer, so each timer runs at its own time. The second alone makes a test
    loop (``asyncio.Runner(loop_factory=VirtualTimeLoop)``): waiting 5 s of loop time
    takes microseconds, and a loaded machine cannot make a deadline fire early or late.
    ``selector`` is the standard one unless given (``SimulatedTime`` gives one that never
    polls: its loop has no I/O).
    """

    def __init__(self, selector: selectors.BaseSelector | None = None) -> None:
        super().__init__(selector=selector)
        self._now = 0.0
        self._clock_resolution = _HALF_NS

    def time(self) -> float:
        return self._now

    def earliest(self) -> float | None:
        """The earliest live timer's time (cancelled ones at the front dropped), or None."""
        scheduled = self._scheduled  # type: ignore[attr-defined]
        while scheduled and scheduled[0]._cancelled:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
        return scheduled[0]._when if scheduled else None

    def _run_once(self) -> None:
        if not self._ready:  # type: ignore[attr-defined]
            earliest = self.earliest()
            if earliest is not None and earliest > self._now:
                self._now = earliest
        super()._run_once()  # type: ignore[misc]


class SimulatedTime:
    """Drives a ``VirtualTimeLoop`` from a backtest engine's clock (a ``LoopTime``).

    Parameters
    ----------
    clock : EngineClock
        The owning actor's clock (a ``TestClock`` in a backtest).
    alert_name : str
        Stem of the engine time alert's name kept at the earliest deadline. Each run and
        each alert add their own number, as an engine clock refuses a name it still holds:
        across a stop and resume two runs share one clock (the old one's close waits for
        its step to end), and nautilus_trader 1.231 still holds an alert's name while its
        callback runs, where the next alert is set.
    latched : Callable[[], bool], optional
        True once the watch has tripped. Catching up on late deadlines stops there: the
        trip keeps its exact time, but the cascade runs in the engine's time, so that the
        engine can answer its commands before the cascade's own deadlines are judged.
    """

    def __init__(
        self,
        clock: EngineClock,
        alert_name: str = _ALERT_NAME,
        latched: Callable[[], bool] = lambda: False,
    ) -> None:
        self._clock = clock
        self._timestamp_ns = clock.timestamp_ns  # read on every message
        self._alert_stem = f"{alert_name}-{next(_RUNS)}"
        self._alerts = itertools.count(1)
        self._alert_name = ""  # the armed alert's name, while ``_armed_ns`` is set
        self._latched = latched
        self.origin = LoopOrigin(clock.timestamp_ns())
        self._origin_ns = self.origin.ns
        self._synced_ns = self.origin.ns  # the engine time the loop was last brought to
        #: The loop's time after the last ``sync`` (a plain attribute: read per message).
        self.now = 0.0
        self._armed_ns: int | None = None
        self._stepping = False  # a step is running: another one only queues (see above)
        self._close_after_step = False
        self.loop = VirtualTimeLoop(_NoIOSelector())

    def now_ns(self) -> int:
        """The watch's time in engine nanoseconds: a deadline's own time while it fires."""
        return self.origin.to_ns(self.loop._now)

    def sync(self) -> None:
        """Bring the loop's time up to the engine's. Call before handing a message over.

        A deadline that fell before the engine's time but has not fired yet runs first, at
        its own time: engines do not always deliver an alert before the next data point
        (nautilus_trader 1.221 delays an alert set from inside another alert's callback),
        and a deadline must not be judged by a message that came after it. Time never goes
        backwards: a late alert that sets the engine's clock back changes nothing here.
        """
        ns = self._timestamp_ns()
        if ns <= self._synced_ns:
            return  # the same instant as the last message (or earlier): nothing moves
        self._synced_ns = ns
        loop = self.loop
        target = (ns - self._origin_ns) / NS_PER_SECOND  # LoopOrigin.to_loop, inlined
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        if scheduled and scheduled[0]._when < target + _HALF_NS and not self._latched():
            self._run(until=target, catching_up=True)
        loop._now = self.now = target

    def step(self) -> None:
        """Run the loop at the engine's current time until it has nothing ready or due."""
        self.sync()
        self.settle()

    def settle(self) -> None:
        """Run what is ready or due at the loop's time, after ``sync`` and the hand-over."""
        loop = self.loop
        if loop._ready:  # type: ignore[attr-defined]
            self._run(until=loop._now)
            return
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        if scheduled and scheduled[0]._when < loop._now + _HALF_NS:  # due now
            self._run(until=loop._now)

    def on_loop(self) -> bool:
        """The caller runs inside a step of the loop (one of the watch's callbacks)."""
        return asyncio._get_running_loop() is self.loop

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop now (it may need a running loop), then step."""
        self.loop.call_soon(callback)
        self.step()

    def close(self) -> None:
        """Cancel the engine alert and close the loop, cancelling what still runs on it.

        Asked for from inside a step (an engine callback the loop's own task caused), the
        close waits for that step to end: the loop cannot be closed under a running task.
        """
        if self._stepping:
            self._close_after_step = True
            return
        self._disarm()
        loop = self.loop
        if loop.is_closed():
            return
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self._run(until=loop._now)
        self._disarm()
        loop.close()

    def _run(self, until: float, catching_up: bool = False) -> None:
        """Run ready callbacks, and timers due up to ``until`` each at its own time.

        Never nested: asked for while a step runs, it returns at once and the running step
        runs what was queued (see the module's docstring).
        """
        if self._stepping:
            return
        loop = self.loop
        outer = asyncio._get_running_loop()
        asyncio._set_running_loop(loop)
        self._stepping = True
        try:
            while True:
                if catching_up and self._latched():
                    break  # the rest runs at the engine's time (see ``latched``)
                if not loop._ready:  # type: ignore[attr-defined]
                    earliest = loop.earliest()
                    if earliest is None or earliest >= until + _HALF_NS:
                        break
                loop._run_once()  # moves the loop's time to that timer's
        finally:
            self._stepping = False
            asyncio._set_running_loop(outer)
        if self._close_after_step:
            self._close_after_step = False
            self.close()
            return
        self._rearm()

    def _rearm(self) -> None:
        earliest = self.loop.earliest()
        if earliest is None:
            return
        due_ns = self.origin.to_ns(earliest)
        if self._armed_ns is not None and self._armed_ns <= due_ns:
            return  # the armed alert comes first; it will re-arm when it fires
        self._disarm()
        self._alert_name = f"{self._alert_stem}.{next(self._alerts)}"
        self._clock.set_time_alert_ns(self._alert_name, due_ns, self._on_alert)
        self._armed_ns = due_ns

    def _disarm(self) -> None:
        if self._armed_ns is not None:
            self._armed_ns = None
            try:
                self._clock.cancel_timer(self._alert_name)
            except Exception:  # already fired and gone: nothing to cancel
                pass

    def _on_alert(self, _event: object) -> None:
        self._armed_ns = None
        if self.loop.is_closed():
            return  # a run stopped since the alert was set: nothing of it is left to run
        self.step()
        if self._armed_ns is None:  # step had nothing to run, so it did not re-arm
            self._rearm()
