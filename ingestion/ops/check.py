"""``ingest check``: where OpenF1 is wrong or silent, judged against the sporting regulations. Read-only.

    from ingestion.ops.check import check, read_rounds

    with connect(url) as conn:
        report = check(read_rounds(conn, season=2023))
    for finding in report.findings:
        print(finding.kind, finding.request)

Replay copies OpenF1 faithfully (``ingest verify`` proves it), so the database says what OpenF1 says. This
check says where that disagrees with the rules of the sport: each :class:`Finding` names the season, round,
session and driver, what the regulations (or a complete classification) expect, what OpenF1 says, and the
exact OpenF1 request that shows it, ready to paste into a report upstream; with the snapshot store,
also the stored answer that holds what OpenF1 sent (:func:`with_snapshots`). Nothing is ever corrected:
the database keeps what OpenF1 says until OpenF1 (or a later source) says otherwise.

The core is pure: :func:`check` takes :class:`Round` values (typed rows) and returns a :class:`CheckReport`;
:func:`read_rounds` is the one query layer, reading the racing tables through the replay's table specs
(:func:`ingestion.replay.racing_snapshot`) in one read-only snapshot. The kinds (:data:`KINDS`):

- points, against :mod:`ingestion.regulations` for the season (of the season's scales that fit the leader's
  laps, the one most non-zero points values agree with; full points on a tie):
  ``points_missing`` (classified in the points with 0 or null points), ``points_off_table`` (a value the
  scale does not give that position), ``points_unclassified`` (points on a row without a position),
  ``points_sum`` (every row plausible, but the session's total is not what the table gives: more than one
  fastest-lap point; only checked when no row of the session has a points finding, so one wrong value is
  one finding);
- classification shape (Qualifying, Sprint Qualifying, Sprint, Race): ``position_duplicate``,
  ``position_gap`` (positions not contiguous from 1, beyond what duplicates and missing entrants explain),
  ``unflagged_unclassified`` (no position and no DNF/DNS/DSQ flag: a "not classified" or a disqualification
  OpenF1 did not flag; both are said);
- completeness: ``session_without_results`` (a completed Qualifying, Sprint Qualifying, Sprint or Race with
  no row while its round has results elsewhere), ``entrant_without_result`` (a regular entrant of the round
  with no row in its Race or Sprint), ``grid_missing`` (a Race or Sprint whose rows have no grid position at
  all: no starting grid, e.g. a sprint weekend without a sprint grid), ``starter_without_grid`` (a car that
  started, not DNS, with no starting_grid row while others have one: a pit-lane start, which starting_grid
  cannot express, or a missing row).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec
import psycopg

from ingestion.config import DEFAULT_BASE_URL
from ingestion.errors import NotMigrated
from ingestion.regulations import Scale, race_scales, sprint_scales
from ingestion.replay import TABLES as _TABLES
from ingestion.replay import DriverRole, ResultStatus, SessionStatus, SessionType, TableSpec, racing_snapshot
from ingestion.store import Event, Store, event_order

__all__ = [
    "KINDS",
    "PUBLIC_BASE_URL",
    "CheckReport",
    "Entrant",
    "Finding",
    "Round",
    "Row",
    "Session",
    "Snapshot",
    "check",
    "check_database",
    "finding_cells",
    "openf1_request",
    "read_rounds",
    "render_check",
    "report_json",
    "rounds_of",
    "summary_line",
    "with_snapshots",
]

Conn = psycopg.Connection[tuple[object, ...]]

#: Evidence links point at the public OpenF1 (what an upstream report needs), whatever mirror was fetched.
PUBLIC_BASE_URL = DEFAULT_BASE_URL

#: Every kind of finding, in report order, with what it means.
KINDS: dict[str, str] = {
    "points_missing": "classified in the points with 0 or null points",
    "points_off_table": "points the season's table does not give that position",
    "points_unclassified": "points on a row without a position",
    "points_sum": "the session's points total is not what the table gives",
    "position_duplicate": "two rows of a session with one position",
    "position_gap": "positions not contiguous from 1",
    "unflagged_unclassified": "no position and no DNF/DNS/DSQ flag (not classified, or an unflagged DSQ)",
    "session_without_results": "a completed session with no result rows while its round has others",
    "entrant_without_result": "a regular entrant of the round with no row in its Race or Sprint",
    "grid_missing": "a Race or Sprint with no starting grid",
    "starter_without_grid": "a car that started with no starting_grid row (pit-lane start or missing row)",
}

CLASSIFIED_SESSIONS = (
    SessionType.Qualifying, SessionType.SprintQualifying, SessionType.Sprint, SessionType.Race,
)
RACES = (SessionType.Sprint, SessionType.Race)
GRID_FROM = {SessionType.Race: SessionType.Qualifying, SessionType.Sprint: SessionType.SprintQualifying}
#: The sporting regulations classify a car that covered at least 90% of the winner's laps.
CLASSIFIED_SHARE = 0.9


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One result row of a session, as the database holds it (what OpenF1 said)."""

    driver: str  # "Max Verstappen"
    slug: str  # the driver's identity
    number: int | None  # the car number OpenF1 filed the row under
    position: int | None
    status: int  # ResultStatus
    points: float | None
    laps: int | None
    grid: int | None


