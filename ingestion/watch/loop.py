"""The watch loop (the imperative shell around :func:`ingestion.watch.schedule.schedule`).

Each *pass*: read the store's calendar and events, schedule, ask what is due with fetch's own client,
limits and store (:func:`ingestion.fetch.fetch_requests`; after new year lists, schedule again at once so a
first start asks every ended meeting), replay (fetch's sibling :func:`ingestion.replay.run.run_replay`, same
rules, ``results`` as everywhere) when the store changed or a session ended since the last replay, write
the state file the healthcheck reads, then sleep until the next wake-up. Errors (OpenF1 down, 5xx, the
database restarting) are logged and end the pass; the next one comes after a back-off. One JSON line per
action goes to ``log``.

Clocks. ``clock`` gives the current time (it decides what is due and stamps the answers) and ``sleep``
waits; both are injected, so tests run a whole race weekend without sleeping. ``stop`` is set by
SIGTERM/SIGINT (see :func:`install_signals`): a sleep ends at once, a fetch or a replay in progress is
abandoned (the store keeps only whole answers, the replay is one transaction) and the watcher exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import msgspec

from ingestion.config import Settings
from ingestion.db import database_url
from ingestion.errors import IngestionError
from ingestion.fetch import FetchOptions, ProgressCallback, RetryPolicy, fetch_requests
from ingestion.fetch.sources import SourceFailure, fetch_f1db_part
from ingestion.replay.run import run_replay
from ingestion.store import Store
from ingestion.watch.events import (
    Blocked,
    Done,
    Error,
    F1db,
    Fetched,
    Replayed,
    Replaying,
    Sleep,
    Start,
    Stopped,
    TableWrites,
    Wake,
    WatchEvent,
)
from ingestion.watch.locks import DatabaseLock, WatchLocked, store_lock
from ingestion.watch.plan import iso, last_ended_session, store_f1db_plan, store_schedule, wake_for
from ingestion.watch.schedule import Schedule, WatchOptions
from ingestion.watch.state import StateUnreadable, WatchState, read_state, write_state

__all__ = ["StopFlag", "WatchConfig", "install_signals", "restore_signals", "run_watch"]

#: A failed pass waits this long before the next one, doubling up to the longest sleep.
FIRST_BACKOFF = timedelta(minutes=1)

Log = Callable[[WatchEvent], None]
Clock = Callable[[], datetime]
Sleeper = Callable[[float], None]


#: How long GitHub's rate limit holds f1db's asks back when its answer names no reset.
F1DB_UNKNOWN_RESET = timedelta(hours=1)


class WatchConfig(msgspec.Struct, frozen=True, kw_only=True):
    options: WatchOptions = msgspec.field(default_factory=WatchOptions)
    once: bool = False
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)
    sources: tuple[str, ...] | None = None  # None: the SOURCES setting


class StopFlag:
    """Set by a signal: wakes a sleep at once; while ``busy`` (a fetch or a replay) it also interrupts."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.busy = False
        self.signal: str | None = None

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self, name: str = "stop") -> None:
        self.signal = name
        self.event.set()

    def sleep(self, seconds: float) -> None:
        self.event.wait(max(0.0, seconds))

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.busy = True
        try:
            yield
        finally:
            self.busy = False


