"""A replay run (the shell): the store's snapshots as of a time, normalised, loaded into the database in one
transaction, timed stage by stage (:func:`run_replay`, what ``ingest replay`` does); and the rows a store says
without a database (:func:`replay`, what verify and diff compare with)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import psycopg

from ingestion.db import connect, require_schema
from ingestion.db.naming import resolve
from ingestion.errors import IngestionError, UsageError
from ingestion.instant import as_utc, format_utc
from ingestion.openf1.credibility import standing, units_with_rows
from ingestion.openf1.wire import ENDPOINTS, RESULT_ENDPOINTS
from ingestion.replay.decoded import CANNOT_BE_TRUE, Decoded, Snapshot, decode_snapshots
from ingestion.replay.delta import Known, RowsCache
from ingestion.replay.f1db import F1dbPart, combine, f1db_part
from ingestion.replay.findings import FINDING_KINDS
from ingestion.replay.inputs import InputsRecord, as_of_window, code_digest, inputs_key, openf1_instants
from ingestion.replay.load import DEFAULT_LOCK_WAIT, load, load_unchanged
from ingestion.replay.lock import LockWatch, ReplayBlocked, cancel_on_sigterm, watch_client
from ingestion.replay.matching import COMMITTED, Overrides, parse_overrides
from ingestion.replay.normalize import normalize_linked
from ingestion.replay.release import ReleaseInput, decode_input, release_part
from ingestion.replay.rows import Replayed, ReplayWarning
from ingestion.replay.summary import ReplayStep, ReplaySummary
from ingestion.store import Event, F1dbRelease, Store, event_order
from ingestion.store.coverage import Unit, units_of

__all__ = [
    "NoSnapshotStore", "NothingToReplay", "ReplayParts", "replay", "replay_with_parts", "require_store",
    "run_replay", "snapshots_of",
]


def snapshots_of(store: Store, as_of: datetime, *, results: bool) -> list[Snapshot]:
    """The snapshots replay reads as of ``as_of``: for each (endpoint, meeting or year) a request covers, the
    latest snapshot covering it (:meth:`Store.current <ingestion.store.Store.current>`; only the endpoints
    replay reads, :data:`ENDPOINTS`) and, where that one holds no rows for the unit, the earlier ones back to
    the latest with rows (an answer that cannot be true never replaces them:
    :func:`~ingestion.replay.decoded.choose`); with results, every earlier ``session_result`` answer too
    (each blob read once), which a result's provenance dates from
    (:func:`~ingestion.replay.decoded.result_since`). Bodies verified by the store against their address
    and their event: :class:`~ingestion.store.BlobMismatch` refuses a wrong one; a store whose log is
    damaged is refused whole (:class:`~ingestion.store.LogDamaged`)."""
    wanted = ENDPOINTS if results else tuple(e for e in ENDPOINTS if e not in RESULT_ENDPOINTS)
    store.require_intact()  # a damaged log line could hide or misdirect an answer: LogDamaged, nothing read
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
    if results:  # every earlier result answer too: what a result's provenance dates from (result_since)
        bodies = {snap.event.address: snap.body for snap in snaps.values()}
        for unit, events in history.items():
            for event in events if unit.endpoint == "session_result" else ():
                ident = (event.run, event.seq)
                if ident not in snaps:
                    if event.address not in bodies:
                        bodies[event.address] = store.read_event(event)
                    snaps[ident] = Snapshot(event, bodies[event.address])
    return sorted(snaps.values(), key=lambda snap: event_order(snap.event))


def replay(
    store: Store,
    as_of: datetime,
    *,
    results: bool,
    f1db: ReleaseInput | bool | None = True,
    overrides: Overrides | None = None,
) -> Replayed:
    """The racing rows the store's snapshots say, as of ``as_of`` (results only when ``results``): OpenF1's
    snapshots and the store's current f1db release (``f1db``: True, the store's; a
    :class:`ReleaseInput` to replay that one instead; None or False, none), matched with the identity
    ``overrides`` (None: the committed file, :func:`committed_overrides`)."""
    return replay_with_parts(store, as_of, results=results, f1db=f1db, overrides=overrides).merged


def replay_decoded(
    store: Store,
    decoded: Decoded,
    warnings: Sequence[ReplayWarning],
    f1db: ReleaseInput | bool | None,
    as_of: datetime,
    *,
    results: bool,
    overrides: Overrides | None = None,
) -> Replayed:
    """OpenF1's decoded rows normalized, and the f1db release merged in (docs/f1db.md): the store's current
    one (``f1db`` True; through its decode cache and merge memo, :mod:`~ingestion.replay.release`), the one
    given, or none; pairs the rules cannot match decided by ``overrides`` (None: the committed file)."""
    return replay_parts(store, decoded, warnings, f1db, as_of, results=results, overrides=overrides).merged


class ReplayParts(NamedTuple):
    """A replay and what it is made of: the merged rows, OpenF1's part alone, and f1db's part and release
    tag (None: no release)."""

    merged: Replayed
    openf1: Replayed
    f1db: F1dbPart | None
    tag: str | None
    #: index entries of rows already hashed (an earlier merge's results: :class:`~.release.Merged`)
    known: Known = {}  # noqa: RUF012 (a NamedTuple's default, never mutated: read by load only)

    @property
    def starts(self) -> tuple[datetime, ...]:
        """The session starts f1db's part was judged against
        (:attr:`~ingestion.replay.f1db.F1dbPart.starts`)."""
        return self.f1db.starts if self.f1db is not None else ()


def replay_parts(
    store: Store,
    decoded: Decoded,
    warnings: Sequence[ReplayWarning],
    f1db: ReleaseInput | bool | None,
    as_of: datetime,
    *,
    results: bool,
    overrides: Overrides | None = None,
    keep: Callable[[Callable[[], None]], object] | None = None,
) -> ReplayParts:
    """:func:`replay_decoded`, with its parts (which rows each source gave: ``ingest diff`` names them).
    ``keep``: what runs the merge memo's write (:func:`~ingestion.replay.release.release_part`)."""
    replayed, links = normalize_linked(decoded, warnings, as_of, results=results)
    decided = overrides if overrides is not None else committed_overrides()
    if f1db is True:
        release = store.f1db_release(as_of)
        if release is None:
            return ReplayParts(replayed, replayed, None, None)
        known: Known
        part, known = release_part(
            store, release, replayed.racing, links, as_of, results=results, overrides=decided, keep=keep
        )
        tag = release.tag
    elif isinstance(f1db, ReleaseInput):
        files = decode_input(f1db).files
        part = f1db_part(
            files, replayed.racing, links, as_of, results=results, release=f1db.tag, overrides=decided
        )
        known = {}
        tag = f1db.tag
    else:
        return ReplayParts(replayed, replayed, None, None)
    return ReplayParts(combine(replayed, part), replayed, part, tag, known)


