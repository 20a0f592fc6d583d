"""OpenF1 against f1db, field by field (pure): for every classified session both sources have, each field
where they disagree, with both sides' evidence; and f1db's codes that explain a regulation finding.

The sessions are matched as replay matches them (docs/f1db.md, ``../shared/f1db/README.md``): a round by
its year and the day of OpenF1's Race session (UTC or local), a row by the car number in that session. A
session only one source has (f1db has not published it yet; a round OpenF1 never had) is no disagreement.
f1db follows the FIA's classification, so f1db is presumed right: each :class:`Disagreement` is a line of
a report to OpenF1 (and to f1db where OpenF1 is right after all).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, time

import msgspec

from ingestion.calendar import GRID_FROM, RACES, SessionType
from ingestion.f1db.archive import DATA_PREFIX
from ingestion.f1db.decode import Classified, Decoded
from ingestion.ops.check.evidence import PUBLIC_BASE_URL, openf1_request
from ingestion.ops.check.model import CheckReport, Disagreement, Finding
from ingestion.ops.check.rules import CLASSIFIED_SESSIONS
from ingestion.replay.f1db import (
    SESSION_FILES,
    OpenF1Links,
    RaceFiles,
    Release,
    parse_millis,
    result_status,
    session_starts,
)
from ingestion.replay.rows import Racing, ResultRow, ResultStatus, SessionRow

__all__ = ["Codes", "compare_sources", "explain", "f1db_codes"]

#: (OpenF1 session key, car number) -> f1db's (position or code, grid position or ``PL``) of that car.
Codes = dict[tuple[int, int], tuple[str, str | None]]

_FILE_OF = {kind: name for name, kind in SESSION_FILES.items()}


def _status_name(status: int) -> str:
    try:
        return ResultStatus(status).name
    except ValueError:
        return f"status {status}"


def _session_name(kind: int) -> str:
    try:
        return SessionType(kind).name
    except ValueError:
        return f"type {kind}"


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _points(value: float | None) -> str:
    value = value or 0.0
    return str(int(value)) if value == int(value) else str(value)


class _Side:
    """One matched session: OpenF1's rows and f1db's, and what every disagreement of it shares."""

    def __init__(
        self, season: int, rnd: str, number: int, meeting_key: int | None, session: SessionRow,
        grid_key: int | None, path: str, release: str, base_url: str,
    ) -> None:
        self.season, self.round_name, self.round, self.meeting_key = season, rnd, number, meeting_key
        self.session, self.grid_key, self.path, self.release, self.base_url = (
            session, grid_key, path, release, base_url,
        )
        self.out: list[Disagreement] = []

    def add(
        self, field: str, openf1: str, f1db: str, *, number: int | None = None, driver: str | None = None,
        row: int | None = None, endpoint: str = "session_result", path: str | None = None,
    ) -> None:
        key = self.grid_key if endpoint == "starting_grid" else self.session.open_f1_session_key
        self.out.append(
            Disagreement(
                field=field, season=self.season, round=self.round, round_name=self.round_name,
                session=_session_name(self.session.type), session_key=self.session.open_f1_session_key,
                driver=driver, driver_number=number, openf1=openf1, f1db=f1db,
                request=openf1_request(endpoint, self.base_url, session_key=key, driver_number=number),
                f1db_file=DATA_PREFIX + (path or self.path), f1db_row=row, release=self.release,
                meeting_key=self.meeting_key,
            )
        )


#: In qualifying, OpenF1's DNF (no time set) is f1db's NC: one reading, two words.
_QUALIFYING_NO_TIME = {"DNF": "NC"}


def _openf1_code(row: ResultRow, kind: SessionType) -> str:
    if row.position is not None:
        return "classified"
    code = _status_name(row.status)
    return _QUALIFYING_NO_TIME.get(code, code) if kind not in RACES else code


def _f1db_code(row: Classified) -> str:
    position, status, _ = result_status(row.position)
    return "classified" if position is not None else status.name


def _openf1_status(row: ResultRow) -> str:
    if row.position is not None:
        flag = f" ({_status_name(row.status)})" if row.status != ResultStatus.Finished else ""
        return f"classified P{row.position}{flag}"
    if row.status == ResultStatus.NC:
        return "NC (no position and no dnf/dns/dsq flag)"
    return _status_name(row.status)


def _f1db_status(row: Classified) -> str:
    return f"classified P{row.position}" if row.position.isdigit() else row.position


def _grid_text(value: int | None) -> str:
    return str(value) if value is not None else "none (no starting_grid row)"


def _compare_rows(side: _Side, kind: SessionType, mine: ResultRow, theirs: Classified, index: int,
                  driver: str | None, has_grid: bool) -> None:
    number = _number(mine.car_number)

    def put(field: str, openf1: str, f1db: str, endpoint: str = "session_result") -> None:
        side.add(field, openf1, f1db, number=number, driver=driver, row=index, endpoint=endpoint)

    position = _number(theirs.position)
    if mine.position != position:
        put("position", f"P{mine.position}" if mine.position else "none",
            f"P{position}" if position else f"none ({theirs.position})")
    if _openf1_code(mine, kind) != _f1db_code(theirs):
        put("status", _openf1_status(mine), _f1db_status(theirs))
    if kind in RACES and (mine.points or 0.0) != (theirs.points or 0.0):
        put("points", _points(mine.points), _points(theirs.points))
    grid = theirs.grid_position
    pit_lane = grid == "PL"  # OpenF1's starting_grid has no word for it: no row, or a back-row slot
    if kind in RACES and has_grid and grid is not None and (pit_lane or mine.grid_position != _number(grid)):
        said = "PL (pit lane)" if grid == "PL" else grid
        put("grid", _grid_text(mine.grid_position), said, "starting_grid")
    if mine.laps is not None and theirs.laps is not None and mine.laps != theirs.laps:
        put("laps", str(mine.laps), str(theirs.laps))
    if kind in (SessionType.Qualifying, SessionType.SprintQualifying):
        for name, ours, fias in (("q1", mine.q1_time, theirs.q1), ("q2", mine.q2_time, theirs.q2),
                                 ("q3", mine.q3_time, theirs.q3)):
            a, b = parse_millis(ours), parse_millis(fias)
            if a is not None and b is not None and a != b:  # comparable: both timed
                put(name, str(ours), str(fias))


def _row_order(row: ResultRow) -> tuple[bool, int, int]:
    return row.position is None, row.position or 0, _number(row.car_number) or 0


def _by_number(rows: Iterable[Classified]) -> dict[int, tuple[int, Classified]]:
    """f1db's rows by car number, each with its 1-based row in the file (a car twice: its first row)."""
    out: dict[int, tuple[int, Classified]] = {}
    for index, row in enumerate(rows, 1):
        number = _number(row.driver_number)
        if number is not None:
            out.setdefault(number, (index, row))
    return out