class Session(msgspec.Struct, frozen=True, kw_only=True):
    key: int | None  # OpenF1 session_key
    type: int  # SessionType
    completed: bool
    start: datetime
    rows: tuple[Row, ...] = ()


class Entrant(msgspec.Struct, frozen=True, kw_only=True):
    """A regular (role 0) entrant of a round."""

    driver: str
    slug: str
    number: int | None


class Round(msgspec.Struct, frozen=True, kw_only=True):
    season: int
    number: int
    name: str
    meeting_key: int | None
    sessions: tuple[Session, ...] = ()
    entrants: tuple[Entrant, ...] = ()


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """Where OpenF1 disagrees with the regulations, with the request that shows it."""

    kind: str
    season: int
    round: int
    round_name: str
    session: str  # "Race", "Sprint", "Qualifying", "SprintQualifying"
    session_key: int | None
    driver: str | None
    driver_number: int | None
    expected: str
    openf1: str
    request: str
    meeting_key: int | None = None
    #: The stored answer that holds (or lacks) the row: see :func:`with_snapshots`.
    snapshot: Snapshot | None = None


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The snapshot in the store that shows what OpenF1 said: ``ingest snapshots show REQUEST``."""

    request: str  # the store's request key: "session_result?meeting_key=1219"
    received_at: datetime
    address: str  # sha256 of the body


class CheckReport(msgspec.Struct, frozen=True, kw_only=True):
    seasons: tuple[int, ...]
    rounds: int
    sessions: int  # classified sessions looked at (Q, SQ, S, R)
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        """Findings per kind, in :data:`KINDS` order (kinds without a finding left out)."""
        counted = Counter(f.kind for f in self.findings)
        return {kind: counted[kind] for kind in KINDS if counted[kind]}


# --- evidence -------------------------------------------------------------------------------------------

def openf1_request(endpoint: str, base_url: str = PUBLIC_BASE_URL, **params: int | None) -> str:
    """``https://api.openf1.org/v1/session_result?session_key=9472&driver_number=1`` (no None params)."""
    query = urlencode([(k, str(v)) for k, v in params.items() if v is not None])
    return f"{base_url.rstrip('/')}/{endpoint}" + (f"?{query}" if query else "")


def _points(value: float | None) -> str:
    if value is None:
        return "null"
    return str(int(value)) if value == int(value) else str(value)


def _type_name(value: int) -> str:
    try:
        return SessionType(value).name
    except ValueError:
        return f"type {value}"


class _Ctx:
    """What every finding of one session shares."""

    def __init__(self, rnd: Round, session: Session, base_url: str) -> None:
        self.rnd = rnd
        self.session = session
        self.base_url = base_url
        self.out: list[Finding] = []

    def add(
        self,
        kind: str,
        expected: str,
        openf1: str,
        *,
        row: Row | None = None,
        entrant: Entrant | None = None,
        endpoint: str = "session_result",
        session_key: int | None = None,
    ) -> None:
        who = row or entrant
        number = who.number if who is not None else None
        key = self.session.key if session_key is None else session_key
        self.out.append(
            Finding(
                kind=kind,
                season=self.rnd.season,
                round=self.rnd.number,
                round_name=self.rnd.name,
                session=_type_name(self.session.type),
                session_key=self.session.key,
                driver=who.driver if who is not None else None,
                driver_number=number,
                expected=expected,
                openf1=openf1,
                request=openf1_request(
                    endpoint,
                    self.base_url,
                    session_key=key,
                    meeting_key=self.rnd.meeting_key if key is None else None,
                    driver_number=number,
                ),
                meeting_key=self.rnd.meeting_key,
            )
        )