@functools.cache
def committed_overrides() -> Overrides:
    """The committed override file (:data:`~ingestion.replay.matching.COMMITTED`), parsed once per process:
    the reader lives here, in the shell, so that :mod:`~ingestion.replay.matching` stays pure."""
    return parse_overrides(COMMITTED.read_bytes(), "ingestion/replay/identity_overrides.toml")


def replay_with_parts(
    store: Store,
    as_of: datetime,
    *,
    results: bool,
    f1db: ReleaseInput | bool | None = True,
    overrides: Overrides | None = None,
) -> ReplayParts:
    """:func:`replay`, with its parts (:class:`ReplayParts`)."""
    snapshots = snapshots_of(store, as_of, results=results)
    decoded, warnings = decode_snapshots(snapshots, results=results, as_of=as_of)
    return replay_parts(store, decoded, warnings, f1db, as_of, results=results, overrides=overrides)


def _inputs(
    store: Store,
    snapshots: Sequence[Snapshot],
    release: F1dbRelease | None,
    f1db: ReleaseInput | bool | None,
    as_of: datetime,
    *,
    results: bool,
    overrides: Overrides | None,
) -> str | None:
    """The key of a replay's inputs (:func:`~ingestion.replay.inputs.inputs_key`); None when they cannot be
    named (a release given as bytes, overrides other than the committed file, or the code unreadable): then
    no record is read or kept. The store's older f1db releases are inputs too: a result's provenance is
    dated against them (:func:`~ingestion.replay.release.unchanged_since`)."""
    code = code_digest()
    if code is None or isinstance(f1db, ReleaseInput) or overrides is not None:
        return None
    releases = store.releases("f1db", as_of=as_of) if release is not None else []
    return inputs_key(
        code, [s.event for s in snapshots], release if f1db is True else None, results=results,
        releases=releases,
    )


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
            f"{format_utc(as_of)}: fetch first (ingest fetch), check --store/--as-of, "
            "or pass --allow-empty"
        )


