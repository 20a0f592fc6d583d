"""The one query layer of ``ingest check``: the racing tables, read through the replay's table specs in one
read-only snapshot, as typed :class:`~ingestion.ops.check.model.Round` values; and the shell that checks
them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

import msgspec
import psycopg

from ingestion.db.naming import Naming
from ingestion.errors import NotMigrated, UsageError
from ingestion.f1db.archive import DATA_PREFIX
from ingestion.f1db.decode import CLASSIFICATIONS, Classified, Decoded, decode_file
from ingestion.fetch import FIRST_SEASON, known_gaps, render_gap
from ingestion.ops.check.evidence import PUBLIC_BASE_URL, with_snapshots
from ingestion.ops.check.model import CheckReport, Entrant, Round, Row, Session
from ingestion.ops.check.rules import check
from ingestion.ops.check.sources import compare_sources, explain, f1db_codes
from ingestion.replay.decoded import decode_snapshots
from ingestion.replay.load import last_replay, racing_snapshot
from ingestion.replay.normalize import normalize_linked
from ingestion.replay.rows import (
    DriverRole,
    DriverRow,
    EntrantRow,
    ResultRow,
    RoundRow,
    SeasonRow,
    SessionRow,
    SessionStatus,
)
from ingestion.replay.run import snapshots_of
from ingestion.replay.stored_rows import stored_rows
from ingestion.store import F1dbRelease, Store

__all__ = ["check_database", "compare_store", "read_rounds", "release_files", "rounds_of"]

Conn = psycopg.Connection[tuple[object, ...]]


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def read_rounds(conn: Conn, season: int | None = None, naming: Naming | None = None) -> list[Round]:
    """The rounds of ``season`` (every season: None) as typed rows, read in one read-only snapshot."""
    outermost = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    try:
        with conn.transaction():
            if outermost:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = racing_snapshot(conn, naming)
    except psycopg.errors.UndefinedTable as error:
        raise NotMigrated(f"the database lacks the racing tables ({error.diag.message_primary}): "
                          "run `ingest db migrate`") from error
    return rounds_of(snapshot, season)


def rounds_of(snapshot: Mapping[str, Sequence[tuple[object, ...]]], season: int | None) -> list[Round]:
    """Typed rounds from :func:`ingestion.replay.load.racing_snapshot`'s rows (pure)."""
    years = {s.id: s.year for s in stored_rows(snapshot, SeasonRow)}
    rounds = {
        r.id: r for r in stored_rows(snapshot, RoundRow) if season is None or years.get(r.season_id) == season
    }
    drivers = {d.id: d for d in stored_rows(snapshot, DriverRow)}
    entrants = {e.id: e for e in stored_rows(snapshot, EntrantRow) if e.round_id in rounds}
    sessions = {s.id: s for s in stored_rows(snapshot, SessionRow) if s.round_id in rounds}
    results: dict[UUID, list[ResultRow]] = defaultdict(list)
    numbers: dict[UUID, int] = {}  # entrant id -> the car number of any of its rows in the round
    for x in stored_rows(snapshot, ResultRow):
        if x.session_id in sessions and x.entrant_id in entrants:
            results[x.session_id].append(x)
            number = _int_or_none(x.car_number)
            if number is not None:
                numbers.setdefault(x.entrant_id, number)

    def who(entrant_id: UUID) -> tuple[str, str, int | None]:
        driver = drivers[entrants[entrant_id].driver_id]
        name = f"{driver.first_name} {driver.last_name}".strip()
        return name, str(driver.slug), numbers.get(entrant_id, _int_or_none(driver.driver_number))

    by_round: dict[UUID, list[Session]] = defaultdict(list)
    for sid, s in sessions.items():
        rows = []
        for x in results.get(sid, ()):
            name, slug, number = who(x.entrant_id)
            rows.append(
                Row(
                    driver=name, slug=slug,
                    number=_int_or_none(x.car_number) if x.car_number is not None else number,
                    position=_int_or_none(x.position), status=x.status,
                    points=_float_or_none(x.points), laps=_int_or_none(x.laps),
                    grid=_int_or_none(x.grid_position),
                )
            )
        rows.sort(key=lambda r: (r.position is None, r.position or 0, r.number or 0, r.slug))
        by_round[s.round_id].append(
            Session(
                key=_int_or_none(s.open_f1_session_key), type=s.type,
                completed=s.status == SessionStatus.Completed, start=s.start_time_utc, rows=tuple(rows),
            )
        )
    regulars: dict[UUID, dict[str, Entrant]] = defaultdict(dict)
    for eid, e in entrants.items():
        if e.role == DriverRole.Regular:
            name, slug, number = who(eid)
            regulars[e.round_id].setdefault(slug, Entrant(driver=name, slug=slug, number=number))
    out: list[Round] = []
    for rid, r in rounds.items():
        out.append(
            Round(
                season=years.get(r.season_id, 0),
                number=r.round_number,
                name=r.name,
                meeting_key=_int_or_none(r.open_f1_meeting_key),
                sessions=tuple(sorted(by_round.get(rid, ()), key=lambda s: (s.start, s.key or 0))),
                entrants=tuple(sorted(regulars.get(rid, {}).values(), key=lambda e: (e.number or 0, e.slug))),
            )
        )
    return sorted(out, key=lambda r: (r.season, r.number, r.name))