# --- the checks (pure) ----------------------------------------------------------------------------------

def _leader_laps(rows: Sequence[Row]) -> int | None:
    winners = [r.laps for r in rows if r.position == 1 and r.laps is not None]
    if winners:
        return winners[0]
    laps = [r.laps for r in rows if r.laps is not None]
    return max(laps) if laps else None


def _point_faults(scale: Scale, rows: Sequence[Row]) -> list[tuple[Row, str]]:
    """Rows whose points this scale does not allow: (row, kind)."""
    faults: list[tuple[Row, str]] = []
    for row in rows:
        if row.position is None:
            continue
        allowed = scale.allowed(row.position)
        points = row.points
        if points is None:
            if allowed != (0.0,):
                faults.append((row, "points_missing"))
        elif points not in allowed:
            missing = points == 0 and scale.for_position(row.position) > 0
            faults.append((row, "points_missing" if missing else "points_off_table"))
    return faults


def _expected_text(scale: Scale, position: int) -> str:
    base = scale.for_position(position)
    extra = f"; {_points(base + 1)} with the fastest lap" if base + 1 in scale.allowed(position) else ""
    return f"{_points(base)} (P{position}, {scale.name}, {scale.article}{extra})"


def _scale_of(scales: tuple[Scale, ...], rows: Sequence[Row], leader_laps: int | None) -> Scale:
    """The scale a session was scored on: of the season's scales that fit the leader's laps, the one most
    of the non-zero points agree with (zeros and nulls are what goes missing, so they do not vote); full
    points on a tie. No two scales of a season give the winner the same points, so a right winner alone
    is enough to tell a shortened race."""
    candidates = [s for s in scales if s.fits(leader_laps)] or [scales[0]]

    def agreeing(scale: Scale) -> int:
        return sum(
            1 for r in rows if r.position is not None and r.points and r.points in scale.allowed(r.position)
        )

    return max(candidates, key=lambda s: (agreeing(s), s is scales[0]))


def _check_points(ctx: _Ctx, scales: tuple[Scale, ...]) -> bool:
    """Points of one Race or Sprint; True if a row-level points finding was made."""
    rows = ctx.session.rows
    scale = _scale_of(scales, rows, _leader_laps(rows))
    faults = _point_faults(scale, rows)
    for row, kind in faults:
        assert row.position is not None
        said = f"{_points(row.points)} (P{row.position})"
        ctx.add(kind, _expected_text(scale, row.position), said, row=row)
    unclassified = [r for r in rows if r.position is None and r.points]
    for row in unclassified:
        ctx.add(
            "points_unclassified", "0 (no position: not classified, so no points)",
            f"{_points(row.points)} with no position", row=row,
        )
    if faults or unclassified:
        return True
    positions = [r.position for r in rows if r.position is not None]
    expected = sum(scale.for_position(p) for p in positions)
    fastest = 1.0 if scale.fastest_lap and any(p <= 10 for p in positions) else 0.0
    total = sum(r.points or 0.0 for r in rows)
    if not expected <= total <= expected + fastest:
        bonus = f" (+{_points(fastest)} for the fastest lap)" if fastest else ""
        ctx.add(
            "points_sum",
            f"{_points(expected)}{bonus} in all ({scale.name}, {scale.article})",
            f"{_points(total)} in all",
        )
    return False


def _check_shape(ctx: _Ctx, missing_entrants: int) -> None:
    rows = ctx.session.rows
    by_position: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        if row.position is not None:
            by_position[row.position].append(row)
    for position, same in sorted(by_position.items()):
        if len(same) > 1:
            names = ", ".join(f"#{r.number} {r.driver}" for r in same)
            ctx.add(
                "position_duplicate", f"one row at P{position}", f"{len(same)} rows at P{position}: {names}",
            )
    if by_position:
        top = max(by_position)
        gaps = [p for p in range(1, top + 1) if p not in by_position]
        doubled = sum(len(same) - 1 for same in by_position.values())
        if len(gaps) > missing_entrants + doubled:  # a gap a duplicate or a missing row explains is said
            shown = ", ".join(f"P{p}" for p in gaps[:10]) + (" ..." if len(gaps) > 10 else "")
            ctx.add(
                "position_gap", f"positions 1 to {len(by_position)} without a gap",
                f"positions up to P{top} with no row at {shown}",
            )
    leader = _leader_laps(rows) if ctx.session.type in RACES else None
    for row in rows:
        if row.position is None and row.status == ResultStatus.NC:
            hint = ""
            if leader and row.laps is not None and row.laps >= CLASSIFIED_SHARE * leader:
                hint = (
                    f"; it completed {row.laps} of the winner's {leader} laps (90% classifies a car), "
                    "so most likely a disqualification"
                )
            ctx.add(
                "unflagged_unclassified",
                "a position, or a dnf/dns/dsq flag saying why there is none",
                f"position null with dnf, dns and dsq all false: 'not classified' or an unflagged "
                f"disqualification{hint}",
                row=row,
            )