def install_signals(stop: StopFlag) -> dict[int, Any]:
    """SIGTERM and SIGINT set ``stop`` (and interrupt a fetch or replay in progress); returns the old
    handlers, for :func:`restore_signals`."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set(signal.Signals(signum).name)
        if stop.busy:
            raise KeyboardInterrupt

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def restore_signals(previous: Mapping[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)


# --- the loop -----------------------------------------------------------------------------------------------


class _Watcher:
    def __init__(
        self,
        settings: Settings,
        config: WatchConfig,
        url: str,
        clock: Clock,
        sleep: Sleeper,
        log: Log,
        stop: StopFlag,
    ) -> None:
        self.settings = settings
        self.config = config
        self.options = config.options
        self.url = url
        self.clock = clock
        self.sleep = sleep
        self.log = log
        self.stop = stop
        self.store = Store(settings.snapshot_dir)
        self.blocked_until: datetime | None = None
        self.last_replay: datetime | None = None
        started = clock()
        self.state = WatchState(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=started,
            expected_within_s=2 * self.options.max_sleep.total_seconds(),
        )
        try:
            previous = read_state(settings.snapshot_dir)
        except StateUnreadable:  # overwritten by this watcher's first pass (or the pass fails on it)
            previous = None
        if previous is not None:  # a --once from cron: the last success and the failures carry over
            self.state.last_success = previous.last_success
            self.state.failures = previous.failures
            self.state.last_error = previous.last_error
            self.state.f1db_asked = previous.f1db_asked  # f1db's cadence across --once runs
            self.state.f1db_blocked_until = previous.f1db_blocked_until
        self.db_lock = DatabaseLock(url)
        self.progress: ProgressCallback | None = None
        self.sources = config.sources if config.sources is not None else settings.sources

    def now(self) -> str:
        """The current time, as events carry it."""
        return iso(self.clock())

    def emit(self, event: WatchEvent) -> None:
        self.log(event)

    def fetch_round(self, plan: Schedule) -> tuple[bool, int, bool]:
        """Ask what ``plan`` has due: (store changed, failed requests, stopped by a live 401)."""
        before = {d.key: e.address for d in plan.due if (e := self.store.latest().get(d.key))}
        with self.stop.working():
            summary = fetch_requests(
                self.settings,
                [d.planned for d in plan.due],
                now=plan.now,
                options=FetchOptions(results=self.options.results, retry=self.config.retry),
                wall=self.clock,
                progress=self.progress,
            )
        latest = self.store.latest()
        changed = sorted(
            d.key for d in plan.due if (e := latest.get(d.key)) is not None and before.get(d.key) != e.address
        )
        self.emit(Fetched(
            at=self.now(),
            requests=summary.requests,
            http_requests=summary.http_requests,
            new=summary.new_snapshots,
            unchanged=summary.unchanged,
            empty=summary.empty,
            failed=len(summary.failed),
            changed=changed,
            why={d.key: d.why for d in plan.due},
        ))
        for failure in summary.failed:
            self.emit(Error(
                at=self.now(), stage="fetch", request=failure.key, status=failure.status,
                reason=failure.reason,
            ))  # fmt: skip
        blocked = summary.blocked
        if blocked is not None:
            now = self.clock()
            self.blocked_until = blocked.retry_at or now + self.options.live_margin
            if self.blocked_until <= now:
                self.blocked_until = now + self.options.live_margin
            self.emit(Blocked(
                at=self.now(), url=blocked.url, session=blocked.session, until=iso(self.blocked_until)
            ))
        return bool(changed), len(summary.failed), blocked is not None

    def one_pass(self) -> int:
        """One pass; its exit code: 0 ok, 1 something failed, 3 stopped by a live-session block."""
        now = self.clock()
        self.emit(Wake(at=self.now()))
        if self.blocked_until is not None and now >= self.blocked_until:
            self.blocked_until = None
        changed = False
        failed = 0
        blocked = False
        plan, _ = store_schedule(self.store, self.options, now, self.blocked_until)
        for _round in range(3):  # lists first; new lists can make meetings due at once
            if not plan.due or "openf1" not in self.sources:
                break
            self.db_lock.take()  # nothing is fetched unless this watcher is the database's one
            lists = any(d.planned.phase == 1 for d in plan.due)
            round_changed, failed, blocked = self.fetch_round(plan)
            changed = changed or round_changed
            if failed or blocked or not lists:
                break
            plan, _ = store_schedule(self.store, self.options, self.clock(), self.blocked_until)
        f1db_failed = False
        if "f1db" in self.sources:
            f1db = store_f1db_plan(self.store, self.state, self.clock())
            if f1db.due is not None:  # a step of its cadence passed since the last ask
                self.db_lock.take()
                new, f1db_failed = self.f1db_round(f1db.due.why)
                changed = changed or new
        now = self.clock()
        ended = last_ended_session(self.store, self.store.latest(), now)
        if changed or self.last_replay is None or (ended is not None and ended > self.last_replay):
            self.db_lock.take()
            self.emit(Replaying(at=self.now(), as_of=iso(now), changed=changed))
            with self.stop.working():
                replayed = run_replay(
                    self.url,
                    self.store,
                    now,
                    results=self.options.results,
                    allow_removals=self.options.allow_removals,
                    schema=self.settings.database_schema,
                )
            self.last_replay = now
            self.emit(Replayed(
                at=self.now(),
                as_of=iso(now),
                snapshots=replayed.snapshots,
                written=replayed.written,
                tables={
                    name: TableWrites(inserted=c.inserted, updated=c.updated, removed=c.removed)
                    for name, c in replayed.tables.items()
                    if c.inserted or c.updated or c.removed
                },
                kept=replayed.kept or msgspec.UNSET,
                findings=replayed.findings or msgspec.UNSET,
                allowed_removals={str(y): t for y, t in replayed.allowed_removals.items()} or msgspec.UNSET,
            ))
        if failed or f1db_failed:
            return 1
        return 3 if blocked else 0

    def f1db_round(self, why: str) -> tuple[bool, bool]:
        """Ask f1db for its latest release (a step of its cadence is due, ``why``): (a release recorded,
        failed). Every answer is recorded as the last ask (``watch.json``); a rate limit holds the next ask
        back until its reset. A failure is an error event: OpenF1's part of the pass stands, the replay
        still runs."""
        with self.stop.working():
            part = fetch_f1db_part(self.settings, received_at=self.clock())
        if isinstance(part, SourceFailure):
            if part.rate_limited:
                now = self.clock()
                reset = part.retry_at if part.retry_at and part.retry_at > now else now + F1DB_UNKNOWN_RESET
                self.state.f1db_blocked_until = reset
            self.emit(Error(at=self.now(), stage="f1db", reason=part.message))
            return False, True
        self.state.f1db_asked = self.clock()
        self.state.f1db_blocked_until = None
        self.emit(F1db(
            at=self.now(), outcome=part.outcome, tag=part.tag, requests=part.requests,
            new_blobs=part.new_blobs, why=why,
        ))  # fmt: skip
        return part.outcome == "new", False

    def record(self, *, ok: bool, error: str | None, wake: datetime | None) -> bool:
        """Write the state file after a pass; False (and an ``error`` event) when it cannot be written:
        the healthcheck could not see this pass, so it does not count as a success."""
        now = self.clock()
        self.state.last_pass = now
        if ok:
            self.state.last_success = now
            self.state.failures = 0
        else:
            self.state.failures += 1
            self.state.last_error = error
        self.state.next_wake = wake
        try:
            write_state(self.settings.snapshot_dir, self.state)
        except OSError as exc:
            where = exc.filename or self.settings.snapshot_dir
            self.emit(Error(
                at=self.now(), stage="state", kind=type(exc).__name__,
                reason=f"cannot write the watcher's state ({where}): {exc.strerror or exc}",
            ))  # fmt: skip
            return False
        return True

    def next_wake(self, *, ok: bool) -> tuple[datetime, str]:
        """When to wake next, and what for (the ``waiting_for`` of the ``sleep`` event)."""
        now = self.clock()
        if not ok:  # failures counts the passes that failed before this one
            backoff = FIRST_BACKOFF * (1 << min(self.state.failures, 10))
            return now + min(backoff, self.options.max_sleep), "a retry after the failed pass"
        plan, _ = store_schedule(self.store, self.options, now, self.blocked_until)
        f1db = store_f1db_plan(self.store, self.state, now) if "f1db" in self.sources else None
        return wake_for(plan, f1db)

    def run(self) -> int:
        mode = "once" if self.config.once else "loop"
        self.emit(Start(
            at=self.now(),
            mode=mode,
            store=str(self.settings.snapshot_dir),
            results=self.options.results,
            tier="paid" if self.options.paid else "free",
        ))
        code = 0
        while not self.stop.is_set():
            error: str | None = None
            try:
                code = self.one_pass()
            except WatchLocked:
                raise
            except KeyboardInterrupt:
                self.emit(Stopped(
                    at=self.now(), signal=self.stop.signal or "SIGINT", during="pass",
                    note="the request or replay in progress was abandoned; store and database are consistent",
                ))
                return 0
            except IngestionError as exc:  # OpenF1, the store, the database: logged, retried later
                error = str(exc)
                code = 1
                self.emit(Error(at=self.now(), stage="pass", kind=type(exc).__name__, reason=error))
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
                code = 1
                self.emit(Error(at=self.now(), stage="pass", kind=type(exc).__name__, reason=error))
            ok = error is None and code != 1
            if not ok and error is None:
                error = "some requests failed"
            wake, reason = (None, "") if self.config.once else self.next_wake(ok=ok)
            if not self.record(ok=ok, error=error, wake=wake):
                code = code or 1
            if self.config.once:
                self.emit(Done(at=self.now(), exit_code=code))
                return code
            assert wake is not None
            seconds = max(0.0, (wake - self.clock()).total_seconds())
            self.emit(Sleep(
                at=self.now(), until=iso(wake), seconds=round(seconds, 1), failures=self.state.failures,
                waiting_for=reason,
            ))  # fmt: skip
            self.sleep(seconds)
        self.emit(Stopped(at=self.now(), signal=self.stop.signal or "stop", during="sleep"))
        return 0


def run_watch(
    settings: Settings,
    config: WatchConfig,
    *,
    log: Log,
    database: str | None = None,
    clock: Clock | None = None,
    sleep: Sleeper | None = None,
    stop: StopFlag | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Watch until ``stop`` is set (or one pass with ``config.once``); the exit code.

    Takes the watcher's locks first (one watcher per store, one per database): :class:`WatchLocked` when
    another watcher holds one. ``clock``/``sleep`` default to the real ones (the sleep wakes when ``stop``
    is set). ``progress`` gets the fetch's progress during a pass (the live line on a terminal).
    """
    stop = stop or StopFlag()
    clock = clock or (lambda: datetime.now(UTC))
    sleep = sleep or stop.sleep
    url = database or database_url(settings)
    watcher = _Watcher(settings, config, url, clock, sleep, log, stop)
    watcher.progress = progress
    with store_lock(settings.snapshot_dir, clock()):
        try:
            try:
                watcher.db_lock.take()
            except WatchLocked:
                raise
            except IngestionError as exc:  # the database is down: the passes will retry
                watcher.emit(Error(at=watcher.now(), stage="start", kind=type(exc).__name__, reason=str(exc)))
            return watcher.run()
        finally:
            watcher.db_lock.release()