def require_store(store: Store, as_of: datetime, *, allow_empty: bool) -> None:
    """:class:`NoSnapshotStore` when ``store`` has no folder; :class:`NothingToReplay` when it has no
    snapshot nor f1db release at ``as_of`` (unless ``allow_empty``). ``ingest replay`` asks first, before it
    starts a database (a replay from the wrong folder says so at once)."""
    if not store.root.is_dir():
        raise NoSnapshotStore(str(store.root))
    if not allow_empty and not store.latest(as_utc(as_of)) and store.f1db_release(as_utc(as_of)) is None:
        raise NothingToReplay(str(store.root), as_utc(as_of))


def run_replay(
    url: str,
    store: Store,
    as_of: datetime,
    *,
    results: bool,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    allow_empty: bool = True,
    allow_removals: bool = False,
    progress: Callable[[ReplayStep], None] | None = None,
    schema: str = "auto",
    f1db: ReleaseInput | bool | None = True,
    overrides: Overrides | None = None,
) -> ReplaySummary:
    """Replay ``store`` as of ``as_of`` into the database at ``url``: the whole stage, timed. Another
    replay holding the lock is waited for up to ``lock_wait`` s (:class:`ReplayLocked` after); so is any
    other lock (an app transaction holding a row or a table): said after 1 s, the holder named, then
    :class:`ReplayBlocked` (nothing written). SIGTERM cancels the statement in the server.

    ``allow_empty=False`` (``ingest replay`` without ``--allow-empty``): raise :class:`NothingToReplay`
    instead of replaying a store with no snapshot at ``as_of``. ``progress`` is told each stage as it
    starts (read, decode, normalize, load) and once at the end. ``f1db``: as for :func:`replay`.
    ``schema``: the ``DATABASE_SCHEMA`` setting (:func:`ingestion.db.naming.resolve`). ``allow_removals``:
    let through removals beyond the breaker's limit in a settled season (else
    :class:`~.breaker.RemovalsRefused`, nothing written). ``overrides``: as for :func:`replay`.
    """
    step = progress or (lambda _step: None)
    as_of = as_utc(as_of)
    require_store(store, as_of, allow_empty=allow_empty)
    started = datetime.now(UTC)
    seconds: dict[str, float] = {}
    with cancel_on_sigterm(), connect(url) as conn, _collector_paused(), _kept_aside() as keep:
        watch_client(conn)
        naming = require_schema(conn, resolve(conn, schema))
        conn.rollback()
        t0 = time.perf_counter()
        step(ReplayStep(index=0, name="reading the store"))
        snapshots = snapshots_of(store, as_of, results=results)
        release = store.f1db_release(as_of) if f1db is True else None
        tag = release.tag if release is not None else f1db.tag if isinstance(f1db, ReleaseInput) else None
        key = _inputs(store, snapshots, release, f1db, as_of, results=results, overrides=overrides)
        t1 = time.perf_counter()
        seconds = {"read": t1 - t0, "decode": 0.0, "normalize": 0.0}
        if key is not None:  # the same inputs as the last load's, and the database as it left it
            fast: dict[str, object] = {"snapshots": len(snapshots), "f1db": tag, "seconds": _rounded(seconds)}
            with LockWatch(url, conn.info.backend_pid, lock_wait) as watch:
                try:
                    same = load_unchanged(
                        conn, key, results=results, as_of=as_of, started_at=started, extra=fast,
                        lock_wait=lock_wait, naming=naming,
                    )
                except psycopg.errors.QueryCanceled:
                    if watch.cancelled is None:
                        raise
                    raise ReplayBlocked(lock_wait, watch.cancelled) from None
            if same is not None:
                loaded, recorded = same
                seconds["load"] = time.perf_counter() - t1
                step(ReplayStep(index=4, name="loaded", count=len(loaded.tables), unit="table(s)"))
                return ReplaySummary(
                    as_of=as_of,
                    results=results,
                    snapshots=len(snapshots),
                    rows=dict(recorded.rows),
                    tables=loaded.tables,
                    warnings=dict(recorded.warnings),
                    seconds=_rounded(seconds),
                    run_id=loaded.run_id,
                    kept=list(recorded.kept),
                    findings=list(recorded.findings),
                    f1db=tag,
                )
            t1 = time.perf_counter()
        step(ReplayStep(index=1, name="decoding", count=len(snapshots), unit="snapshot(s)"))
        decoded, warnings = decode_snapshots(snapshots, results=results, as_of=as_of)
        t2 = time.perf_counter()
        step(ReplayStep(index=2, name="normalizing", count=len(snapshots), unit="snapshot(s) decoded"))
        parts = replay_parts(
            store, decoded, warnings, f1db, as_of, results=results, overrides=overrides, keep=keep
        )
        replayed, starts = parts.merged, parts.starts
        t3 = time.perf_counter()
        counts = replayed.racing.counts()
        tables = f"row(s), {len(counts)} tables"
        step(ReplayStep(index=3, name="loading", count=sum(counts.values()), unit=tables))
        seconds = {"read": seconds["read"], "decode": t2 - t1, "normalize": t3 - t2}
        kept = [w.message for w in replayed.warnings if w.kind == CANNOT_BE_TRUE]
        found = [f"{w.kind}: {w.message}" for w in replayed.warnings if w.kind in FINDING_KINDS]
        record = _record(key, snapshots, starts, as_of, replayed, tag, kept, found)
        extra: dict[str, object] = {
            "snapshots": len(snapshots),
            "f1db": tag,
            "warnings": replayed.warning_counts(),
            "seconds": _rounded(seconds),
        }
        with LockWatch(url, conn.info.backend_pid, lock_wait) as watch:
            try:
                loaded = load(
                    conn,
                    replayed,
                    results=results,
                    as_of=as_of,
                    started_at=started,
                    extra=extra,
                    lock_wait=lock_wait,
                    naming=naming,
                    allow_removals=allow_removals,
                    inputs=record,
                    rows_cache=RowsCache(store.root),
                    known=parts.known,
                )
            except psycopg.errors.QueryCanceled:
                if watch.cancelled is None:
                    raise
                raise ReplayBlocked(lock_wait, watch.cancelled) from None
        seconds["load"] = time.perf_counter() - t3
        step(ReplayStep(index=4, name="loaded", count=len(loaded.tables), unit="table(s)"))
    return ReplaySummary(
        as_of=as_of,
        results=results,
        snapshots=len(snapshots),
        rows=replayed.racing.counts(),
        tables=loaded.tables,
        warnings=replayed.warning_counts(),
        seconds=_rounded(seconds),
        run_id=loaded.run_id,
        kept=kept,
        allowed_removals=loaded.allowed_removals,
        findings=[*found, *(f"{w.kind}: {w.message}" for w in loaded.findings if w.kind in FINDING_KINDS)],
        f1db=tag,
    )


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in seconds.items()}