class _Matched:
    """OpenF1's rounds matched to f1db's races, and OpenF1's rows by session."""

    def __init__(self, racing: Racing, links: OpenF1Links, files: Mapping[str, Decoded]) -> None:
        self.release = Release.of(files)
        by_day: dict[tuple[int, date], uuid.UUID] = {}
        for round_id, (year, days) in links.rounds.items():
            for day in days:
                by_day[(year, day)] = round_id
        self.races: dict[uuid.UUID, RaceFiles] = {}
        for rf in self.release.races:
            matched = by_day.get((rf.year, rf.race.date))
            if matched is not None:
                self.races[matched] = rf
        self.rounds = {r.id: r for r in racing.rounds}
        self.years = {s.id: s.year for s in racing.seasons}
        self.sessions: dict[uuid.UUID, list[SessionRow]] = {}
        for s in racing.sessions:
            self.sessions.setdefault(s.round_id, []).append(s)
        self.results: dict[uuid.UUID, list[ResultRow]] = {}
        for r in racing.results:
            self.results.setdefault(r.session_id, []).append(r)
        drivers = {d.id: f"{d.first_name} {d.last_name}".strip() for d in racing.drivers}
        self.driver = {e.id: drivers.get(e.driver_id) for e in racing.entrants}

    def pairs(self, season: int | None) -> Iterable[tuple[int, uuid.UUID, RaceFiles, SessionRow, str]]:
        """(year, round id, f1db race, OpenF1 session, f1db file name) of every classified session of a
        matched round whose f1db file is in the release."""
        for round_id, rf in sorted(self.races.items(), key=lambda p: (p[1].year, p[1].race.date)):
            if round_id not in self.rounds or (season is not None and rf.year != season):
                continue
            for session in sorted(self.sessions.get(round_id, []), key=lambda s: s.start_time_utc):
                kind = SessionType(session.type) if session.type in set(SessionType) else None
                if kind not in CLASSIFIED_SESSIONS or kind is None:
                    continue
                name = _FILE_OF[kind]
                if rf.sessions.get(name):  # f1db has it: both sources do
                    yield rf.year, round_id, rf, session, name

    def grid_key(self, round_id: uuid.UUID, kind: SessionType) -> int | None:
        source = GRID_FROM.get(kind)
        keyed = [s for s in self.sessions.get(round_id, []) if s.type == source and s.open_f1_session_key]
        return max(keyed, key=lambda s: s.start_time_utc).open_f1_session_key if keyed else None