def check_database(
    conn: Conn,
    season: int | None = None,
    base_url: str = PUBLIC_BASE_URL,
    *,
    store: Store | None = None,
    now: datetime | None = None,
    naming: Naming | None = None,
) -> CheckReport:
    """Read the rounds of ``season`` (all: None) and check them; with a ``store``, name each finding's
    snapshot (the store's latest answers; a store folder that does not exist names none) and list the
    store's known gaps as of ``now`` (default: the current time).

    A ``season`` OpenF1 has no data for, or that has no round in the database, is a :class:`UsageError`
    (exit 2, as fetch refuses it): "no finding" would vouch for rounds never checked."""
    if season is not None and season < FIRST_SEASON:
        raise UsageError(f"--season {season}: OpenF1 has data from {FIRST_SEASON} on")
    rounds = read_rounds(conn, season, naming)
    if season is not None and not rounds:
        raise UsageError(
            f"--season {season}: no round of {season} in the database: replay it first (ingest sync --year "
            f"{season})"
        )
    report = check(rounds, base_url)
    if store is not None and store.root.is_dir():
        report = compare_store(report, store, now or datetime.now(UTC), season, base_url)
        report = with_snapshots(report, store.latest())
        gaps = known_gaps(store, now or datetime.now(UTC))
        shown = [gap for gap in gaps if season is None or gap.field != "year" or gap.value == str(season)]
        report = msgspec.structs.replace(report, gaps=tuple(render_gap(gap) for gap in shown))
    last = last_replay(conn)
    if last is not None and last.findings:
        report = msgspec.structs.replace(report, replay_findings=tuple(last.findings))
    return report


#: The f1db files the comparison reads below a race's folder.
_COMPARED = frozenset({"race.yml", *CLASSIFICATIONS})


def release_files(store: Store, release: F1dbRelease, season: int | None) -> dict[str, Decoded]:
    """The release's race files of ``season`` (None: of every season OpenF1 covers), decoded: read
    through ``Store.read`` (verified), never through the decode cache (a read-only command writes
    nothing)."""
    files: dict[str, Decoded] = {}
    for path, address in release.files.items():
        name = path.removeprefix(DATA_PREFIX)
        parts = name.split("/")
        if (
            path.startswith(DATA_PREFIX) and len(parts) == 5 and parts[0] == "seasons" and parts[2] == "races"
            and parts[1].isdigit() and int(parts[1]) == (season or max(int(parts[1]), FIRST_SEASON))
            and parts[4] in _COMPARED
        ):
            files[name] = decode_file(name, store.read(address))
    named = {  # the drivers the comparison may name (a row OpenF1 lacks)
        f"drivers/{row.driver_id}.yml" for rows in files.values() if isinstance(rows, list)
        for row in rows if isinstance(row, Classified)
    }
    for name in sorted(named):
        held = release.files.get(DATA_PREFIX + name)
        if held is not None:
            files[name] = decode_file(name, store.read(held))
    return files


def compare_store(
    report: CheckReport, store: Store, as_of: datetime, season: int | None, base_url: str = PUBLIC_BASE_URL
) -> CheckReport:
    """``report`` with OpenF1 compared with the store's current f1db release as of ``as_of``: both read
    from the store (OpenF1's snapshots replayed without f1db), compared (pure,
    :mod:`~ingestion.ops.check.sources`); the regulation findings f1db's codes explain set apart. The
    report as it is when the store holds no f1db release."""
    release = store.f1db_release(as_of)
    if release is None:
        return report
    snapshots = snapshots_of(store, as_of, results=True)
    decoded, warnings = decode_snapshots(snapshots, results=True, as_of=as_of)
    replayed, links = normalize_linked(decoded, warnings, as_of, results=True)
    files = release_files(store, release, season)
    disagreements = compare_sources(replayed.racing, links, files, release.tag, season, base_url)
    report = msgspec.structs.replace(report, release=release.tag, disagreements=disagreements)
    return explain(report, f1db_codes(replayed.racing, links, files))