def _check_entrants(ctx: _Ctx) -> int:
    present = {r.slug for r in ctx.session.rows}
    missing = [e for e in ctx.rnd.entrants if e.slug not in present]
    for entrant in missing:
        ctx.add(
            "entrant_without_result",
            f"a row for every regular entrant of the round (a non-starter as DNS); "
            f"{len(ctx.session.rows) + len(missing)} entrants",
            f"no row for #{entrant.number} {entrant.driver}; {len(ctx.session.rows)} rows",
            entrant=entrant,
        )
    return len(missing)


def _grid_session(rnd: Round, session: Session) -> int | None:
    source = GRID_FROM.get(SessionType(session.type))
    keys = [s for s in rnd.sessions if s.type == source and s.key is not None]
    return max(keys, key=lambda s: (s.start, s.key or 0)).key if keys else None


def _check_grid(ctx: _Ctx) -> None:
    rows = ctx.session.rows
    grid_key = _grid_session(ctx.rnd, ctx.session)
    if all(r.grid is None for r in rows):
        source = _type_name(GRID_FROM[SessionType(ctx.session.type)])
        ctx.add(
            "grid_missing",
            f"a starting grid (OpenF1 files it under the {source} session)",
            "no starting_grid row for any car",
            endpoint="starting_grid", session_key=grid_key,
        )
        return
    on_grid = sum(1 for r in rows if r.grid is not None)
    starters = [r for r in rows if r.status != ResultStatus.DNS]
    for row in starters:
        if row.grid is None:
            ctx.add(
                "starter_without_grid",
                "a starting_grid row for every car that started",
                f"none for #{row.number} {row.driver} ({on_grid} cars on the grid, {len(starters)} "
                "started): a pit-lane start, which starting_grid cannot express, or a missing row",
                row=row, endpoint="starting_grid", session_key=grid_key,
            )


def _check_round(rnd: Round, base_url: str) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    looked = 0
    has_results = any(s.rows for s in rnd.sessions)
    for session in sorted(rnd.sessions, key=lambda s: (s.start, s.key or 0)):
        if session.type not in CLASSIFIED_SESSIONS:
            continue
        looked += 1
        ctx = _Ctx(rnd, session, base_url)
        if not session.rows:
            if session.completed and has_results:
                others = sum(len(s.rows) for s in rnd.sessions)
                on_grid = max(
                    (
                        sum(1 for r in s.rows if r.grid is not None)
                        for s in rnd.sessions
                        if s.type in RACES and _grid_session(rnd, s) == session.key
                    ),
                    default=0,
                )
                grid = f"; its starting_grid gives {on_grid} cars" if on_grid else ""
                ctx.add(
                    "session_without_results",
                    "the classification of a completed session",
                    f"no row (404 No results found), while the round's other sessions have {others}{grid}",
                )
            findings.extend(ctx.out)
            continue
        is_race = session.type in RACES
        missing = _check_entrants(ctx) if is_race else 0
        _check_shape(ctx, missing)
        if is_race:
            scales = (race_scales if session.type == SessionType.Race else sprint_scales)(rnd.season)
            if scales:
                _check_points(ctx, scales)
            _check_grid(ctx)
        findings.extend(ctx.out)
    return findings, looked


def check(rounds: Iterable[Round], base_url: str = PUBLIC_BASE_URL) -> CheckReport:
    """Every finding in ``rounds`` (pure). Findings come in round order, then session, then as checked."""
    ordered = sorted(rounds, key=lambda r: (r.season, r.number, r.name))
    findings: list[Finding] = []
    sessions = 0
    for rnd in ordered:
        found, looked = _check_round(rnd, base_url)
        findings.extend(found)
        sessions += looked
    return CheckReport(
        seasons=tuple(sorted({r.season for r in ordered})),
        rounds=len(ordered),
        sessions=sessions,
        findings=tuple(findings),
    )


