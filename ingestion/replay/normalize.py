"""From snapshots to racing rows: PURE (no I/O, no clock: ``as_of`` is an argument).

``normalize(snapshots, as_of, results)`` decodes every snapshot, keeps the latest version of each request,
unions the rows of different requests of one endpoint (the same natural key in two snapshots: the later
event wins), then applies the rules of docs/replay.md, each learned from real OpenF1 data. Whatever it
cannot use becomes a :class:`~ingestion.replay.rows.Warning`, never an exception.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple, TypeVar

import msgspec

from ingestion.openf1.wire import Driver, Meeting, Session, SessionResult, StartingGrid
from ingestion.replay.decode import decode_rows
from ingestion.replay.identity import (
    Sighting,
    assign_identities,
    clean_text,
    make_id,
    name_tokens,
    names_agree,
    slugify,
    unique_slugs,
)
from ingestion.replay.rows import (
    CircuitRow,
    DriverAliasRow,
    DriverRole,
    DriverRow,
    EntrantRow,
    Racing,
    Replayed,
    ResultRow,
    ResultStatus,
    RoundRow,
    SeasonRow,
    SeriesRow,
    SessionRow,
    SessionStatus,
    SessionType,
    TeamRow,
    Warning,
)
from ingestion.store.model import Event

__all__ = ["SESSION_TYPES", "Decoded", "Snapshot", "decode_snapshots", "normalize", "normalize_decoded"]

S = TypeVar("S", bound=msgspec.Struct)

SERIES_SLUG = "formula-1"
SERIES_NAME = "Formula 1"
ALIAS_SOURCE = "openf1"

#: ``session_name`` (case-folded) to session type. Anything else is skipped with a warning, never guessed.
SESSION_TYPES: dict[str, SessionType] = {
    "practice 1": SessionType.FP1,
    "practice 2": SessionType.FP2,
    "practice 3": SessionType.FP3,
    "day 1": SessionType.FP1,  # testing days (2025+)
    "day 2": SessionType.FP2,
    "day 3": SessionType.FP3,
    "qualifying": SessionType.Qualifying,
    "sprint qualifying": SessionType.SprintQualifying,
    "sprint shootout": SessionType.SprintQualifying,  # 2023's name
    "sprint": SessionType.Sprint,
    "race": SessionType.Race,
}
PRACTICE = frozenset({SessionType.FP1, SessionType.FP2, SessionType.FP3})
QUALIFYING = frozenset({SessionType.Qualifying, SessionType.SprintQualifying})
RACES = frozenset({SessionType.Race, SessionType.Sprint})
#: The session whose starting grid (filed by OpenF1 under the qualifying session) a race starts from.
GRID_FROM = {SessionType.Race: SessionType.Qualifying, SessionType.Sprint: SessionType.SprintQualifying}

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
MAX_SECONDS = 10 * 24 * 3600.0  # a timing longer than this is not a timing
_LAPS = re.compile(r"^\+?\s*(\d+)\s*LAPS?$", re.IGNORECASE)
_HEX = re.compile(r"^[0-9A-F]{6}$")
_OFFSET = re.compile(r"^([+-])?(\d{1,2}):(\d{2})(?::(\d{2}))?$")

# Warning kinds.
MEETING_CANCELLED = "meeting_cancelled"
MEETING_INCOMPLETE = "meeting_incomplete"
SESSION_UNKNOWN_NAME = "session_unknown_name"
SESSION_INCOMPLETE = "session_incomplete"
SESSION_WITHOUT_MEETING = "session_without_meeting"
DRIVER_WITHOUT_TEAM = "driver_without_team"
DRIVER_NAME_MISMATCH = "driver_name_mismatch"
DRIVER_WITHOUT_NAME = "driver_without_name"
ROW_OUT_OF_RANGE = "row_out_of_range"
RESULT_WITHOUT_ENTRANT = "result_without_entrant"
RESULT_DUPLICATE = "result_duplicate"


class Snapshot(NamedTuple):
    """One stored answer: its event (what was asked, when) and its body."""

    event: Event
    body: bytes


class _Origin(NamedTuple):
    request: str
    address: str
    row: int


def _event_order(event: Event) -> tuple[datetime, str, int]:
    return (event.received_at, event.run, event.seq)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _int4(value: int | None) -> int | None:
    return value if value is not None and INT4_MIN <= value <= INT4_MAX else None


def _fullness(row: msgspec.Struct) -> int:
    return sum(1 for field in row.__struct_fields__ if getattr(row, field) is not None)


def _fullest(rows: Iterable[S], prefer: Callable[[S], int] | None = None) -> S:
    """The row with the most fields set; ties broken by ``prefer`` then by the row's bytes (deterministic)."""
    return min(
        rows,
        key=lambda r: (-_fullness(r), -(prefer(r) if prefer else 0), msgspec.json.encode(r)),
    )


