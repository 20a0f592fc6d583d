"""The regulation rules (pure): every finding of a round's classified sessions, against
:mod:`ingestion.regulations` for the season and against the round's own entrants and grid."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from ingestion.calendar import GRID_FROM, RACES, SessionType
from ingestion.ops.check.evidence import PUBLIC_BASE_URL, openf1_request
from ingestion.ops.check.model import CheckReport, Entrant, Finding, Round, Row, Session
from ingestion.regulations import Scale, race_scales, sprint_scales
from ingestion.replay.rows import ResultStatus

__all__ = ["CLASSIFIED_SESSIONS", "check"]

CLASSIFIED_SESSIONS = (
    SessionType.Qualifying, SessionType.SprintQualifying, SessionType.Sprint, SessionType.Race,
)
#: The sporting regulations classify a car that covered at least 90% of the winner's laps.
CLASSIFIED_SHARE = 0.9


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
