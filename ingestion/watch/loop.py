"""The watch loop (the imperative shell around :func:`ingestion.watch.schedule.schedule`).

Each *pass*: read the store's calendar and events, schedule, ask what is due with fetch's own client,
limits and store (:func:`ingestion.fetch.fetch_requests`; after new year lists, schedule again at once so a
first start asks every ended meeting), replay (fetch's sibling :func:`ingestion.replay.run_replay`, same
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
import errno
import fcntl
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import psycopg

from ingestion.config import Settings
from ingestion.db import database_url
from ingestion.db.connection import advisory_lock_holder, translate_connect_error
from ingestion.errors import IngestionError
from ingestion.fetch import FetchOptions, RetryPolicy, fetch_requests, load_seasons
from ingestion.fetch.plan import session_end
from ingestion.masking import mask_url
from ingestion.replay import run_replay
from ingestion.store import Event, Store
from ingestion.watch.schedule import Schedule, WatchOptions, schedule

__all__ = [
    "STATE_FILE",
    "WATCH_LOCK_KEY",
    "StopFlag",
    "WatchConfig",
    "WatchLocked",
    "WatchState",
    "install_signals",
    "read_state",
    "render_schedule",
    "run_watch",
    "store_schedule",
]

#: The state file a watcher writes in the store after every pass (read by ``ingest healthcheck``).
STATE_FILE = "watch.json"
#: The file lock that keeps one watcher per store.
LOCK_FILE = "watch.lock"
#: The session advisory lock that keeps one watcher per database (``PFWATCH`` in ASCII).
WATCH_LOCK_KEY = 0x0050_4657_4154_4348
#: A failed pass waits this long before the next one, doubling up to the longest sleep.
FIRST_BACKOFF = timedelta(minutes=1)

Log = Callable[[dict[str, Any]], None]
Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


class WatchLocked(IngestionError):
    """Another watcher holds the store or the database (exit 1)."""


class WatchConfig(msgspec.Struct, frozen=True, kw_only=True):
    options: WatchOptions = msgspec.field(default_factory=WatchOptions)
    once: bool = False
    retry: RetryPolicy = msgspec.field(default_factory=RetryPolicy)


class WatchState(msgspec.Struct, kw_only=True):
    """What ``watch.json`` holds: when the last pass ended and the last one that succeeded."""

    pid: int
    host: str
    started: datetime
    last_pass: datetime | None = None
    last_success: datetime | None = None
    expected_within_s: float = 7200.0  # a pass at least this often (2 x the longest sleep)
    failures: int = 0  # consecutive failed passes
    last_error: str | None = None
    next_wake: datetime | None = None


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


# --- the state file and the locks -----------------------------------------------------------------------


def read_state(store_dir: Path) -> WatchState | None:
    """The state the last watcher wrote in ``store_dir``, or None (no watcher ran, or unreadable)."""
    try:
        return msgspec.json.decode((store_dir / STATE_FILE).read_bytes(), type=WatchState)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def _write_state(store_dir: Path, state: WatchState) -> None:
    path = store_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.encode(state) + b"\n")
    os.replace(tmp, path)


def _holder() -> str:
    return f"ingest watch pid {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def _store_lock(store_dir: Path, since: datetime) -> Iterator[None]:
    store_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(store_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another process"
            raise WatchLocked(
                f"another watcher already watches the store {store_dir}: {holder}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_holder()} since {since:%Y-%m-%dT%H:%M:%SZ}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class _DatabaseLock:
    """A session advisory lock held on its own connection for the watcher's life (taken when reachable)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def take(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT 1")  # still our session (a restarted server drops the lock)
                return
            except psycopg.Error:
                self.release()
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=5, application_name=_holder()[:63]
            )
        except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:
            raise translate_connect_error(exc, self.url) from None
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (WATCH_LOCK_KEY,)).fetchone()
        if row is not None and row[0]:
            self.conn = conn
            return
        holder = advisory_lock_holder(conn, WATCH_LOCK_KEY)
        conn.close()
        who = "another session"
        if holder is not None:
            since = f"{holder.since:%Y-%m-%dT%H:%M:%S%z}" if holder.since is not None else "?"
            who = f"{holder.application or 'a session'} from {holder.client or 'local'} since {since}"
        raise WatchLocked(f"another watcher already watches the database {mask_url(self.url)}: {who}")

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


# --- the schedule as the store holds it -----------------------------------------------------------------