# --- evidence in the snapshot store ---------------------------------------------------------------------

def _endpoint_and_session(request: str) -> tuple[str, str | None]:
    parts = urlsplit(request)
    params = dict(parse_qsl(parts.query))
    return parts.path.rstrip("/").rsplit("/", 1)[-1], params.get("session_key")


def with_snapshots(report: CheckReport, latest: Mapping[str, Event]) -> CheckReport:
    """The report with each finding's snapshot: of the store's latest answers (``Store.latest()``), the
    newest one of the finding's endpoint asked for its session or its meeting (pure)."""
    by_endpoint: dict[str, list[Event]] = defaultdict(list)
    for event in latest.values():
        if event.status in (200, 404):
            by_endpoint[event.endpoint].append(event)
    findings = []
    for finding in report.findings:
        endpoint, session_key = _endpoint_and_session(finding.request)
        wanted = {("session_key", session_key)} if session_key else set()
        if finding.meeting_key is not None:
            wanted.add(("meeting_key", str(finding.meeting_key)))
        holding = [e for e in by_endpoint.get(endpoint, ()) if wanted & set(e.request.params())]
        if holding:
            event = max(holding, key=event_order)
            snapshot = Snapshot(request=event.key, received_at=event.received_at, address=event.address)
            finding = msgspec.structs.replace(finding, snapshot=snapshot)
        findings.append(finding)
    return msgspec.structs.replace(report, findings=tuple(findings))


# --- the one query layer --------------------------------------------------------------------------------

def _rows(snapshot: Mapping[str, Sequence[tuple[object, ...]]], name: str) -> list[dict[str, object]]:
    spec: TableSpec = next(s for s in _TABLES if s.name == name)
    return [dict(zip(spec.columns, values, strict=True)) for values in snapshot.get(name, ())]


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def read_rounds(conn: Conn, season: int | None = None) -> list[Round]:
    """The rounds of ``season`` (every season: None) as typed rows, read in one read-only snapshot."""
    outermost = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    try:
        with conn.transaction():
            if outermost:
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = racing_snapshot(conn)
    except psycopg.errors.UndefinedTable as error:
        raise NotMigrated(f"the database lacks the racing tables ({error.diag.message_primary}): "
                          "run `ingest db migrate`") from error
    return rounds_of(snapshot, season)


def rounds_of(snapshot: Mapping[str, Sequence[tuple[object, ...]]], season: int | None) -> list[Round]:
    """Typed rounds from :func:`ingestion.replay.racing_snapshot`'s rows (pure)."""
    years = {s["id"]: s["year"] for s in _rows(snapshot, "seasons")}
    rounds = {
        r["id"]: r for r in _rows(snapshot, "rounds")
        if season is None or years.get(r["season_id"]) == season
    }
    drivers = {d["id"]: d for d in _rows(snapshot, "drivers")}
    entrants = {e["id"]: e for e in _rows(snapshot, "entrants") if e["round_id"] in rounds}
    sessions = {s["id"]: s for s in _rows(snapshot, "sessions") if s["round_id"] in rounds}
    results: dict[object, list[dict[str, object]]] = defaultdict(list)
    numbers: dict[object, int] = {}  # entrant id -> the car number of any of its rows in the round
    for x in _rows(snapshot, "results"):
        if x["session_id"] in sessions and x["entrant_id"] in entrants:
            results[x["session_id"]].append(x)
            number = _int_or_none(x["car_number"])
            if number is not None:
                numbers.setdefault(x["entrant_id"], number)

    def who(entrant_id: object) -> tuple[str, str, int | None]:
        driver = drivers[entrants[entrant_id]["driver_id"]]
        name = f"{driver['first_name']} {driver['last_name']}".strip()
        fallback = _int_or_none(driver["driver_number"])
        return name, str(driver["slug"]), numbers.get(entrant_id, fallback)

    by_round: dict[object, list[Session]] = defaultdict(list)
    for sid, s in sessions.items():
        rows = []
        for x in results.get(sid, ()):
            name, slug, number = who(x["entrant_id"])
            rows.append(
                Row(
                    driver=name, slug=slug,
                    number=_int_or_none(x["car_number"]) if x["car_number"] is not None else number,
                    position=_int_or_none(x["position"]), status=int(str(x["status"])),
                    points=_float_or_none(x["points"]), laps=_int_or_none(x["laps"]),
                    grid=_int_or_none(x["grid_position"]),
                )
            )
        rows.sort(key=lambda r: (r.position is None, r.position or 0, r.number or 0, r.slug))
        start = s["start_time_utc"]
        assert isinstance(start, datetime)
        by_round[s["round_id"]].append(
            Session(
                key=_int_or_none(s["open_f1_session_key"]), type=int(str(s["type"])),
                completed=s["status"] == SessionStatus.Completed, start=start, rows=tuple(rows),
            )
        )
    regulars: dict[object, dict[str, Entrant]] = defaultdict(dict)
    for eid, e in entrants.items():
        if e["role"] == DriverRole.Regular:
            name, slug, number = who(eid)
            regulars[e["round_id"]].setdefault(slug, Entrant(driver=name, slug=slug, number=number))
    out: list[Round] = []
    for rid, r in rounds.items():
        out.append(
            Round(
                season=int(str(years.get(r["season_id"], 0))),
                number=int(str(r["round_number"])),
                name=str(r["name"]),
                meeting_key=_int_or_none(r["open_f1_meeting_key"]),
                sessions=tuple(sorted(by_round.get(rid, ()), key=lambda s: (s.start, s.key or 0))),
                entrants=tuple(sorted(regulars.get(rid, {}).values(), key=lambda e: (e.number or 0, e.slug))),
            )
        )
    return sorted(out, key=lambda r: (r.season, r.number, r.name))