def compare_sources(
    racing: Racing,
    links: OpenF1Links,
    files: Mapping[str, Decoded],
    release: str,
    season: int | None = None,
    base_url: str = PUBLIC_BASE_URL,
) -> tuple[Disagreement, ...]:
    """Every disagreement of OpenF1's ``racing`` (replayed without f1db; ``links`` from the same replay)
    with the f1db ``release``'s ``files`` (decoded, paths below ``src/data/``), in round, session, field
    order; of ``season`` only when given. Pure."""
    matched = _Matched(racing, links, files)
    out: list[Disagreement] = []
    for year, round_id, rf, session, name in matched.pairs(season):
        rnd = matched.rounds[round_id]
        kind = SessionType(session.type)
        folder = f"seasons/{rf.year}/races/{rf.folder}"
        side = _Side(year, rnd.name, rnd.round_number, rnd.open_f1_meeting_key, session,
                     matched.grid_key(round_id, kind), f"{folder}/{name}", release, base_url)
        start = session_starts(rf.race).get(kind)
        if start is not None and start != session.start_time_utc:
            known = start.time() != time(0)  # a session f1db gives no time for: its day only, and before
            apart = abs((start.date() - session.start_time_utc.date()).days)  # 2024 the local day
            if known or apart > 1:
                side.add("start", f"{session.start_time_utc:%Y-%m-%d %H:%M}",
                         f"{start:%Y-%m-%d %H:%M}" if known else f"{start:%Y-%m-%d}",
                         endpoint="sessions", path=f"{folder}/race.yml")
        theirs = _by_number(rf.sessions[name])
        mine = matched.results.get(session.id, [])
        if not mine:
            side.add("rows", "no row", f"{len(theirs)} rows")
            out.extend(side.out)
            continue
        has_grid = any(r.grid_position is not None for r in mine)
        seen: set[int] = set()
        for row in sorted(mine, key=_row_order):
            number = _number(row.car_number)
            driver = matched.driver.get(row.entrant_id)
            if number is None:
                continue
            seen.add(number)
            if number not in theirs:
                side.add("row", _openf1_status(row), "no row", number=number, driver=driver)
                continue
            index, classified = theirs[number]
            _compare_rows(side, kind, row, classified, index, driver, has_grid)
        for number, (index, classified) in sorted(theirs.items(), key=lambda p: p[1][0]):
            if number not in seen:
                who = matched.release.drivers.get(classified.driver_id)
                side.add("row", "no row", _f1db_status(classified), number=number,
                         driver=who.name if who is not None else classified.driver_id, row=index)
        out.extend(side.out)
    return tuple(out)


def f1db_codes(racing: Racing, links: OpenF1Links, files: Mapping[str, Decoded]) -> Codes:
    """f1db's position (or code) and grid of every car of every OpenF1 session f1db has (pure)."""
    matched = _Matched(racing, links, files)
    out: Codes = {}
    for _, _, rf, session, name in matched.pairs(None):
        if session.open_f1_session_key is None:
            continue
        for number, (_, row) in _by_number(rf.sessions[name]).items():
            out[(session.open_f1_session_key, number)] = (row.position, row.grid_position)
    return out


def _explained(finding: Finding, codes: Codes) -> bool:
    if finding.session_key is None or finding.driver_number is None:
        return False
    position, grid = codes.get((finding.session_key, finding.driver_number), (None, None))
    if finding.kind == "starter_without_grid":
        return grid == "PL"  # a pit-lane start: starting_grid cannot say it
    if finding.kind == "unflagged_unclassified":
        return position == "NC"  # not classified: what OpenF1's row says, without a flag to say it
    return False


def explain(report: CheckReport, codes: Codes) -> CheckReport:
    """The report with the regulation findings f1db's codes explain (pit-lane starts, cars f1db
    classifies NC) moved from ``findings`` to ``explained``. Pure."""
    kept = tuple(f for f in report.findings if not _explained(f, codes))
    gone = tuple(f for f in report.findings if _explained(f, codes))
    return msgspec.structs.replace(report, findings=kept, explained=(*report.explained, *gone))