def store_schedule(
    store: Store, options: WatchOptions, now: datetime, blocked_until: datetime | None = None
) -> tuple[Schedule, dict[str, Event]]:
    """The schedule of the store at ``now`` (the calendar of this year and the previous one)."""
    latest = store.latest()
    years = [y for y in (now.year - 1, now.year)]
    seasons = load_seasons(store, latest, years)
    return schedule(seasons, latest, options, now, blocked_until=blocked_until), latest


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ago(later: datetime, earlier: datetime) -> str:
    seconds = int((later - earlier).total_seconds())
    if abs(seconds) < 3600:
        return f"{seconds // 60} min"
    if abs(seconds) < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def render_schedule(plan: Schedule, *, limit: int = 15) -> list[str]:
    """The schedule as lines of text for ``ingest watch --dry-run`` (pure)."""
    years = ", ".join(str(y) for y in plan.years) or "none"
    lines = [f"watch schedule at {_iso(plan.now)} (seasons {years})"]
    if plan.closed is not None:
        lines.append(
            f"closed until {_iso(plan.closed.end)}: {plan.closed.session} is live "
            "(OpenF1 refuses anonymous requests; set OPENF1_USERNAME/OPENF1_PASSWORD to ask anyway)"
        )
    if plan.due:
        lines.append(f"due now: {len(plan.due)} request(s)")
        lines.extend(f"  {d.key:<36} {d.why}" for d in plan.due)
        if any(d.planned.phase == 1 and d.planned.reason == "missing" for d in plan.due):
            lines.append("  (the meetings of a season are scheduled once its year lists are stored)")
    else:
        lines.append("due now: nothing")
    if plan.upcoming:
        lines.append(f"next: {len(plan.upcoming)} request(s) have a step to come; the first {limit}:")
        lines.extend(
            f"  {_iso(s.at)} (in {_ago(s.at, plan.now):>7})  {s.key:<36} {s.why}"
            for s in plan.upcoming[:limit]
        )
    lines.append(f"next wake-up: {_iso(plan.next_wake)} (in {_ago(plan.next_wake, plan.now)})")
    return lines


# --- the loop -----------------------------------------------------------------------------------------------


def _last_ended_session(store: Store, latest: Mapping[str, Event], now: datetime) -> datetime | None:
    ends = [
        end
        for season in load_seasons(store, latest, [now.year - 1, now.year])
        for s in season.sessions
        if (end := session_end(s)) is not None and end <= now
    ]
    return max(ends) if ends else None