def check_database(
    conn: Conn, season: int | None = None, base_url: str = PUBLIC_BASE_URL, *, store: Store | None = None
) -> CheckReport:
    """Read the rounds of ``season`` (all: None) and check them; with a ``store``, name each finding's
    snapshot (the store's latest answers; a store folder that does not exist names none)."""
    report = check(read_rounds(conn, season), base_url)
    if store is not None and store.root.is_dir():
        report = with_snapshots(report, store.latest())
    return report


# --- output ---------------------------------------------------------------------------------------------

def _scope(report: CheckReport) -> str:
    if not report.seasons:
        return "(no round in the database)"
    seasons = ", ".join(str(y) for y in report.seasons)
    return f"{seasons}: {report.rounds} rounds, {report.sessions} classified sessions"


def render_check(report: CheckReport) -> list[str]:
    """The report as plain lines: findings grouped by kind, each with its request; a summary line last."""
    lines: list[str] = []
    for kind, count in report.counts().items():
        lines.append(f"{kind}: {KINDS[kind]} ({count})")
        for f in (f for f in report.findings if f.kind == kind):
            who = f" #{f.driver_number} {f.driver}" if f.driver else ""
            key = f" {f.session_key}" if f.session_key is not None else ""
            lines.append(f"  {f.season} R{f.round} {f.round_name}, {f.session}{key}{who}")
            lines.append(f"      expected  {f.expected}")
            lines.append(f"      OpenF1    {f.openf1}")
            lines.append(f"      request   {f.request}")
            if f.snapshot is not None:
                when = f.snapshot.received_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                lines.append(f"      snapshot  {f.snapshot.request} received {when}")
    lines.append(summary_line(report))
    return lines


def summary_line(report: CheckReport) -> str:
    """``check 2023: 23 rounds, 56 classified sessions: 23 finding(s): points_missing 10, ...``."""
    if report.ok:
        return f"check {_scope(report)}: no finding"
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts().items())
    return f"check {_scope(report)}: {len(report.findings)} finding(s): {counts}"


def finding_cells(finding: Finding) -> list[str]:
    """One finding as table cells: round, session, driver, expected, OpenF1, request, snapshot."""
    key = f" {finding.session_key}" if finding.session_key is not None else ""
    who = f"#{finding.driver_number} {finding.driver}" if finding.driver else "-"
    snapshot = finding.snapshot.request if finding.snapshot is not None else "-"
    return [
        f"{finding.season} R{finding.round} {finding.round_name}", f"{finding.session}{key}", who,
        finding.expected, finding.openf1, finding.request, snapshot,
    ]


def report_json(report: CheckReport) -> dict[str, object]:
    """The report as JSON-ready builtins: ok, seasons, rounds, sessions, counts per kind, findings."""
    return {
        "ok": report.ok,
        "seasons": list(report.seasons),
        "rounds": report.rounds,
        "sessions": report.sessions,
        "counts": report.counts(),
        "findings": msgspec.to_builtins(report.findings),
    }