# --- stage 1: decode, latest version per request, union per endpoint -------------------------------------


class _Decoded(msgspec.Struct):
    """Rows per natural key, each with where it came from (the winning snapshot's rows only)."""

    meetings: dict[int, list[tuple[Meeting, _Origin]]]
    sessions: dict[int, list[tuple[Session, _Origin]]]
    drivers: dict[tuple[int, int], list[tuple[Driver, _Origin]]]
    results: dict[tuple[int, int], list[tuple[SessionResult, _Origin]]]
    grid: dict[tuple[int, int], list[tuple[StartingGrid, _Origin]]]


def _in_range(*values: int) -> bool:
    return all(INT4_MIN <= v <= INT4_MAX for v in values)


def decode_snapshots(snapshots: Sequence[Snapshot], results: bool) -> tuple[Decoded, list[Warning]]:
    """Decode the latest version of each request and union the rows per endpoint (later event wins)."""
    warnings: list[Warning] = []
    return _decode_all(snapshots, results, warnings), warnings


def _decode_all(snapshots: Sequence[Snapshot], results: bool, warnings: list[Warning]) -> _Decoded:
    latest: dict[str, Snapshot] = {}
    for snap in snapshots:
        known = latest.get(snap.event.key)
        if known is None or _event_order(snap.event) >= _event_order(known.event):
            latest[snap.event.key] = snap
    decoded = _Decoded({}, {}, {}, {}, {})
    for snap in sorted(latest.values(), key=lambda s: _event_order(s.event)):  # oldest first: later replaces
        event = snap.event
        endpoint = event.endpoint
        if endpoint in ("session_result", "starting_grid") and not results:
            continue
        target: dict[object, list[tuple[object, _Origin]]]
        key_of: Callable[[object], object]
        row_type: type[msgspec.Struct]
        if endpoint == "meetings":
            row_type, target = Meeting, decoded.meetings  # type: ignore[assignment]
            key_of = lambda r: r.meeting_key  # type: ignore[attr-defined]  # noqa: E731
        elif endpoint == "sessions":
            row_type, target = Session, decoded.sessions  # type: ignore[assignment]
            key_of = lambda r: r.session_key  # type: ignore[attr-defined]  # noqa: E731
        elif endpoint in ("drivers", "session_result", "starting_grid"):
            row_types: dict[str, type[msgspec.Struct]] = {
                "drivers": Driver,
                "session_result": SessionResult,
                "starting_grid": StartingGrid,
            }
            row_type = row_types[endpoint]
            target = {  # type: ignore[assignment]
                "drivers": decoded.drivers,
                "session_result": decoded.results,
                "starting_grid": decoded.grid,
            }[endpoint]
            key_of = lambda r: (r.session_key, r.driver_number)  # type: ignore[attr-defined]  # noqa: E731
        else:
            continue  # endpoints replay does not read
        rows, problems = decode_rows(
            row_type, snap.body, status=event.status, request=event.key, address=event.address
        )
        warnings.extend(problems)
        fresh: dict[object, list[tuple[object, _Origin]]] = defaultdict(list)
        for index, row in enumerate(rows):
            origin = _Origin(event.key, event.address, index)
            ints = [
                getattr(row, f) for f in ("meeting_key", "session_key", "driver_number") if hasattr(row, f)
            ]
            if not _in_range(*ints):
                warnings.append(
                    Warning(
                        kind=ROW_OUT_OF_RANGE,
                        message=f"{row_type.__name__} row {index} skipped: a key is out of range",
                        request=event.key,
                        address=event.address,
                        row=index,
                    )
                )
                continue
            fresh[key_of(row)].append((row, origin))
        target.update(fresh)
    return decoded


