"""Loading replayed rows into PostgreSQL: one transaction, one advisory lock, write only what differs.

The steps, all inside one transaction holding the replay lock (:mod:`ingestion.replay.lock`: two replays
never interleave; a replay killed at any instant leaves the database untouched):

1. adoption (:mod:`ingestion.replay.adopt`, the rule verify applies too): a row whose natural key a stored
   row holds under ANOTHER id (a row the app or an older pipeline wrote) takes that id, and the children's
   foreign keys follow (a session keeps its id forever, so do rounds, drivers, teams...);
2. binary COPY of every table's rows into temp stage tables (:mod:`ingestion.replay.write`);
3. removals (:mod:`ingestion.replay.scope`, the scope declared on the table specs): results (only when
   ``results``) and entrants of the replayed rounds that the snapshots no longer contain, and stale openf1
   driver aliases. With ``results`` off, nothing in ``results`` is written, changed or deleted, so entrants
   that still have results are kept. Sessions, rounds, drivers, teams, circuits, seasons and series are
   never deleted; no row is deleted whose deletion would cascade into (or be refused by) a table outside
   the racing set, found from the foreign-key catalog (:mod:`ingestion.db.userdata`);
4. per table, in foreign-key order: a slug held by a row that replay does not produce is moved aside
   (``<slug>-<first 8 hex of its id>``); the staged rows identical to the stored ones are dropped
   (anti-join), the others written with ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE (cols) IS
   DISTINCT FROM (excluded cols) RETURNING (xmax = 0)`` to count inserts and updates; unchanged = staged -
   inserted - updated;
5. one row in ``ingestion.replay_runs`` (the only write when nothing changed).

On the app's database the pairs replay cannot match with certainty also go to its ``"PendingMatches"``
queue first (:mod:`.pending`: inserted once, never changed).

Before step 1, a load whose rows and database are proven the same as when the last load ended (that load
left exactly its rows) stops after step 5: every step would find nothing to do (:mod:`.unchanged`).
A load into empty racing tables (a fresh database: nothing to adopt, remove, move aside or compare) COPYs
each table's rows straight into it instead of steps 1-4 (:func:`~.write.copy_fresh`): the same rows and
counts, every row inserted.

Every table and column is named through the database's :class:`~ingestion.db.naming.Naming` (our
snake_case schema, or the app's EF Core one, where OpenF1's circuit key goes to ``ingestion.circuit_keys``
and the driver aliases to ``ingestion.driver_aliases``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from ingestion.db.clean import foreign_keys
from ingestion.db.connection import has_unique_index
from ingestion.db.naming import Naming, resolve
from ingestion.instant import as_utc
from ingestion.replay import unchanged
from ingestion.replay.adopt import Stored, adopt, adoption_columns, adoption_keys
from ingestion.replay.breaker import RemovalsRefused, over_limit
from ingestion.replay.delta import Index, Known, RowsCache, cache_key, changed, index
from ingestion.replay.findings import FINDING_KINDS
from ingestion.replay.inputs import INPUTS_KEY, InputsRecord, with_layout
from ingestion.replay.lock import DEFAULT_LOCK_WAIT, LOCK_KEY, ReplayLocked, take_lock
from ingestion.replay.pending import queue
from ingestion.replay.rows import DRIVER_KEY, TABLES, Racing, Replayed, TableSpec, one_entrant_per_driver
from ingestion.replay.scope import written
from ingestion.replay.stored_rows import StoredKeys, keyed_rows
from ingestion.replay.summary import LoadSummary, TableCounts
from ingestion.replay.write import (
    Target,
    copy_fresh,
    copy_in,
    hold_stored,
    make_room,
    plan_removals,
    remove,
    staged_count,
    tables_empty,
    upsert,
)

__all__ = [
    "DEFAULT_LOCK_WAIT",
    "LOCK_KEY",
    "LastReplay",
    "RemovalsRefused",
    "ReplayLocked",
    "all_held",
    "last_replay",
    "load",
    "load_unchanged",
    "racing_snapshot",
    "stored_keys",
]

Conn = psycopg.Connection[Any]


class LastReplay(msgspec.Struct, frozen=True, kw_only=True):
    """The last committed replay, as ``ingestion.replay_runs`` records it."""

    id: int
    as_of: datetime
    results: bool
    proof: dict[str, str] | None = None  # the database it left, when it left exactly its rows (.unchanged)
    versions: str | None = None  # the row versions it left, beside its proof (.unchanged.versions)
    #: its findings (:mod:`.findings`): upstream oddities whose last good rows it kept, one line each
    findings: list[str] = []
    #: what it replayed (:mod:`.inputs`), recorded beside its proof
    inputs: InputsRecord | None = None


def last_replay(conn: Conn) -> LastReplay | None:
    """The last replay recorded in ``ingestion.replay_runs`` (None: none yet, or no such table): the one
    reader that verify and audit use for their defaults."""
    exists = conn.execute("SELECT to_regclass('ingestion.replay_runs') IS NOT NULL").fetchone()
    if exists is None or not exists[0]:
        return None
    row = conn.execute(
        "SELECT id, as_of, results, summary -> %s, summary -> 'findings', summary ->> %s, summary -> %s "
        "FROM ingestion.replay_runs ORDER BY id DESC LIMIT 1",
        (unchanged.PROOF_KEY, unchanged.VERSIONS_KEY, INPUTS_KEY),
    ).fetchone()
    if row is None:
        return None
    proof = row[3] if isinstance(row[3], dict) else None
    findings = [str(f) for f in row[4]] if isinstance(row[4], list) else []
    versions = str(row[5]) if row[5] is not None else None
    inputs: InputsRecord | None = None
    if isinstance(row[6], dict):
        with contextlib.suppress(msgspec.ValidationError):  # another version's record: none
            inputs = msgspec.convert(row[6], InputsRecord)
    return LastReplay(
        id=int(row[0]),
        as_of=row[1],
        results=bool(row[2]),
        proof=proof,
        findings=findings,
        versions=versions,
        inputs=inputs,
    )


def load_unchanged(
    conn: Conn,
    key: str,
    *,
    results: bool,
    as_of: datetime,
    started_at: datetime | None = None,
    extra: dict[str, object] | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    naming: Naming | None = None,
) -> tuple[LoadSummary, InputsRecord] | None:
    """The load of a replay whose inputs (``key``, :func:`~.inputs.inputs_key`) are those the last load
    recorded, ``as_of`` inside their window, into a database proven to hold what that load left
    (:func:`.unchanged.as_recorded`): it records its run (the same counts, proof and record) without the
    rows, which would be the same. None, and nothing written, when any of it does not hold: then the
    replay computes its rows and :func:`load` runs as always."""
    specs = written(results=results)
    with conn.transaction():
        take_lock(conn, lock_wait)
        naming = naming or resolve(conn)
        one = has_unique_index(conn, naming, "entrants", DRIVER_KEY)
        last = last_replay(conn)
        if last is None or last.proof is None or last.inputs is None or last.results != results:
            return None
        record = last.inputs
        if not record.holds(with_layout(key, one_entrant_per_driver=one), as_of):
            return None
        now = unchanged.as_recorded(conn, naming, specs, last.proof, last.versions)
        if now is None:
            return None
        counts: dict[str, dict[str, int]] = {
            s.name: {"inserted": 0, "updated": 0, "unchanged": 0, "removed": 0} for s in TABLES
        }
        for spec in specs:
            counts[spec.name]["unchanged"] = record.loaded.get(spec.name, 0)
        summary = _record(
            conn,
            counts,
            results,
            as_of,
            started_at,
            {**(extra or {}), "warnings": dict(record.warnings)},
            last.proof,
            findings=list(record.findings),
            versions=now,
            inputs=record,
        )
        return summary, record


def load(
    conn: Conn,
    replayed: Replayed,
    *,
    results: bool,
    as_of: datetime | None = None,
    started_at: datetime | None = None,
    extra: dict[str, object] | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    naming: Naming | None = None,
    allow_removals: bool = False,
    inputs: InputsRecord | None = None,
    rows_cache: RowsCache | None = None,
    known: Known | None = None,
) -> LoadSummary:
    """Make the database hold ``replayed``'s rows (see the module doc), in one transaction; count the writes.

    ``as_of``, ``started_at`` and ``extra`` (JSON-able, e.g. warnings and timings) go into the
    ``ingestion.replay_runs`` row; without them the database's clock stands in. ``naming`` (default: the
    database's, :func:`ingestion.db.naming.resolve`) names the tables. Removals beyond the breaker's limit
    in a settled season (:mod:`.breaker`) raise :class:`~.breaker.RemovalsRefused` before anything is
    written, unless ``allow_removals``. ``inputs``: what was replayed (:mod:`.inputs`; its key without the
    database's layout, its ``loaded`` counts filled here), recorded beside the proof for
    :func:`load_unchanged`. ``rows_cache``: where the rows a load left are kept for the next one's delta load
    (:mod:`.delta`; None: none kept, every row staged). ``known``: index entries of rows already hashed
    (:data:`.delta.Known`: an earlier merge's results), taken instead of hashing those rows again.
    """
    racing = replayed.racing
    specs = written(results=results)
    counts: dict[str, dict[str, int]] = {
        s.name: {"inserted": 0, "updated": 0, "unchanged": 0, "removed": 0} for s in TABLES
    }
    found = [f"{w.kind}: {w.message}" for w in replayed.warnings if w.kind in FINDING_KINDS]
    with conn.transaction():
        take_lock(conn, lock_wait)
        naming = naming or resolve(conn)
        one = has_unique_index(conn, naming, "entrants", DRIVER_KEY)
        if one:
            racing = one_entrant_per_driver(racing)
        if inputs is not None:
            inputs = msgspec.structs.replace(
                inputs,
                key=with_layout(inputs.key, one_entrant_per_driver=one),
                loaded={spec.name: len(racing.table(spec.name)) for spec in specs},
            )
        last = last_replay(conn)
        recorded = last.proof if last is not None else None
        indexed = index(racing, specs, known)  # once: the rows' digest, the delta, the rows kept for the next
        rows, proven = unchanged.proven(
            conn,
            naming,
            specs,
            indexed,
            recorded,
            results=results,
            recorded_versions=last.versions if last is not None else None,
        )

        def witness(proof: dict[str, str] | None) -> str | None:
            return None if proof is None else unchanged.versions(conn, naming, specs)

        if proven:
            extra = _queued(extra, queue(conn, naming, replayed.pending))
            for spec in specs:
                counts[spec.name]["unchanged"] = len(racing.table(spec.name))
            left = recorded  # the same proof, and the versions as they are now
            now = witness(left)
            _keep(rows_cache, specs, left, now, racing, results=results, one=one, indexed=indexed)
            return _record(
                conn, counts, results, as_of, started_at, extra, left, findings=found, versions=now,
                inputs=inputs,
            )
        if tables_empty(conn, naming, TABLES):
            # nothing to adopt, remove, move aside or compare: the rows go straight in, all of them inserted
            copy_fresh(conn, naming, specs, {spec.name: racing.table(spec.name) for spec in specs})
            extra = _queued(extra, queue(conn, naming, replayed.pending))
            for spec in specs:
                counts[spec.name]["inserted"] = len(racing.table(spec.name))
            left = unchanged.left_exactly(conn, naming, specs, racing, rows)
            now = witness(left)
            _keep(rows_cache, specs, left, now, racing, results=results, one=one, indexed=indexed)
            return _record(
                conn, counts, results, as_of, started_at, extra, left, findings=found, versions=now,
                inputs=inputs,
            )
        db = Target(naming, foreign_keys(conn))
        delta_rows = _delta(conn, naming, specs, racing, indexed, replayed, last, rows_cache, results=results,
                            one=one)
        if delta_rows is not None:
            # the database holds exactly the last load's rows, and these differ from them only in values:
            # staging only them gives what staging every row would (.delta); nothing is adopted or removed
            extra = _queued(extra, queue(conn, naming, replayed.pending))
            # the state the last load left, shifted by the staged rows' hashes before and after: the
            # database's state without hashing its other rows (else one whole query, as always)
            start = unchanged.kept_state(last.proof if last is not None else None)
            ids = {
                spec.name: [getattr(r, "id") for r in delta_rows.table(spec.name)]  # noqa: B009
                for spec in specs
                if delta_rows.table(spec.name)
            }
            before = unchanged.rows_state(conn, naming, specs, ids) if start is not None else None
            for spec in specs:
                rows_of = delta_rows.table(spec.name)
                if rows_of:
                    copy_in(conn, db, spec, rows_of)
            moved_any = 0
            for spec in specs:
                moved, inserted, updated = 0, 0, 0
                if delta_rows.table(spec.name):
                    moved = make_room(conn, db, spec)
                    inserted, updated = upsert(conn, db, spec)
                moved_any += moved
                c = counts[spec.name]
                c["inserted"], c["updated"] = inserted, updated + moved
                c["unchanged"] = len(racing.table(spec.name)) - inserted - updated
            state = None
            if start is not None and before is not None and not moved_any:  # a row moved aside: not staged
                state = start.shifted(before, unchanged.rows_state(conn, naming, specs, ids))
            left = unchanged.left_exactly(conn, naming, specs, racing, rows, state)
            now = witness(left)
            _keep(rows_cache, specs, left, now, racing, results=results, one=one, indexed=indexed)
            extra = {**(extra or {}), "delta": True}
            return _record(
                conn, counts, results, as_of, started_at, extra, left, findings=found, versions=now,
                inputs=inputs,
            )
        adopted: dict[str, dict[uuid.UUID, uuid.UUID]] = {}
        indexed_racing = racing
        if not all_held(conn, naming, racing):  # else no row can adopt an id (adopt would return racing)
            racing, adopted = adopt(racing, stored_keys(conn, naming), replayed.formerly)
        extra = _queued(extra, queue(conn, naming, replayed.pending, adopted))
        for spec in specs:
            copy_in(conn, db, spec, racing.table(spec.name))
        # upstream oddities against the stored rows: the last good rows are kept (.findings)
        findings = hold_stored(conn, db, specs, replayed.held)

        # removals, scoped to the replayed rounds and drivers; before the upserts so no stale row blocks
        removals = plan_removals(conn, db, specs, as_utc(as_of or datetime.now(UTC)).date())
        beyond = over_limit(removals.settled)
        if beyond and not allow_removals:
            raise RemovalsRefused(beyond)
        for name, n in remove(conn, db, removals).items():
            counts[name]["removed"] = n

        for spec in specs:
            moved = make_room(conn, db, spec)
            inserted, updated = upsert(conn, db, spec)
            staged = staged_count(conn, spec) if findings else len(racing.table(spec.name))
            c = counts[spec.name]
            c["inserted"], c["updated"] = inserted, updated + moved
            c["unchanged"] = staged - inserted - updated

        # rows held against the stored ones: no proof (the next load looks again, and finds them again)
        left = None if findings else unchanged.left_exactly(conn, naming, specs, racing, rows)
        found += [f"{w.kind}: {w.message}" for w in findings]
        now = witness(left)
        # the index describes the rows before adoption: rows that took stored ids are indexed again
        kept = indexed if racing is indexed_racing else None
        _keep(rows_cache, specs, left, now, racing, results=results, one=one, indexed=kept)
        summary = _record(
            conn,
            counts,
            results,
            as_of,
            started_at,
            extra,
            left,
            beyond,
            findings=found,
            versions=now,
            inputs=inputs,
        )
        return msgspec.structs.replace(summary, findings=findings)


def _delta(
    conn: Conn,
    naming: Naming,
    specs: Sequence[TableSpec],
    racing: Racing,
    indexed: Index,
    replayed: Replayed,
    last: LastReplay | None,
    rows_cache: RowsCache | None,
    *,
    results: bool,
    one: bool,
) -> Racing | None:
    """The rows a delta load stages (:func:`.delta.changed`; ``indexed``: ``racing``'s index), when the
    database is proven to hold exactly the last load's rows (the row versions that load recorded, unchanged
    since) and the cache holds them; else None (every row is staged)."""
    if rows_cache is None or last is None or last.proof is None or last.versions is None or replayed.held:
        return None
    if last.results != results:
        return None
    key = cache_key(last.proof, last.versions, results=results, one_entrant_per_driver=one)
    if not rows_cache.holds(key) or unchanged.versions(conn, naming, specs) != last.versions:
        return None
    before = rows_cache.read(key)
    if before is None:
        return None
    return changed(before, indexed, racing, specs)


def _keep(
    rows_cache: RowsCache | None,
    specs: Sequence[TableSpec],
    proof: dict[str, str] | None,
    versions: str | None,
    racing: Racing,
    *,
    results: bool,
    one: bool,
    indexed: Index | None = None,
) -> None:
    """Keep the rows a load left for the next one's delta load, when it recorded a proof (it left exactly
    them) and the cache does not hold them already."""
    if rows_cache is None or proof is None or versions is None:
        return
    key = cache_key(proof, versions, results=results, one_entrant_per_driver=one)
    if not rows_cache.holds(key):
        rows_cache.write(key, indexed if indexed is not None else index(racing, specs))


def _queued(extra: dict[str, object] | None, inserted: int) -> dict[str, object] | None:
    """``extra`` with the number of pairs added to the app's ``"PendingMatches"`` queue (when any)."""
    if not inserted:
        return extra
    done = dict(extra or {})
    done["pending_matches"] = int(str(done.get("pending_matches", 0))) + inserted
    return done


def _record(
    conn: Conn,
    counts: dict[str, dict[str, int]],
    results: bool,
    as_of: datetime | None,
    started_at: datetime | None,
    extra: dict[str, object] | None,
    proof: dict[str, str] | None,
    allowed: dict[int, dict[str, int]] | None = None,
    *,
    findings: list[str] | None = None,
    versions: str | None = None,
    inputs: InputsRecord | None = None,
) -> LoadSummary:
    """Step 5: the ``ingestion.replay_runs`` row (counts, ``extra``, the proof of what the load left, the
    removals ``--allow-removals`` let through)."""
    summary = LoadSummary(
        tables={name: TableCounts(**c) for name, c in counts.items()}, allowed_removals=allowed or {}
    )
    document: dict[str, object] = {"results": results, "tables": msgspec.to_builtins(summary.tables)}
    if allowed:
        document["allowed_removals"] = msgspec.to_builtins(allowed)
    if findings:
        document["findings"] = findings
    document.update(extra or {})
    if proof is not None:
        document[unchanged.PROOF_KEY] = proof
    if proof is not None and versions is not None:
        document[unchanged.VERSIONS_KEY] = versions
    if proof is not None and inputs is not None:
        document[INPUTS_KEY] = msgspec.to_builtins(inputs)
    row = conn.execute(
        "INSERT INTO ingestion.replay_runs (started_at, finished_at, as_of, results, summary) "
        "VALUES (coalesce(%s, now()), clock_timestamp(), coalesce(%s, now()), %s, %s::jsonb) "
        "RETURNING id",
        (started_at, as_of, results, msgspec.json.encode(document).decode()),
    ).fetchone()
    return msgspec.structs.replace(summary, run_id=int(row[0]) if row else None)


def racing_snapshot(conn: Conn, naming: Naming | None = None) -> dict[str, list[tuple[object, ...]]]:
    """Every owned column of every racing table (model names and order), rows sorted by id: for comparing
    databases, whatever their naming."""
    naming = naming or resolve(conn)
    out: dict[str, list[tuple[object, ...]]] = {}
    for spec in TABLES:
        rows = conn.execute(
            sql.SQL("{} ORDER BY 1").format(naming.select(spec.name, spec.columns))
        ).fetchall()
        out[spec.name] = [tuple(r) for r in rows]
    return out


def stored_keys(conn: Conn, naming: Naming) -> Stored:
    """Every stored racing row as adoption reads it (its id and adoption key columns alone, typed:
    :class:`ingestion.replay.stored_rows.StoredKeys`), read in ``conn``'s transaction: what
    :func:`ingestion.replay.adopt.adopt` adopts from."""
    out: dict[str, StoredKeys] = {}
    for spec in TABLES:
        keys = adoption_keys(naming, spec)
        columns = adoption_columns(keys)
        rows = conn.execute(sql.SQL("{}").format(naming.select(spec.name, columns))).fetchall()
        out[spec.name] = keyed_rows(columns, keys, rows)
    return out


def all_held(conn: Conn, naming: Naming, racing: Racing) -> bool:
    """Whether the database holds the id of every replayed row (ids only, one query per table): then no row
    adopts an id (:func:`adopt` takes ids only for rows whose own id is not stored) and the whole adoption,
    which reads every stored row's keys, can be skipped (a release that changed 31 files: 6 s less)."""
    for spec in TABLES:
        rows = racing.table(spec.name)
        if not rows:
            continue
        query = sql.SQL("SELECT {} FROM {}").format(naming.col(spec.name, "id"), naming.rel(spec.name))
        held = {r[0] for r in conn.execute(query).fetchall()}
        if any(getattr(r, "id") not in held for r in rows):  # noqa: B009
            return False
    return True