class _Watcher:
    def __init__(
        self,
        settings: Settings,
        config: WatchConfig,
        url: str,
        clock: Clock,
        sleep: Sleep,
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
        previous = read_state(settings.snapshot_dir)
        if previous is not None:  # a --once from cron: the last success and the failures carry over
            self.state.last_success = previous.last_success
            self.state.failures = previous.failures
            self.state.last_error = previous.last_error
        self.db_lock = _DatabaseLock(url)

    def emit(self, event: str, **fields: Any) -> None:
        self.log({"at": _iso(self.clock()), "event": event, **fields})

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
            )
        latest = self.store.latest()
        changed = sorted(
            d.key for d in plan.due if (e := latest.get(d.key)) is not None and before.get(d.key) != e.address
        )
        self.emit(
            "fetched",
            requests=summary.requests,
            http_requests=summary.http_requests,
            new=summary.new_snapshots,
            unchanged=summary.unchanged,
            empty=summary.empty,
            failed=len(summary.failed),
            changed=changed,
            why={d.key: d.why for d in plan.due},
        )
        for failure in summary.failed:
            self.emit(
                "error", stage="fetch", request=failure.key, status=failure.status, reason=failure.reason
            )
        blocked = summary.blocked
        if blocked is not None:
            now = self.clock()
            self.blocked_until = blocked.retry_at or now + self.options.live_margin
            if self.blocked_until <= now:
                self.blocked_until = now + self.options.live_margin
            self.emit("blocked", url=blocked.url, session=blocked.session, until=_iso(self.blocked_until))
        return bool(changed), len(summary.failed), blocked is not None

    def one_pass(self) -> int:
        """One pass; its exit code: 0 ok, 1 something failed, 3 stopped by a live-session block."""
        now = self.clock()
        self.emit("wake")
        if self.blocked_until is not None and now >= self.blocked_until:
            self.blocked_until = None
        changed = False
        failed = 0
        blocked = False
        plan, _ = store_schedule(self.store, self.options, now, self.blocked_until)
        for _round in range(3):  # lists first; new lists can make meetings due at once
            if not plan.due:
                break
            self.db_lock.take()  # nothing is fetched unless this watcher is the database's one
            lists = any(d.planned.phase == 1 for d in plan.due)
            round_changed, failed, blocked = self.fetch_round(plan)
            changed = changed or round_changed
            if failed or blocked or not lists:
                break
            plan, _ = store_schedule(self.store, self.options, self.clock(), self.blocked_until)
        now = self.clock()
        ended = _last_ended_session(self.store, self.store.latest(), now)
        if changed or self.last_replay is None or (ended is not None and ended > self.last_replay):
            self.db_lock.take()
            self.emit("replaying", as_of=_iso(now), changed=changed)
            with self.stop.working():
                replayed = run_replay(self.url, self.store, now, results=self.options.results)
            self.last_replay = now
            self.emit(
                "replayed",
                as_of=_iso(now),
                snapshots=replayed.snapshots,
                written=replayed.written,
                tables={
                    name: {"inserted": c.inserted, "updated": c.updated, "removed": c.removed}
                    for name, c in replayed.tables.items()
                    if c.inserted or c.updated or c.removed
                },
            )
        if failed:
            return 1
        return 3 if blocked else 0

    def record(self, ok: bool, error: str | None, wake: datetime | None) -> None:
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
            _write_state(self.settings.snapshot_dir, self.state)
        except OSError as exc:
            self.emit("error", stage="state", reason=str(exc))

    def next_wake(self, ok: bool) -> datetime:
        now = self.clock()
        if not ok:  # failures counts the passes that failed before this one
            backoff = FIRST_BACKOFF * (1 << min(self.state.failures, 10))
            return now + min(backoff, self.options.max_sleep)
        plan, _ = store_schedule(self.store, self.options, now, self.blocked_until)
        return plan.next_wake

    def run(self) -> int:
        mode = "once" if self.config.once else "loop"
        self.emit(
            "start",
            mode=mode,
            store=str(self.settings.snapshot_dir),
            results=self.options.results,
            tier="paid" if self.options.paid else "free",
        )
        code = 0
        while not self.stop.is_set():
            error: str | None = None
            try:
                code = self.one_pass()
            except WatchLocked:
                raise
            except KeyboardInterrupt:
                self.emit(
                    "stopped", signal=self.stop.signal or "SIGINT", during="pass",
                    note="the request or replay in progress was abandoned; store and database are consistent",
                )
                return 0
            except IngestionError as exc:  # OpenF1, the store, the database: logged, retried later
                error = str(exc)
                code = 1
                self.emit("error", stage="pass", kind=type(exc).__name__, reason=error)
            except OSError as exc:
                error = f"{type(exc).__name__}: {exc}"
                code = 1
                self.emit("error", stage="pass", kind=type(exc).__name__, reason=error)
            ok = error is None and code != 1
            if not ok and error is None:
                error = "some requests failed"
            wake = None if self.config.once else self.next_wake(ok)
            self.record(ok, error, wake)
            if self.config.once:
                self.emit("done", exit_code=code)
                return code
            assert wake is not None
            seconds = max(0.0, (wake - self.clock()).total_seconds())
            self.emit("sleep", until=_iso(wake), seconds=round(seconds, 1), failures=self.state.failures)
            self.sleep(seconds)
        self.emit("stopped", signal=self.stop.signal or "stop", during="sleep")
        return 0


def run_watch(
    settings: Settings,
    config: WatchConfig,
    *,
    log: Log,
    database: str | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    stop: StopFlag | None = None,
) -> int:
    """Watch until ``stop`` is set (or one pass with ``config.once``); the exit code.

    Takes the watcher's locks first (one watcher per store, one per database): :class:`WatchLocked` when
    another watcher holds one. ``clock``/``sleep`` default to the real ones (the sleep wakes when ``stop``
    is set).
    """
    stop = stop or StopFlag()
    clock = clock or (lambda: datetime.now(UTC))
    sleep = sleep or stop.sleep
    url = database or database_url(settings)
    watcher = _Watcher(settings, config, url, clock, sleep, log, stop)
    with _store_lock(settings.snapshot_dir, clock()):
        try:
            try:
                watcher.db_lock.take()
            except WatchLocked:
                raise
            except IngestionError as exc:  # the database is down: the passes will retry
                watcher.emit("error", stage="start", kind=type(exc).__name__, reason=str(exc))
            return watcher.run()
        finally:
            watcher.db_lock.release()