Decoded = _Decoded


def _pick(entries: list[tuple[S, _Origin]]) -> tuple[S, _Origin]:
    row = _fullest(r for r, _ in entries)
    return next((r, o) for r, o in entries if r is row)


# --- dates ---------------------------------------------------------------------------------------------


def _offset(text: str | None) -> timedelta:
    """``03:00:00`` / ``-05:00:00`` as a timedelta (zero when absent or unreadable)."""
    match = _OFFSET.match((text or "").strip())
    if not match:
        return timedelta(0)
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes, seconds = int(match.group(2)), int(match.group(3)), int(match.group(4) or 0)
    if hours > 14 or minutes > 59 or seconds > 59:
        return timedelta(0)
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _local_date(moment: datetime, gmt_offset: str | None) -> date:
    """The calendar day at the circuit (UTC shifted by OpenF1's ``gmt_offset``)."""
    try:
        return (moment + _offset(gmt_offset)).date()
    except OverflowError:
        return moment.date()


# --- the rules -----------------------------------------------------------------------------------------


class _Round(NamedTuple):
    meeting: Meeting
    year: int
    name: str
    circuit_key: int
    circuit_name: str
    location: str
    country: str
    date_start: date
    date_end: date
    testing: bool


class _Session(NamedTuple):
    session: Session
    type: SessionType
    start: datetime
    end: datetime | None


class _Candidate(NamedTuple):
    """A driver row that passed the feeder checks, with who it is."""

    row: Driver
    origin: _Origin
    session_key: int
    meeting_key: int
    when: datetime
    first: str
    last: str
    acronym: str | None
    team_name: str
    team_slug: str
    identity: str


def _is_testing(name: str) -> bool:
    return bool({"testing", "test"} & set(name_tokens(name)))


