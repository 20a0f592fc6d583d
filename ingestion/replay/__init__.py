"""Replay: from the snapshot store to the racing tables, deterministic and spoiler-safe.

``replay(store, as_of, results)`` reads the latest snapshot of every request as of ``as_of`` and normalises
it (pure: :func:`normalize`); :func:`load` makes the database hold exactly those rows; :func:`run_replay` is
both, timed and summarised (what ``ingest replay`` prints). See docs/replay.md for every rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec

from ingestion.db import connect, require_schema
from ingestion.errors import IngestionError, UsageError
from ingestion.instant import as_utc
from ingestion.openf1.credibility import standing, units_with_rows
from ingestion.openf1.wire import ENDPOINTS, RESULT_ENDPOINTS
from ingestion.replay.calendar import SESSION_TYPES
from ingestion.replay.decode import decode_endpoint, decode_rows
from ingestion.replay.decoded import CANNOT_BE_TRUE, Decoded, Snapshot, decode_snapshots
from ingestion.replay.f1db import combine, f1db_part
from ingestion.replay.identity import NAMESPACE, make_id, slugify
from ingestion.replay.load import (
    DEFAULT_LOCK_WAIT,
    LOCK_KEY,
    LoadSummary,
    ReplayLocked,
    TableCounts,
    load,
    racing_snapshot,
)
from ingestion.replay.normalize import normalize, normalize_linked
from ingestion.replay.release import ReleaseInput, decode_input, release_input, release_part
from ingestion.replay.rows import (
    TABLE_NAMES,
    TABLES,
    CircuitRow,
    DriverAliasRow,
    DriverRole,
    DriverRow,
    EntrantRow,
    Racing,
    Replayed,
    ReplayWarning,
    ResultRow,
    ResultStatus,
    RoundRow,
    SeasonRow,
    SeriesRow,
    SessionRow,
    SessionStatus,
    SessionType,
    TableSpec,
    TeamRow,
)
from ingestion.store import Event, Store, event_order
from ingestion.store.coverage import Unit, units_of

__all__ = [
    "COUNTS_HEADER",
    "DEFAULT_LOCK_WAIT",
    "ENDPOINTS",
    "LOCK_KEY",
    "NAMESPACE",
    "SESSION_TYPES",
    "TABLES",
    "TABLE_NAMES",
    "CircuitRow",
    "DriverAliasRow",
    "DriverRole",
    "DriverRow",
    "EntrantRow",
    "LoadSummary",
    "NoSnapshotStore",
    "NothingToReplay",
    "Racing",
    "ReleaseInput",
    "ReplayLocked",
    "ReplayStep",
    "ReplaySummary",
    "ReplayWarning",
    "Replayed",
    "ResultRow",
    "ResultStatus",
    "RoundRow",
    "SeasonRow",
    "SeriesRow",
    "SessionRow",
    "SessionStatus",
    "SessionType",
    "Snapshot",
    "TableCounts",
    "TableSpec",
    "TeamRow",
    "counts_columns",
    "decode_endpoint",
    "decode_rows",
    "load",
    "make_id",
    "normalize",
    "racing_snapshot",
    "release_input",
    "render_summary",
    "replay",
    "replayed_line",
    "require_store",
    "run_replay",
    "slugify",
    "snapshots_of",
]

def snapshots_of(store: Store, as_of: datetime, *, results: bool) -> list[Snapshot]:
    """The snapshots replay reads as of ``as_of``: for each (endpoint, meeting or year) a request covers, the
    latest snapshot covering it (:meth:`Store.current <ingestion.store.Store.current>`; only the endpoints
    replay reads, :data:`ENDPOINTS`) and, where that one holds no rows for the unit, the earlier ones back to
    the latest with rows (an answer that cannot be true never replaces them:
    :func:`~ingestion.replay.decoded.choose`). Bodies verified by the store against their address and their
    event: :class:`~ingestion.store.BlobMismatch` refuses a wrong one."""
    wanted = ENDPOINTS if results else tuple(e for e in ENDPOINTS if e not in RESULT_ENDPOINTS)
    snaps = {(e.run, e.seq): Snapshot(e, store.read_event(e)) for e in store.current(as_of, endpoints=wanted)}
    history: dict[Unit, list[Event]] = {}
    cutoff = as_utc(as_of)
    for event in store.events():
        if event.received_at > cutoff:
            break
        if event.endpoint in wanted:
            for unit in units_of(event.endpoint, event.query):
                history.setdefault(unit, []).append(event)

    present: dict[tuple[str, int], frozenset[Unit]] = {}

    def rows(event: Event) -> frozenset[Unit]:
        ident = (event.run, event.seq)
        if ident not in present:
            if ident not in snaps:
                snaps[ident] = Snapshot(event, store.read_event(event))
            present[ident] = units_with_rows(event, snaps[ident].body)
        return present[ident]

    for unit, events in history.items():
        standing(unit, reversed(events), rows)  # reads back to the latest answer with rows for the unit
    return sorted(snaps.values(), key=lambda snap: event_order(snap.event))


def replay(
    store: Store, as_of: datetime, *, results: bool, f1db: ReleaseInput | bool | None = True
) -> Replayed:
    """The racing rows the store's snapshots say, as of ``as_of`` (results only when ``results``): OpenF1's
    snapshots and the store's current f1db release (``f1db``: True, the store's; a
    :class:`ReleaseInput` to replay that one instead; None or False, none)."""
    snapshots = snapshots_of(store, as_of, results=results)
    decoded, warnings = decode_snapshots(snapshots, results=results, as_of=as_of)
    return replay_decoded(store, decoded, warnings, f1db, as_of, results=results)


def replayed_release(store: Store, as_of: datetime, f1db: ReleaseInput | bool | None) -> str | None:
    """The tag of the f1db release a replay reads (None: none)."""
    if f1db is True:
        release = store.f1db_release(as_of)
        return release.tag if release is not None else None
    return f1db.tag if isinstance(f1db, ReleaseInput) else None


def replay_decoded(
    store: Store,
    decoded: Decoded,
    warnings: Sequence[ReplayWarning],
    f1db: ReleaseInput | bool | None,
    as_of: datetime,
    *,
    results: bool,
) -> Replayed:
    """OpenF1's decoded rows normalized, and the f1db release merged in (docs/f1db.md): the store's current
    one (``f1db`` True; through its decode cache and merge memo, :mod:`~ingestion.replay.release`), the one
    given, or none."""
    replayed, links = normalize_linked(decoded, warnings, as_of, results=results)
    if f1db is True:
        release = store.f1db_release(as_of)
        if release is None:
            return replayed
        part = release_part(store, release, replayed.racing, links, as_of, results=results)
    elif isinstance(f1db, ReleaseInput):
        files = decode_input(f1db).files
        part = f1db_part(files, replayed.racing, links, as_of, results=results, release=f1db.tag)
    else:
        return replayed
    return combine(replayed, part)


class NoSnapshotStore(UsageError):
    """The snapshot store directory does not exist (a mistyped ``--store`` or ``SNAPSHOT_DIR``)."""

    def __init__(self, root: str) -> None:
        super().__init__(f"no snapshot store at {root}: check --store or SNAPSHOT_DIR")
        self.root = root


class NothingToReplay(IngestionError):
    """The store holds no snapshot (nor f1db release) received at or before ``as_of``: a replay would write
    nothing at all, which is almost always a wrong ``--store`` / ``SNAPSHOT_DIR`` / ``--as-of`` rather than
    the wish."""

    def __init__(self, root: str, as_of: datetime) -> None:
        super().__init__(
            f"nothing to replay: the store at {root} has no snapshot received at or before "
            f"{as_of:%Y-%m-%dT%H:%M:%SZ}: fetch first (ingest fetch), check --store/--as-of, "
            "or pass --allow-empty"
        )


class ReplayStep(msgspec.Struct, frozen=True, kw_only=True):
    """Where a replay is: ``index`` of ``stages`` stages done, the one now running (``name``) and what it
    has to work on (``count`` ``unit``), for a progress display."""

    index: int
    stages: int = 4
    name: str
    count: int | None = None
    unit: str = ""


class ReplaySummary(msgspec.Struct, frozen=True, kw_only=True):
    """What a replay did: per table counts, warnings by kind, seconds per stage."""

    as_of: datetime
    results: bool
    snapshots: int
    rows: dict[str, int]  # rows replay produced, per table
    tables: dict[str, TableCounts]  # what loading did with them
    warnings: dict[str, int]  # warnings by kind
    seconds: dict[str, float]  # read, decode, normalize, load
    run_id: int | None = None
    #: answers that cannot be true, each naming the answer and what its unit kept (no row was removed for
    #: them: the earlier answer's rows stay)
    kept: list[str] = msgspec.field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(c.written for c in self.tables.values())


def require_store(store: Store, as_of: datetime, *, allow_empty: bool) -> None:
    """:class:`NoSnapshotStore` when ``store`` has no folder; :class:`NothingToReplay` when it has no
    snapshot nor f1db release at ``as_of`` (unless ``allow_empty``). ``ingest replay`` asks first, before it
    starts a database (a replay from the wrong folder says so at once)."""
    if not store.root.is_dir():
        raise NoSnapshotStore(str(store.root))
    if not allow_empty and not store.latest(as_utc(as_of)) and store.f1db_release(as_utc(as_of)) is None:
        raise NothingToReplay(str(store.root), as_utc(as_of).astimezone(UTC))


def run_replay(
    url: str,
    store: Store,
    as_of: datetime,
    *,
    results: bool,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    allow_empty: bool = True,
    progress: Callable[[ReplayStep], None] | None = None,
    f1db: ReleaseInput | bool | None = True,
) -> ReplaySummary:
    """Replay ``store`` as of ``as_of`` into the database at ``url``: the whole stage, timed. Another
    replay holding the lock is waited for up to ``lock_wait`` s (:class:`ReplayLocked` after).

    ``allow_empty=False`` (``ingest replay`` without ``--allow-empty``): raise :class:`NothingToReplay`
    instead of replaying a store with no snapshot at ``as_of``. ``progress`` is told each stage as it
    starts (read, decode, normalize, load) and once at the end. ``f1db``: as for :func:`replay`.
    """
    step = progress or (lambda _step: None)
    as_of = as_utc(as_of)
    require_store(store, as_of, allow_empty=allow_empty)
    started = datetime.now(UTC)
    seconds: dict[str, float] = {}
    with connect(url) as conn:
        require_schema(conn)
        conn.rollback()
        t0 = time.perf_counter()
        step(ReplayStep(index=0, name="reading the store"))
        snapshots = snapshots_of(store, as_of, results=results)
        t1 = time.perf_counter()
        step(ReplayStep(index=1, name="decoding", count=len(snapshots), unit="snapshot(s)"))
        decoded, warnings = decode_snapshots(snapshots, results=results, as_of=as_of)
        t2 = time.perf_counter()
        step(ReplayStep(index=2, name="normalizing", count=len(snapshots), unit="snapshot(s) decoded"))
        replayed = replay_decoded(store, decoded, warnings, f1db, as_of, results=results)
        t3 = time.perf_counter()
        counts = replayed.racing.counts()
        tables = f"row(s), {len(counts)} tables"
        step(ReplayStep(index=3, name="loading", count=sum(counts.values()), unit=tables))
        seconds = {"read": t1 - t0, "decode": t2 - t1, "normalize": t3 - t2}
        extra: dict[str, object] = {
            "snapshots": len(snapshots),
            "f1db": replayed_release(store, as_of, f1db),
            "warnings": replayed.warning_counts(),
            "seconds": {k: round(v, 4) for k, v in seconds.items()},
        }
        loaded = load(
            conn, replayed, results=results, as_of=as_of, started_at=started, extra=extra, lock_wait=lock_wait
        )
        seconds["load"] = time.perf_counter() - t3
        step(ReplayStep(index=4, name="loaded", count=len(loaded.tables), unit="table(s)"))
    return ReplaySummary(
        as_of=as_of,
        results=results,
        snapshots=len(snapshots),
        rows=replayed.racing.counts(),
        tables=loaded.tables,
        warnings=replayed.warning_counts(),
        seconds={k: round(v, 4) for k, v in seconds.items()},
        run_id=loaded.run_id,
        kept=[w.message for w in replayed.warnings if w.kind == CANNOT_BE_TRUE],
    )


def replayed_line(summary: ReplaySummary) -> str:
    """``replayed 148 snapshot(s) as of 2024-12-08T12:00:00Z`` (`` (no results)`` without results): the first
    line of every replay summary (``ingest replay``, ``sync``, ``run``)."""
    suffix = "" if summary.results else " (no results)"
    return f"replayed {summary.snapshots} snapshot(s) as of {summary.as_of:%Y-%m-%dT%H:%M:%SZ}{suffix}"


#: The header of the count columns of a replay's table (``ingest replay``, ``sync``): :func:`counts_columns`.
COUNTS_HEADER = f"{'inserted':>10}{'updated':>9}{'unchanged':>11}{'removed':>9}"


def counts_columns(counts: TableCounts) -> str:
    """One table's inserted, updated, unchanged and removed rows, in the columns of :data:`COUNTS_HEADER`."""
    return f"{counts.inserted:>10}{counts.updated:>9}{counts.unchanged:>11}{counts.removed:>9}"


def render_summary(summary: ReplaySummary) -> list[str]:
    """The summary as the lines ``ingest replay`` prints: counts per table, warnings by kind, timings."""
    lines = [
        replayed_line(summary),
        f"  {'table':<16}{'rows':>7}{COUNTS_HEADER}",
    ]
    for name, counts in summary.tables.items():
        if name == "results" and not summary.results:
            lines.append(f"  {name:<16} kept (not touched: --no-results)")
            continue
        lines.append(f"  {name:<16}{summary.rows.get(name, 0):>7}{counts_columns(counts)}")
    if summary.warnings:
        lines.append("warnings:")
        lines.extend(f"  {kind:<28}{count:>6}" for kind, count in summary.warnings.items())
    else:
        lines.append("warnings: none")
    lines.extend(f"kept: {message}" for message in summary.kept)
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in summary.seconds.items())
    lines.append(f"time: {stages}; {summary.written} row(s) written")
    return lines