def _record(
    key: str | None,
    snapshots: Sequence[Snapshot],
    starts: Sequence[datetime],
    as_of: datetime,
    replayed: Replayed,
    tag: str | None,
    kept: list[str],
    findings: list[str],
) -> InputsRecord | None:
    """What a load records of this replay for the next one (:mod:`~ingestion.replay.inputs`): None without
    a key, or when an instant of the inputs is too close to ``as_of`` (no window)."""
    if key is None:
        return None
    instants = openf1_instants((s.event.endpoint, s.body) for s in snapshots)
    window = None if instants is None else as_of_window([*instants, *starts], as_of)
    if window is None:
        return None
    return InputsRecord(
        key=key,
        valid_from=window[0],
        valid_until=window[1],
        snapshots=len(snapshots),
        f1db=tag,
        rows=replayed.racing.counts(),
        loaded={},
        warnings=replayed.warning_counts(),
        kept=kept,
        findings=findings,
    )


@contextlib.contextmanager
def _kept_aside() -> Iterator[Callable[[Callable[[], None]], object]]:
    """A worker thread for the derived files a replay keeps for the next one (the merge memo: ~50 MB to
    encode and write), so that their writing overlaps the load, which mostly waits for PostgreSQL. Every
    job has ended when the block ends (its error, if any, raised then): nothing is left half-written when
    the command returns, and its process may end at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-keep") as worker:
        jobs: list[concurrent.futures.Future[None]] = []
        try:
            yield lambda job: jobs.append(worker.submit(job))
        finally:
            for job in jobs:
                job.result()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a replay runs: it builds and frees millions of small objects
    (rows, decoded files, the memo) and holds few cycles, and each collection walked all of them (up to a
    third of a whole-history replay's CPU). Reference counting frees them as before; the collector runs
    again after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