def _colour(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip().lstrip("#").upper()
    return value if _HEX.match(value) else None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not (0.0 <= seconds < MAX_SECONDS):  # also rejects NaN
        return None
    return seconds


def _millis(seconds: float) -> int:
    return round(seconds * 1000)


def lap_time(millis: int) -> str:
    """A lap time as the app shows it: ``1:29.708`` (``59.123`` under a minute)."""
    minutes, rest = divmod(millis, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{minutes}:{secs:02d}.{ms:03d}" if minutes else f"{secs}.{ms:03d}"


def _laps_detail(gap: object) -> str | None:
    """``+1 LAP`` -> ``+1 Lap``, ``+2 LAPS`` -> ``+2 Laps``; anything else None."""
    if not isinstance(gap, str):
        return None
    match = _LAPS.match(gap.strip())
    if not match:
        return None
    n = int(match.group(1))
    return f"+{n} Lap" if n == 1 else f"+{n} Laps"


def _status(result: SessionResult) -> ResultStatus:
    if result.dsq:
        return ResultStatus.DSQ
    if result.dns:
        return ResultStatus.DNS
    if result.dnf:
        return ResultStatus.DNF
    if result.position is None:
        return ResultStatus.NC
    return ResultStatus.Finished


class _Rules:
    def __init__(self, decoded: _Decoded, as_of: datetime, results: bool, warnings: list[Warning]) -> None:
        self.d = decoded
        self.as_of = as_of
        self.results = results
        self.w = warnings

    def warn(self, kind: str, message: str, origin: _Origin | None = None) -> None:
        if origin is None:
            self.w.append(Warning(kind=kind, message=message))
        else:
            self.w.append(
                Warning(
                    kind=kind, message=message, request=origin.request, address=origin.address, row=origin.row
                )
            )

    # sessions first (rounds take their dates from them) ----------------------------------------------
    def sessions(self) -> dict[int, _Session]:
        out: dict[int, _Session] = {}
        for key in sorted(self.d.sessions):
            session, origin = _pick(self.d.sessions[key])
            name = clean_text(session.session_name)
            kind = SESSION_TYPES.get(name.casefold()) if name else None
            if kind is None:
                self.warn(
                    SESSION_UNKNOWN_NAME,
                    f"session {key}: unknown session_name {session.session_name!r}, skipped (never guessed)",
                    origin,
                )
                continue
            start = _utc(session.date_start)
            if start is None:
                self.warn(SESSION_INCOMPLETE, f"session {key}: no date_start, skipped", origin)
                continue
            end = _utc(session.date_end)
            if end is not None and end < start:
                end = None
            out[key] = _Session(session, kind, start, end)
        return out

    def rounds(self, sessions: dict[int, _Session]) -> dict[int, _Round]:
        by_meeting: dict[int, list[_Session]] = defaultdict(list)
        for s in sessions.values():
            by_meeting[s.session.meeting_key].append(s)
        out: dict[int, _Round] = {}
        for key in sorted(self.d.meetings):
            meeting, origin = _pick(self.d.meetings[key])
            name = clean_text(meeting.meeting_name)
            if meeting.is_cancelled:
                self.warn(MEETING_CANCELLED, f"meeting {key} ({name}) is cancelled: not a round", origin)
                continue
            circuit_name = clean_text(meeting.circuit_short_name) or clean_text(meeting.location)
            location = clean_text(meeting.location) or circuit_name
            country = clean_text(meeting.country_name)
            missing = [
                label
                for label, value in (
                    ("meeting_name", name),
                    ("circuit_key", _int4(meeting.circuit_key)),
                    ("circuit_short_name", circuit_name),
                    ("country_name", country),
                )
                if value is None
            ]
            mine = by_meeting.get(key, [])
            starts = [_local_date(s.start, s.session.gmt_offset or meeting.gmt_offset) for s in mine]
            ends = [_local_date(s.end or s.start, s.session.gmt_offset or meeting.gmt_offset) for s in mine]
            m_start, m_end = _utc(meeting.date_start), _utc(meeting.date_end)
            if not starts and m_start is not None:
                starts = [_local_date(m_start, meeting.gmt_offset)]
                ends = [_local_date(m_end or m_start, meeting.gmt_offset)]
            if not starts:
                missing.append("dates")
            year = meeting.year if meeting.year is not None and 1900 <= meeting.year <= 2200 else None
            if year is None and starts:
                year = min(starts).year
            if year is None or not 1900 <= year <= 2200:
                missing.append("year")
            if missing:
                self.warn(MEETING_INCOMPLETE, f"meeting {key}: no {', '.join(missing)}, skipped", origin)
                continue
            assert name and circuit_name and location and country and meeting.circuit_key is not None
            assert year is not None
            out[key] = _Round(
                meeting,
                year,
                name,
                meeting.circuit_key,
                circuit_name,
                location,
                country,
                min(starts),
                max(max(ends), min(starts)),
                _is_testing(name),
            )
        return out

    # drivers -----------------------------------------------------------------------------------------
    def candidates(self, sessions: dict[int, _Session]) -> dict[tuple[int, int], _Candidate]:
        """One driver row per (session, number): feeder rows skipped, duplicates resolved to the fullest."""
        valid: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
        pending: list[tuple[Driver, _Origin, _Session, str, str, str | None, str, str]] = []
        for key in sorted(self.d.drivers):
            session = sessions.get(key[0])
            if session is None:
                continue  # the session itself was skipped (with its own warning) or is not in the snapshots
            for row, origin in self.d.drivers[key]:
                team = clean_text(row.team_name)
                team_slug = slugify(team) if team else ""
                first, last = clean_text(row.first_name), clean_text(row.last_name)
                who = clean_text(row.full_name) or clean_text(row.broadcast_name) or f"#{row.driver_number}"
                if not team or not team_slug:
                    self.warn(
                        DRIVER_WITHOUT_TEAM,
                        f"session {key[0]}: {who} (#{row.driver_number}) has no team: "
                        "feeder-series row skipped",
                        origin,
                    )
                    continue
                if not first or not last or not slugify(last):
                    self.warn(
                        DRIVER_WITHOUT_NAME, f"session {key[0]}: #{row.driver_number} has no name", origin
                    )
                    continue
                full = clean_text(row.full_name)
                if full is not None and not names_agree(full, first, last):
                    self.warn(
                        DRIVER_NAME_MISMATCH,
                        f"session {key[0]}: full name {full!r} is not {first} {last} "
                        f"(#{row.driver_number}, {team}): feeder-series row skipped",
                        origin,
                    )
                    continue
                acronym = clean_text(row.name_acronym)
                pending.append((row, origin, session, first, last, acronym, team, team_slug))
        # Identity: who each row is (never by number; see identity.assign_identities)
        identities = assign_identities(
            [
                Sighting(first, last, acronym, session.session.session_key, session.start)
                for _, _, session, first, last, acronym, _, _ in pending
            ]
        )
        for (row, origin, session, first, last, acronym, team, team_slug), identity in zip(
            pending, identities, strict=True
        ):
            key = (session.session.session_key, row.driver_number)
            valid[key].append(
                _Candidate(
                    row,
                    origin,
                    key[0],
                    session.session.meeting_key,
                    session.start,
                    first,
                    last,
                    acronym,
                    team,
                    team_slug,
                    identity,
                )
            )
        # Duplicates: the fullest row; then the team the driver has most in that meeting; then the bytes.
        teams_in_meeting: Counter[tuple[int, str, str]] = Counter(
            (c.meeting_key, c.identity, c.team_slug) for cs in valid.values() for c in cs
        )
        out: dict[tuple[int, int], _Candidate] = {}
        for key, cands in valid.items():
            if len(cands) == 1:
                out[key] = cands[0]
                continue
            support = {id(c.row): teams_in_meeting[(c.meeting_key, c.identity, c.team_slug)] for c in cands}
            best = _fullest((c.row for c in cands), prefer=functools.partial(_support, support))
            out[key] = next(c for c in cands if c.row is best)
        return out


def _support(support: dict[int, int], row: Driver) -> int:
    return support[id(row)]


def normalize(snapshots: Sequence[Snapshot], as_of: datetime, results: bool) -> Replayed:
    """The racing rows and warnings for ``snapshots`` as of ``as_of`` (results only when ``results``)."""
    decoded, warnings = decode_snapshots(snapshots, results)
    return normalize_decoded(decoded, warnings, as_of, results)


def normalize_decoded(
    decoded: Decoded, warnings: Sequence[Warning], as_of: datetime, results: bool
) -> Replayed:
    """The rules applied to decoded rows (:func:`decode_snapshots`); ``warnings`` are carried over first."""
    cutoff = _utc(as_of)
    if cutoff is None:
        raise ValueError(f"as_of is not a usable instant: {as_of!r}")
    warnings = list(warnings)
    rules = _Rules(decoded, cutoff, results, warnings)

    sessions = rules.sessions()
    rounds = rules.rounds(sessions)
    for key, s in list(sessions.items()):
        if s.session.meeting_key not in rounds:
            if s.session.meeting_key not in decoded.meetings:
                rules.warn(
                    SESSION_WITHOUT_MEETING,
                    f"session {key}: meeting {s.session.meeting_key} is not in the snapshots, skipped",
                )
            del sessions[key]
    candidates = rules.candidates(sessions)

    series = SeriesRow(id=make_id("series", SERIES_SLUG), name=SERIES_NAME, slug=SERIES_SLUG)
    seasons = {
        year: SeasonRow(id=make_id("season", year), series_id=series.id, year=year)
        for year in sorted({r.year for r in rounds.values()})
    }

    # circuits: by circuit_key, described by their latest meeting
    latest_meeting: dict[int, _Round] = {}
    for r in sorted(rounds.values(), key=lambda r: (r.date_start, r.meeting.meeting_key)):
        latest_meeting[r.circuit_key] = r
    circuit_keys = sorted(latest_meeting)
    circuit_slugs = unique_slugs(
        [slugify(latest_meeting[k].circuit_name) or f"circuit-{k}" for k in circuit_keys]
    )
    circuits = {
        k: CircuitRow(
            id=make_id("circuit", k),
            name=latest_meeting[k].circuit_name,
            slug=slug,
            location=latest_meeting[k].location,
            country=latest_meeting[k].country,
            country_code=clean_text(latest_meeting[k].meeting.country_code),
            open_f1_circuit_key=k,
        )
        for k, slug in zip(circuit_keys, circuit_slugs, strict=True)
    }

    # rounds: numbered per season in date order (testing 0), slugs unique within a season in date order
    first_start: dict[int, datetime] = {}
    for s in sessions.values():
        mk = s.session.meeting_key
        first_start[mk] = min(first_start.get(mk, s.start), s.start)
    round_rows: dict[int, RoundRow] = {}
    for year in seasons:
        mine = sorted(
            (r for r in rounds.values() if r.year == year),
            key=lambda r: (
                r.date_start,
                first_start.get(r.meeting.meeting_key, datetime.max.replace(tzinfo=UTC)),
                r.meeting.meeting_key,
            ),
        )
        slugs = unique_slugs([f"{year}-{slugify(r.name) or 'meeting'}" for r in mine])
        number = 0
        for r, slug in zip(mine, slugs, strict=True):
            if not r.testing:
                number += 1
            mk = r.meeting.meeting_key
            round_rows[mk] = RoundRow(
                id=make_id("round", mk),
                season_id=seasons[year].id,
                circuit_id=circuits[r.circuit_key].id,
                name=r.name,
                slug=slug,
                round_number=0 if r.testing else number,
                date_start=r.date_start,
                date_end=r.date_end,
                open_f1_meeting_key=mk,
            )

    session_rows: dict[int, SessionRow] = {}
    for key, s in sessions.items():
        if s.session.is_cancelled:
            status = SessionStatus.Cancelled
        elif s.end is not None and cutoff >= s.end:
            status = SessionStatus.Completed
        elif cutoff >= s.start:
            status = SessionStatus.InProgress
        else:
            status = SessionStatus.Scheduled
        session_rows[key] = SessionRow(
            id=make_id("session", key),
            round_id=round_rows[s.session.meeting_key].id,
            type=int(s.type),
            start_time_utc=s.start,
            status=int(status),
            open_f1_session_key=key,
        )

    drivers, aliases = _drivers(candidates)
    teams = _teams(candidates)
    entrants = _entrants(candidates, sessions, rounds, round_rows, drivers, teams)
    results_rows: list[ResultRow] = []
    if results:
        results_rows = _results(rules, sessions, session_rows, candidates, entrants)

    racing = Racing(
        series=(series,),
        seasons=_sorted(seasons.values()),
        circuits=_sorted(circuits.values()),
        rounds=_sorted(round_rows.values()),
        sessions=_sorted(session_rows.values()),
        drivers=_sorted(d for d, _ in drivers.values()),
        teams=_sorted(teams.values()),
        entrants=_sorted(e for e, _ in entrants.values()),
        results=_sorted(results_rows),
        driver_aliases=_sorted(aliases),
    )
    return Replayed(racing=racing, warnings=tuple(warnings))


R = TypeVar("R", bound=msgspec.Struct)


def _sorted(rows: Iterable[R]) -> tuple[R, ...]:
    return tuple(sorted(rows, key=lambda r: getattr(r, "id")))  # noqa: B009


def _display(first: str, last: str) -> str:
    return f"{first} {last}"


def _drivers(
    candidates: dict[tuple[int, int], _Candidate],
) -> tuple[dict[str, tuple[DriverRow, str]], list[DriverAliasRow]]:
    """One row per identity (name, acronym, headshot, number from the latest row) and its aliases."""
    by_identity: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates.values():
        by_identity[c.identity].append(c)
    order = sorted(by_identity, key=lambda i: (min(c.when for c in by_identity[i]), i))
    bases = []
    for identity in order:
        cs = sorted(by_identity[identity], key=lambda c: (c.when, c.session_key, c.row.driver_number))
        by_identity[identity] = cs
        current = cs[-1]
        bases.append(slugify(_display(current.first, current.last)) or f"driver-{slugify(identity) or 'x'}")
    slugs = unique_slugs(bases)
    out: dict[str, tuple[DriverRow, str]] = {}
    aliases: list[DriverAliasRow] = []
    for identity, slug in zip(order, slugs, strict=True):
        cs = by_identity[identity]
        current = cs[-1]
        headshot = next(
            (clean_text(c.row.headshot_url) for c in reversed(cs) if clean_text(c.row.headshot_url)), None
        )
        acronym = next((c.acronym for c in reversed(cs) if c.acronym), None)
        number = current.row.driver_number
        driver_id = make_id("driver", identity)
        out[identity] = (
            DriverRow(
                id=driver_id,
                first_name=current.first,
                last_name=current.last,
                slug=slug,
                abbreviation=acronym,
                headshot_url=headshot,
                driver_number=number,
                open_f1_driver_number=number,
            ),
            identity,
        )
        # aliases: every (name, number) variant merged into this driver, other than the current one
        variants: dict[tuple[str, int], list[_Candidate]] = defaultdict(list)
        for c in cs:
            variants[(slugify(_display(c.first, c.last)) or "alias", c.row.driver_number)].append(c)
        current_slug = slugify(_display(current.first, current.last)) or "alias"
        numbers: dict[str, set[int]] = defaultdict(set)
        for name_slug, num in variants:
            numbers[name_slug].add(num)
        for (name_slug, num), seen in sorted(variants.items()):
            if (name_slug, num) == (current_slug, number):
                continue
            last_seen = seen[-1]
            alias_slug = (
                name_slug
                if name_slug != current_slug and len(numbers[name_slug]) == 1
                else f"{name_slug}-{num}"
            )
            aliases.append(
                DriverAliasRow(
                    id=make_id("driver-alias", identity, alias_slug),
                    driver_id=driver_id,
                    alias_name=_display(last_seen.first, last_seen.last),
                    alias_slug=alias_slug,
                    valid_from=seen[0].when.date(),
                    valid_until=last_seen.when.date(),
                    source=ALIAS_SOURCE,
                    driver_number=num,
                )
            )
    return out, aliases


def _teams(candidates: dict[tuple[int, int], _Candidate]) -> dict[str, TeamRow]:
    """One team per name slug: name and colour from its latest row (colour: latest one that is valid)."""
    by_slug: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates.values():
        by_slug[c.team_slug].append(c)
    out: dict[str, TeamRow] = {}
    for slug, cs in sorted(by_slug.items()):
        cs.sort(key=lambda c: (c.when, c.session_key, c.row.driver_number))
        colour = next((_colour(c.row.team_colour) for c in reversed(cs) if _colour(c.row.team_colour)), None)
        out[slug] = TeamRow(id=make_id("team", slug), name=cs[-1].team_name, slug=slug, primary_color=colour)
    return out


def _entrants(
    candidates: dict[tuple[int, int], _Candidate],
    sessions: dict[int, _Session],
    rounds: dict[int, _Round],
    round_rows: dict[int, RoundRow],
    drivers: dict[str, tuple[DriverRow, str]],
    teams: dict[str, TeamRow],
) -> dict[tuple[int, str, str], tuple[EntrantRow, str]]:
    """One entrant per (round, driver, team): Test in testing, Fp1Only if only listed in practice."""
    types: dict[tuple[int, str, str], set[SessionType]] = defaultdict(set)
    for c in candidates.values():
        types[(c.meeting_key, c.identity, c.team_slug)].add(sessions[c.session_key].type)
    out: dict[tuple[int, str, str], tuple[EntrantRow, str]] = {}
    for (mk, identity, team_slug), kinds in sorted(types.items()):
        if rounds[mk].testing:
            role = DriverRole.Test
        elif kinds <= PRACTICE:
            role = DriverRole.Fp1Only
        else:
            role = DriverRole.Regular
        natural = f"{mk}:{identity}:{team_slug}"
        out[(mk, identity, team_slug)] = (
            EntrantRow(
                id=make_id("entrant", natural),
                round_id=round_rows[mk].id,
                driver_id=drivers[identity][0].id,
                team_id=teams[team_slug].id,
                role=int(role),
            ),
            natural,
        )
    return out


def _results(
    rules: _Rules,
    sessions: dict[int, _Session],
    session_rows: dict[int, SessionRow],
    candidates: dict[tuple[int, int], _Candidate],
    entrants: dict[tuple[int, str, str], tuple[EntrantRow, str]],
) -> list[ResultRow]:
    cutoff = rules.as_of
    by_meeting_number: dict[tuple[int, int], set[tuple[str, str]]] = defaultdict(set)
    for c in candidates.values():
        by_meeting_number[(c.meeting_key, c.row.driver_number)].add((c.identity, c.team_slug))
    # the qualifying session each race takes its grid from (the latest of that type in the meeting)
    grid_session: dict[tuple[int, SessionType], int] = {}
    for session_key, s in sorted(sessions.items(), key=lambda kv: (kv[1].start, kv[0])):
        grid_session[(s.session.meeting_key, s.type)] = session_key
    out: dict[object, ResultRow] = {}
    for key in sorted(rules.d.results):
        sk, number = key
        session = sessions.get(sk)
        if session is None or session.end is None or session.end > cutoff:
            continue  # unknown or skipped session, or not ended as of as_of: no results (yet)
        result, origin = _pick(rules.d.results[key])
        mk = session.session.meeting_key
        candidate = candidates.get(key)
        if candidate is not None:
            who = (candidate.identity, candidate.team_slug)
        else:
            options = by_meeting_number.get((mk, number), set())
            if len(options) != 1:
                why = "no driver" if not options else f"{len(options)} drivers"
                rules.warn(
                    RESULT_WITHOUT_ENTRANT,
                    f"session {sk}: result of #{number} skipped: {why} "
                    "with that number in the session or meeting",
                    origin,
                )
                continue
            who = next(iter(options))
        entrant, natural = entrants[(mk, who[0], who[1])]
        row = _result_row(result, session, session_rows[sk], entrant, natural, rules, grid_session)
        kept = out.get(row.id)
        if kept is not None:
            rules.warn(
                RESULT_DUPLICATE,
                f"session {sk}: #{number} and car {kept.car_number} are the same entrant: "
                "the first result kept",
                origin,
            )
            continue
        out[row.id] = row
    return list(out.values())


def _result_row(
    result: SessionResult,
    session: _Session,
    session_row: SessionRow,
    entrant: EntrantRow,
    entrant_natural: str,
    rules: _Rules,
    grid_session: dict[tuple[int, SessionType], int],
) -> ResultRow:
    kind = session.type
    mk = session.session.meeting_key
    time: timedelta | None = None
    millis: int | None = None
    q: list[str | None] = [None, None, None]
    if isinstance(result.duration, list):
        parts = [_seconds(v) for v in result.duration[:3]]
        times = [p for p in parts if p is not None]
        for i, part in enumerate(parts):
            q[i] = lap_time(_millis(part)) if part is not None else None
        millis = _millis(min(times)) if times else None
    else:
        seconds = _seconds(result.duration)
        if seconds is not None:
            millis = _millis(seconds)
            if kind in RACES:
                time = timedelta(milliseconds=millis)
    if kind not in QUALIFYING:
        q = [None, None, None]
    grid: int | None = None
    source = GRID_FROM.get(kind)
    if source is not None:
        qsk = grid_session.get((mk, source))
        entries = rules.d.grid.get((qsk, result.driver_number)) if qsk is not None else None
        if entries:
            grid = _int4(_pick(entries)[0].position)
    points = result.points if kind in RACES else None
    if points is not None and (points != points or abs(points) > 1e6):
        points = None
    return ResultRow(
        id=make_id("result", session.session.session_key, entrant_natural),
        session_id=session_row.id,
        entrant_id=entrant.id,
        position=_int4(result.position),
        grid_position=grid,
        status=int(_status(result)),
        points=points,
        time=time,
        laps=_int4(result.number_of_laps),
        fastest_lap=False,
        time_milliseconds=millis,
        status_detail=_laps_detail(result.gap_to_leader),
        q1_time=q[0],
        q2_time=q[1],
        q3_time=q[2],
        car_number=str(result.driver_number),
    )
