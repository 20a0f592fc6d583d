"""f1db's release, normalized into the racing rows next to OpenF1's: PURE (no I/O, no clock).

``merge_f1db(files, openf1, links, results=...)`` takes the decoded files of one f1db release
(:mod:`ingestion.f1db.decode`, path below ``src/data/`` -> Struct) and what OpenF1's replay made of its
snapshots, and gives one :class:`~ingestion.replay.rows.Replayed`: OpenF1's rows untouched, f1db's facts
added to the OpenF1 rows it matches, and f1db's rows for every round OpenF1 does not have. Rules and ids:
docs/f1db.md ("Replaying", "Identity", "Rules").

Ids (uuid5, :func:`~ingestion.replay.identity.make_id`, kinds prefixed ``f1db-``) never come from f1db's
race id, round number or folder name (f1db renumbers them), nor from its slugs (renamed now and then):
a driver is their date of birth and last name, a constructor its full name, a circuit where it is, a round
its year and Grand Prix, a session its round and type. Where OpenF1 has the same driver, team, circuit or
round (matched with the rules of shared/f1db/README.md), OpenF1's row and id are kept and f1db's facts
added. A pair that cannot be matched with certainty is decided by the committed overrides, else it is a
finding and f1db's side of it is held (:mod:`ingestion.replay.matching`).
"""

from __future__ import annotations

import bisect
import hashlib
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import NamedTuple

import msgspec

from ingestion.calendar import PRACTICE, QUALIFYING, RACES
from ingestion.f1db.archive import DATA_PREFIX
from ingestion.f1db.decode import (
    Circuit,
    Classified,
    Constructor,
    Country,
    Decoded,
    Driver,
    GrandPrix,
    Race,
    SeasonEntrant,
)
from ingestion.replay.calendar import SERIES_NAME, SERIES_SLUG
from ingestion.replay.identity import id_maker, make_id, slugify, unique_slugs
from ingestion.replay.matching import (
    NEAR_DAYS,
    Kind,
    Overrides,
    Uncertain,
    pending_id,
    settle,
    unused,
    withhold,
)
from ingestion.replay.matching import findings as identity_findings
from ingestion.replay.placing import OpenF1Names, place
from ingestion.replay.precedence import CLASSIFICATION, SESSION_PRECEDENCE, Source
from ingestion.replay.rows import (
    CircuitRow,
    DriverAliasRow,
    DriverRole,
    DriverRow,
    EntrantRow,
    PendingMatch,
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
    TeamRow,
)
from ingestion.replay.values import laps_detail

__all__ = [
    "ALIAS_SOURCE",
    "F1dbPart",
    "OpenF1Links",
    "Release",
    "combine",
    "f1db_part",
    "merge_f1db",
    "parse_millis",
    "result_status",
    "session_starts",
]

ALIAS_SOURCE = "f1db"

# Warning kinds.
F1DB_UNMATCHED = "f1db_unmatched"  # an f1db entity in a round OpenF1 has, that cannot be matched for sure
F1DB_MISSING = "f1db_missing"  # a file names a driver, constructor, circuit or grand prix the release lacks
F1DB_NO_RESULTS = "f1db_race_without_results"

#: Classification file -> the session it classifies (fastest laps join the race's rows).
SESSION_FILES: dict[str, SessionType] = {
    "race-results.yml": SessionType.Race,
    "qualifying-results.yml": SessionType.Qualifying,
    "sprint-race-results.yml": SessionType.Sprint,
    "sprint-qualifying-results.yml": SessionType.SprintQualifying,
    "free-practice-1-results.yml": SessionType.FP1,
    "free-practice-2-results.yml": SessionType.FP2,
    "free-practice-3-results.yml": SessionType.FP3,
    "warming-up-results.yml": SessionType.Warmup,
}
FASTEST_LAPS = "fastest-laps.yml"
_FILE_OF: dict[SessionType, str] = {kind: name for name, kind in SESSION_FILES.items()}

#: f1db's position codes: (status, kept in status_detail). DNQ/DNPQ/DNP (did not qualify / pre-qualify /
#: practise) are starts that never happened: DNS; EX (excluded) is a disqualification: DSQ.
CODES: dict[str, tuple[ResultStatus, str | None]] = {
    "DNF": (ResultStatus.DNF, None),
    "DNS": (ResultStatus.DNS, None),
    "DSQ": (ResultStatus.DSQ, None),
    "NC": (ResultStatus.NC, None),
    "DNQ": (ResultStatus.DNS, "DNQ"),
    "DNPQ": (ResultStatus.DNS, "DNPQ"),
    "DNP": (ResultStatus.DNS, "DNP"),
    "EX": (ResultStatus.DSQ, "EX"),
}
#: How well a code classifies, for choosing among one driver's two rows in one session (a number first).
_FINISHED = ResultStatus.Finished  # a member looked up once (each enum attribute access is a call)
_CODE_RANK = {"NC": 1, "DNF": 2, "DNS": 3, "DNQ": 4, "DNPQ": 5, "DNP": 6, "DSQ": 7, "EX": 8}

#: Pit-lane starts: ``grid_position`` 0 (f1db's ``PL``; Ergast's convention); an unknown grid is NULL.
PIT_LANE = 0

_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+)(?:\.(\d{1,3}))?$")
_RACE_DIR = re.compile(r"seasons/(\d{4})/races/([^/]+)/([^/]+)$")


def parse_millis(text: str | None) -> int | None:
    """``2:13:23.600`` / ``1:27.689`` / ``59.5`` as milliseconds; None for anything else (``+1 lap``)."""
    if not text:
        return None
    match = _TIME.match(text.strip())
    if match is None:
        return None
    a, b, secs, frac = match.groups()
    hours, minutes = (int(a), int(b)) if b is not None else (0, int(a or 0))
    millis = int((frac or "0").ljust(3, "0"))
    return ((hours * 60 + minutes) * 60 + int(secs)) * 1000 + millis


def result_status(position: str) -> tuple[int | None, ResultStatus, str | None]:
    """(position, status, code kept in status_detail) of f1db's ``position`` (a number or a code)."""
    if position.isdigit():
        return int(position), ResultStatus.Finished, None
    status, kept = CODES.get(position, (ResultStatus.NC, position))
    return None, status, kept


def _rank(position: str) -> tuple[int, int]:
    return (0, int(position)) if position.isdigit() else (1, _CODE_RANK.get(position, 9))


class OpenF1Links(msgspec.Struct, frozen=True, kw_only=True):
    """What f1db is matched against in OpenF1's rows: per round, its year, the UTC date of its Race
    session; per session, car number -> (driver id, team id) from OpenF1's drivers."""

    #: round id -> (year, the days of its Race session: in UTC and at the circuit; f1db dates races before
    #: 2024 by the local day: 2023 Las Vegas is 18 November there, 19 November in UTC)
    rounds: dict[uuid.UUID, tuple[int, frozenset[date]]] = {}
    #: round id -> (session type, car number) -> (driver id, team id), from OpenF1's drivers of each session
    cars: dict[uuid.UUID, dict[tuple[int, int], tuple[uuid.UUID, uuid.UUID]]] = {}
    #: OpenF1's driver row id -> its identity key (what OpenF1's entrant and result ids are made of)
    identities: dict[uuid.UUID, str] = {}


class RaceFiles(NamedTuple):
    year: int
    folder: str  # for messages only: never a key
    race: Race
    sessions: dict[str, list[Classified]]  # classification file name -> rows


class Release(NamedTuple):
    """The decoded files of a release, grouped."""

    races: list[RaceFiles]
    entrants: dict[int, list[SeasonEntrant]]
    drivers: dict[str, Driver]
    constructors: dict[str, Constructor]
    circuits: dict[str, Circuit]
    grands_prix: dict[str, GrandPrix]
    countries: dict[str, Country]

    @classmethod
    def of(cls, files: Mapping[str, Decoded]) -> Release:
        folders: dict[tuple[int, str], dict[str, Decoded]] = defaultdict(dict)
        entrants: dict[int, list[SeasonEntrant]] = {}
        drivers: dict[str, Driver] = {}
        constructors: dict[str, Constructor] = {}
        circuits: dict[str, Circuit] = {}
        grands_prix: dict[str, GrandPrix] = {}
        countries: dict[str, Country] = {}
        for path in sorted(files):
            value = files[path]
            match = _RACE_DIR.fullmatch(path)
            if match is not None:
                folders[(int(match.group(1)), match.group(2))][match.group(3)] = value
            elif path.endswith("/entrants.yml") and isinstance(value, list):
                entrants[int(path.split("/")[1])] = [e for e in value if isinstance(e, SeasonEntrant)]
            elif isinstance(value, Driver):
                drivers[value.id] = value
            elif isinstance(value, Constructor):
                constructors[value.id] = value
            elif isinstance(value, Circuit):
                circuits[value.id] = value
            elif isinstance(value, GrandPrix):
                grands_prix[value.id] = value
            elif isinstance(value, Country):
                countries[value.id] = value
        races = []
        for (year, folder), parts in sorted(folders.items()):
            race = parts.get("race.yml")
            if not isinstance(race, Race):
                continue
            sessions = {
                name: [r for r in rows if isinstance(r, Classified)]
                for name, rows in parts.items()
                if name != "race.yml" and isinstance(rows, list)
            }
            races.append(RaceFiles(year, folder, race, sessions))
        return cls(races, entrants, drivers, constructors, circuits, grands_prix, countries)


# -- identity ---------------------------------------------------------------------------------------------


def driver_identity(d: Driver) -> str:
    """A person by facts, not by f1db's slug: date of birth and last name (``1985-01-07:hamilton``)."""
    born = d.date_of_birth.isoformat() if d.date_of_birth else "unknown"
    return f"{born}:{slugify(d.last_name) or slugify(d.name)}"


def constructor_identity(c: Constructor) -> str:
    """A constructor by its full name (``red-bull-racing``); its short name when it has none."""
    return slugify(c.full_name or c.name) or slugify(c.name)


def circuit_identity(c: Circuit) -> str:
    """A circuit by where it is: latitude and longitude to 0.1 degree (``52.1:-1.0``; every circuit apart,
    and unchanged by renames: f1db renamed Losail to Lusail, slug and name); its name without them."""
    if c.latitude is None or c.longitude is None:
        return slugify(c.name)
    return f"{c.latitude:.1f}:{c.longitude:.1f}"


def _unique(identities: Mapping[str, str], first_seen: Mapping[str, date]) -> dict[str, str]:
    """f1db id -> identity, made unique: of the entities sharing one (v2025.24.2's ``racing-bulls`` has
    ``rb``'s full name, Racing Bulls), the one raced first keeps it and each later one gets ``/`` and its
    f1db id appended, so a newcomer never moves an older entity's id."""
    owner: dict[str, str] = {}
    never = date.max
    for k in sorted(identities, key=lambda k: (first_seen.get(k, never), k)):
        owner.setdefault(identities[k], k)
    return {k: v if owner[v] == k else f"{v}/{k}" for k, v in identities.items()}


def _first_seen(races: Iterable[RaceFiles]) -> tuple[dict[str, date], dict[str, date], dict[str, date]]:
    """The first race day of every driver, constructor and circuit in the release."""
    drivers: dict[str, date] = {}
    constructors: dict[str, date] = {}
    circuits: dict[str, date] = {}
    for rf in sorted(races, key=lambda rf: rf.race.date):
        day = rf.race.date
        circuits.setdefault(rf.race.circuit_id, day)
        for rows in rf.sessions.values():
            for r in rows:
                drivers.setdefault(r.driver_id, day)
                constructors.setdefault(r.constructor_id, day)
    return drivers, constructors, circuits


# -- the merge --------------------------------------------------------------------------------------------


class _Work:
    """The rows being made, and the warnings."""

    def __init__(self, release: Release, openf1: Racing) -> None:
        self.release = release
        self.openf1 = openf1
        self.warnings: list[ReplayWarning] = []
        #: the ids f1db's own rows get (set by _make): per kind f1db id -> row id; rounds by release index
        self.own: dict[Kind, dict[str, uuid.UUID]] = {}
        self.round_ids: dict[int, uuid.UUID] = {}

    def warn(self, kind: str, message: str, request: str | None = None) -> None:
        self.warnings.append(ReplayWarning(kind=kind, message=message, request=request))


def _demonym(release: Release, country_id: str | None) -> str | None:
    country = release.countries.get(country_id or "")
    if country is None:
        return None
    return country.demonym or country.name


def _clock(clock: str | None) -> time | None:
    """``13:00`` / ``13:00:30`` as a time of day; None for none or anything else."""
    parts = (clock or "").split(":")
    if len(parts) >= 2 and all(p.isdigit() for p in parts):
        hour, minute = int(parts[0]), int(parts[1])
        second = int(parts[2]) if len(parts) > 2 else 0
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    return None


def _at(day: date | None, clock: str | None, fallback: date) -> datetime:
    """A session's UTC start: its date and time where f1db gives them, else its day (or the race's) at
    00:00 UTC."""
    return datetime.combine(day or fallback, _clock(clock) or time(0), UTC)


def _dated(race: Race) -> tuple[tuple[SessionType, date | None, str | None], ...]:
    """The sessions race.yml dates: (type, date, time) of the race, practice, qualifying and sprint."""
    return (
        (SessionType.Race, race.date, race.time),
        (SessionType.FP1, race.free_practice_1_date, race.free_practice_1_time),
        (SessionType.FP2, race.free_practice_2_date, race.free_practice_2_time),
        (SessionType.FP3, race.free_practice_3_date, race.free_practice_3_time),
        (SessionType.Qualifying, race.qualifying_date, race.qualifying_time),
        (SessionType.SprintQualifying, race.sprint_qualifying_date, race.sprint_qualifying_time),
        (SessionType.Sprint, race.sprint_race_date, race.sprint_race_time),
    )


def _schedule(race: Race) -> dict[SessionType, datetime]:
    """The sessions race.yml dates (practice, qualifying, sprint) and the race, at their UTC start."""
    return {kind: _at(d, t, race.date) for kind, d, t in _dated(race) if d is not None}


def _moved(rel: Release, racing: Racing, matched_round: Mapping[int, uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """:data:`~ingestion.replay.precedence.SESSION_PRECEDENCE`'s start: of each OpenF1 session of a round
    both sources have, f1db's date and time where f1db has classified the session (rows in its file) and
    gives its time (2024 on), when it differs from OpenF1's. f1db writes them after the session ran; OpenF1
    keeps the schedule it published (2024 Sao Paulo qualifying, postponed by rain to the Sunday morning:
    OpenF1 2024-11-02 18:00, f1db 2024-11-03 10:30 UTC)."""
    session_of = {(s.round_id, s.type): s for s in racing.sessions}
    file_of = {kind: name for name, kind in SESSION_FILES.items()}
    out: dict[uuid.UUID, datetime] = {}
    for index, round_id in sorted(matched_round.items()):
        rf = rel.races[index]
        for kind, day, clock in _dated(rf.race):
            at = _clock(clock)
            session = session_of.get((round_id, int(kind)))
            if day is None or at is None or session is None or not rf.sessions.get(file_of[kind]):
                continue
            start = datetime.combine(day, at, UTC)
            if start != session.start_time_utc:
                out[session.id] = start
    return out


def _rounds_of(spec: str | None) -> set[int]:
    """``1-24`` / ``1,4-6`` / ``24`` as the round numbers; empty or unreadable: none."""
    out: set[int] = set()
    for part in (spec or "").split(","):
        lo, _, hi = part.strip().partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _listings(entries: list[SeasonEntrant]) -> dict[int, dict[tuple[str, str], bool]]:
    """Per round number of a season's entrants.yml: (driver, constructor) -> whether only as a test driver."""
    out: dict[int, dict[tuple[str, str], bool]] = defaultdict(dict)
    for entry in entries:
        for constructor_id, d in entry.pairs():
            for number in _rounds_of(d.rounds):
                pair = (d.driver_id, constructor_id)
                out[number][pair] = out[number].get(pair, True) and d.test_driver
    return out


def merge_f1db(
    files: Mapping[str, Decoded],
    openf1: Replayed,
    links: OpenF1Links,
    as_of: datetime,
    *,
    results: bool,
    release: str = "f1db",
    overrides: Overrides = Overrides(),
) -> Replayed:
    """OpenF1's rows with f1db's release merged in (see the module doc). ``release`` names the release in
    warnings; ``overrides`` decide the pairs the rules cannot (:mod:`.matching`). Pure."""
    part = f1db_part(
        files, openf1.racing, links, as_of, results=results, release=release, overrides=overrides
    )
    return combine(openf1, part)


def combine(openf1: Replayed, part: F1dbPart) -> Replayed:
    """OpenF1's rows and warnings with f1db's ``part`` merged in: OpenF1's row wins an id both have. Pure."""
    racing = openf1.racing
    merged = Racing(
        series=racing.series
        or (SeriesRow(id=make_id("series", SERIES_SLUG), name=SERIES_NAME, slug=SERIES_SLUG),),
        seasons=_union(racing.seasons, part.seasons),
        circuits=_union(_with_facts(racing.circuits, part.circuit_facts), part.circuits),
        rounds=_union(racing.rounds, part.rounds),
        sessions=_union(_started(racing.sessions, part.moved), part.sessions),
        drivers=_union(_with_facts(racing.drivers, part.driver_facts), part.drivers),
        teams=_union(_with_facts(racing.teams, part.team_facts), part.teams),
        entrants=_union(racing.entrants, part.entrants),
        results=_union(part.corrections, _union(racing.results, part.results)),
        driver_aliases=_union(racing.driver_aliases, part.aliases),
    )
    return Replayed(
        racing=merged,
        warnings=(*openf1.warnings, *part.warnings),
        held=openf1.held | part.held,
        pending=(*openf1.pending, *_pending(part.uncertain)),
        formerly=part.formerly,
    )


_ENTITY = {Kind.DRIVER: "Driver", Kind.TEAM: "Team", Kind.CIRCUIT: "Circuit", Kind.ROUND: "Round"}


def _pending(uncertain: Iterable[Uncertain]) -> list[PendingMatch]:
    """The app's queue rows of the uncertain pairs: one per OpenF1 candidate (stable ids)."""
    out = []
    for u in uncertain:
        for candidate in u.candidates or (None,):
            out.append(
                PendingMatch(
                    id=pending_id(u, candidate),
                    entity_type=_ENTITY[u.kind],
                    incoming_name=f"{u.name} (f1db {u.f1db})",
                    candidate_entity_id=candidate,
                    match_score=u.score,
                )
            )
    return out


def f1db_part(
    files: Mapping[str, Decoded],
    racing: Racing,
    links: OpenF1Links,
    as_of: datetime,
    *,
    results: bool,
    release: str = "f1db",
    since: Mapping[str, str] | None = None,
    overrides: Overrides = Overrides(),
    addresses: Mapping[str, str] | None = None,
    earlier: Mapping[str, tuple[ResultRow, ...]] | None = None,
) -> F1dbPart:
    """What f1db's release adds to OpenF1's ``racing`` (matched through ``links``, pairs that cannot be
    matched with certainty decided by ``overrides``, else held: :mod:`ingestion.replay.matching`). Pure.
    ``since``: the archive path of each file an older release of the store already held as it is -> that
    release's tag (:func:`ingestion.replay.release.unchanged_since`): a result's provenance names the
    release its file has been as it is since (``release`` for every other).

    ``addresses``: each file of ``files`` -> the address of its content (its blob's sha256). Given, each
    session's results are keyed by everything :func:`_results` makes them of (:func:`_session_key`: its
    file's and the fastest laps' addresses, its id, its entrants and drivers' identities, its provenance)
    and kept in the part's ``session_results``; a session whose key ``earlier`` holds (an earlier merge's
    ``session_results``) takes those rows instead of making them again (a release changing 31 files makes
    31 sessions' results, not 4,463)."""
    origins = Origins(release, since or {})
    rel = Release.of(files)
    work = _Work(rel, racing)
    round_rows = {r.id: r for r in racing.rounds}

    # OpenF1's rounds by (year, race day): the round matching rule (46 of 46 on 2023-2024)
    openf1_round: dict[tuple[int, date], set[uuid.UUID]] = defaultdict(set)
    for round_id, (year, race_days) in links.rounds.items():
        for race_day in race_days:
            openf1_round[(year, race_day)].add(round_id)
    openf1_years = {year for year, _ in links.rounds.values()}
    round_keys = _round_keys(rel)
    index_of = {key: index for index, key in round_keys.items()}
    sure_rounds = {
        round_keys[i]: set(openf1_round.get((rf.year, rf.race.date), set())) for i, rf in enumerate(rel.races)
    }
    claimed_rounds = {r for ids in sure_rounds.values() for r in ids}
    # a circuit through the rounds matched by date alone, to tell a moved race from a new one
    by_date = {k: next(iter(ids)) for k, ids in sure_rounds.items() if len(ids) == 1}
    circuit_by_date: dict[str, set[uuid.UUID]] = defaultdict(set)
    for key, round_id in by_date.items():
        if round_id in round_rows:
            circuit_by_date[rel.races[index_of[key]].race.circuit_id].add(round_rows[round_id].circuit_id)
    doubtful_rounds: dict[str, set[uuid.UUID]] = {}
    for index, rf in enumerate(rel.races):
        key = round_keys[index]
        if sure_rounds[key] or rf.year not in openf1_years:
            continue
        near = {
            round_id
            for round_id, (year, days) in links.rounds.items()
            if year == rf.year
            and round_id not in claimed_rounds
            and (
                any(abs((d - rf.race.date).days) <= NEAR_DAYS for d in days)
                or (
                    round_id in round_rows
                    and round_rows[round_id].circuit_id in circuit_by_date[rf.race.circuit_id]
                )
            )
        }
        if near:
            doubtful_rounds[key] = near
        else:
            work.warn(
                F1DB_UNMATCHED,
                f"{rf.year} {rf.folder}: no OpenF1 round races on {rf.race.date}: replayed from f1db",
                release,
            )
    labels = _labels(racing)
    rounds_settled = settle(
        Kind.ROUND,
        {k: v for k, v in sure_rounds.items() if v},
        doubtful_rounds,
        overrides,
        names={round_keys[i]: f"{rf.year} {rf.folder}" for i, rf in enumerate(rel.races)},
        known=set(links.rounds),
    )
    matched_round = {index_of[k]: round_id for k, round_id in rounds_settled.matched.items() if k in index_of}
    # a circuit seen only through an uncertain round is uncertain too (else it would be split silently)
    circuit_doubts: dict[str, set[uuid.UUID]] = defaultdict(set)
    for u in rounds_settled.uncertain:
        for round_id in u.candidates:
            if round_id in round_rows:
                circuit_doubts[rel.races[index_of[u.f1db]].race.circuit_id].add(round_rows[round_id].circuit_id)

    # drivers, teams, circuits: through the matched rounds, certain or held (matching.settle)
    driver_pairs: dict[str, set[uuid.UUID]] = defaultdict(set)
    driver_doubts: dict[str, set[uuid.UUID]] = defaultdict(set)
    team_pairs: dict[str, set[uuid.UUID]] = defaultdict(set)
    circuit_pairs: dict[str, set[uuid.UUID]] = defaultdict(set)
    openf1_drivers = {d.id: d for d in racing.drivers}
    for index, round_id in matched_round.items():
        rf = rel.races[index]
        if round_id in round_rows:
            circuit_pairs[rf.race.circuit_id].add(round_rows[round_id].circuit_id)
        cars = links.cars.get(round_id, {})
        for file_name, kind in SESSION_FILES.items():
            for row in rf.sessions.get(file_name, []):
                number = int(row.driver_number) if row.driver_number and row.driver_number.isdigit() else None
                who = cars.get((int(kind), number)) if number is not None else None
                if who is None:
                    continue
                driver_id, team_id = who
                person = rel.drivers.get(row.driver_id)
                known = openf1_drivers.get(driver_id)
                if person is not None and known is not None and person.abbreviation == known.abbreviation:
                    driver_pairs[row.driver_id].add(driver_id)
                elif person is not None and known is not None:
                    driver_doubts[row.driver_id].add(driver_id)
                team_pairs[row.constructor_id].add(team_id)
    drivers_settled = settle(
        Kind.DRIVER,
        driver_pairs,
        driver_doubts,
        overrides,
        names={k: d.name for k, d in rel.drivers.items()},
        known=set(openf1_drivers),
    )
    teams_settled = settle(
        Kind.TEAM,
        team_pairs,
        {},
        overrides,
        names={k: c.name for k, c in rel.constructors.items()},
        known={t.id for t in racing.teams},
    )
    circuits_settled = settle(
        Kind.CIRCUIT,
        circuit_pairs,
        circuit_doubts,
        overrides,
        names={k: c.name for k, c in rel.circuits.items()},
        known={c.id for c in racing.circuits},
    )
    driver_match, team_match = drivers_settled.matched, teams_settled.matched
    circuit_match = circuits_settled.matched
    settled = (rounds_settled, drivers_settled, teams_settled, circuits_settled)
    uncertain = tuple(u for s in settled for u in s.uncertain)
    work.warnings.extend(identity_findings(uncertain, labels, overrides.source))
    work.warnings.extend(unused(overrides, {line for s in settled for line in s.used}))

    f1db_races = sorted(
        ((i, rf) for i, rf in enumerate(rel.races) if i not in matched_round),
        key=lambda pair: (pair[1].year, pair[1].race.date, pair[1].race.grand_prix_id),
    )
    part = _make(
        work, f1db_races, driver_match, team_match, circuit_match, as_of, results=results, release=release,
        origins=origins, addresses=addresses, earlier=earlier or {},
    )
    part = _hold(part, work, uncertain, index_of)
    moved = _moved(rel, racing, matched_round)
    matches = {Kind.DRIVER: driver_match, Kind.TEAM: team_match, Kind.CIRCUIT: circuit_match}
    formerly = _formerly(work, racing, matched_round, matches)
    names = OpenF1Names(links.identities, {t.id: t.slug for t in racing.teams})
    corrections, entrants, findings = _corrections(
        rel, racing, matched_round, driver_match, team_match, names, origins, results=results, release=release
    )
    return msgspec.structs.replace(
        part,
        corrections=corrections,
        moved=moved,
        entrants=(*part.entrants, *entrants),
        warnings=(*part.warnings, *findings),
        formerly=formerly,
    )


def _round_name(rel: Release, rf: RaceFiles) -> str:
    """A round's name: its Grand Prix's full name (the race's official name when f1db lacks the GP)."""
    gp = rel.grands_prix.get(rf.race.grand_prix_id)
    return (gp.full_name or gp.name) if gp else rf.race.official_name


def _formerly(
    work: _Work,
    racing: Racing,
    matched_round: Mapping[int, uuid.UUID],
    matches: Mapping[Kind, Mapping[str, uuid.UUID]],
) -> dict[uuid.UUID, uuid.UUID]:
    """OpenF1's id of each row of an entity both sources have -> the id f1db alone gives that entity (its
    circuits, rounds, sessions, drivers and teams; entrants and results follow them by their keys): what a
    database holds when it replayed the entity before OpenF1 had it. Adoption keeps that stored id
    (:mod:`.adopt`). A target two OpenF1 rows would share is left out (a stored row is adopted once). Pure."""
    rel = work.release
    out: dict[uuid.UUID, uuid.UUID] = {}
    for kind, matched in matches.items():
        own = work.own.get(kind, {})
        out.update((row_id, own[key]) for key, row_id in matched.items() if key in own)
    naturals = {i: f"{rf.year}:{slugify(_round_name(rel, rf))}" for i, rf in enumerate(rel.races)}
    twice = Counter(naturals.values())
    by_round: dict[uuid.UUID, list[SessionRow]] = defaultdict(list)
    for session in racing.sessions:
        by_round[session.round_id].append(session)
    for index, round_id in matched_round.items():
        natural = naturals[index]
        if twice[natural] > 1:
            natural = f"{natural}:{rel.races[index].race.date}"
        out[round_id] = make_id("f1db-round", natural)
        for session in by_round.get(round_id, ()):
            out[session.id] = make_id("f1db-session", natural, session.type)
    shared = Counter(out.values())
    return {mine: theirs for mine, theirs in out.items() if shared[theirs] == 1 and mine != theirs}


def _round_keys(rel: Release) -> dict[int, str]:
    """Release index -> the key a round is named by in findings and overrides: ``YEAR:grandPrixId`` (f1db's
    race ids and round numbers move; a Grand Prix twice in a year adds its date)."""
    keys = {i: f"{rf.year}:{rf.race.grand_prix_id}" for i, rf in enumerate(rel.races)}
    twice = Counter(keys.values())
    return {i: f"{k}:{rel.races[i].race.date}" if twice[k] > 1 else k for i, k in keys.items()}


def _labels(racing: Racing) -> dict[uuid.UUID, str]:
    """OpenF1 row id -> a short name for findings (a driver's name and acronym, a team's, circuit's or
    round's name)."""
    labels: dict[uuid.UUID, str] = {}
    for d in racing.drivers:
        labels[d.id] = f"{d.first_name} {d.last_name} {d.abbreviation or ''}".strip()
    for t in racing.teams:
        labels[t.id] = t.name
    for c in racing.circuits:
        labels[c.id] = c.name
    for r in racing.rounds:
        labels[r.id] = r.name
    return labels


def _hold(
    part: F1dbPart, work: _Work, uncertain: tuple[Uncertain, ...], index_of: Mapping[str, int]
) -> F1dbPart:
    """``part`` without the rows of the uncertain f1db entities and every row under them; their ids held."""
    if not uncertain:
        return part
    seeds: set[uuid.UUID] = set()
    for u in uncertain:
        if u.kind is Kind.ROUND:
            own = work.round_ids.get(index_of[u.f1db])
        else:
            own = work.own.get(u.kind, {}).get(u.f1db)
        if own is not None:
            seeds.add(own)
    tables: dict[str, tuple[msgspec.Struct, ...]] = {
        "circuits": part.circuits,
        "rounds": part.rounds,
        "sessions": part.sessions,
        "drivers": part.drivers,
        "teams": part.teams,
        "entrants": part.entrants,
        "results": part.results,
        "driver_aliases": part.aliases,
    }
    kept, held = withhold(tables, seeds)
    return msgspec.structs.replace(
        part,
        circuits=kept["circuits"],
        rounds=kept["rounds"],
        sessions=kept["sessions"],
        drivers=kept["drivers"],
        teams=kept["teams"],
        entrants=kept["entrants"],
        results=kept["results"],
        aliases=kept["driver_aliases"],
        held=held,
        uncertain=uncertain,
    )


def _corrections(
    rel: Release,
    racing: Racing,
    matched_round: Mapping[int, uuid.UUID],
    driver_match: Mapping[str, uuid.UUID],
    team_match: Mapping[str, uuid.UUID],
    names: OpenF1Names,
    origins: Origins,
    *,
    results: bool,
    release: str,
) -> tuple[tuple[ResultRow, ...], tuple[EntrantRow, ...], tuple[ReplayWarning, ...]]:
    """f1db's classification of the sessions of the rounds both sources have, by :data:`PRECEDENCE`: an
    OpenF1 row keeps its id, session, entrant and car number and takes f1db's classification fields; a row
    only f1db has gets the id OpenF1 would give it, on the round's OpenF1 entrant of its driver, or on an
    entrant made for a driver OpenF1 never listed there (:mod:`~ingestion.replay.placing`: made, or a
    finding). Also the entrants made, and the findings; with ``results`` False, no result row."""
    session_of = {(s.round_id, s.type): s for s in racing.sessions}
    round_rows = {r.id: r for r in racing.rounds}
    entrants: dict[uuid.UUID, list[EntrantRow]] = defaultdict(list)
    for e in racing.entrants:
        entrants[e.round_id].append(e)
    by_entrant = {(r.session_id, r.entrant_id): r for r in racing.results}
    driver_ids = {k: driver_identity(d) for k, d in rel.drivers.items()}
    out: list[ResultRow] = []
    added: list[EntrantRow] = []
    findings: list[ReplayWarning] = []
    for index, round_id in sorted(matched_round.items()):
        rf = rel.races[index]
        if round_id not in round_rows:
            continue
        pairs: dict[tuple[str, str], set[SessionType]] = defaultdict(set)
        for file_name, kind in SESSION_FILES.items():
            for r in rf.sessions.get(file_name, []):
                pairs[(r.driver_id, r.constructor_id)].add(kind)
        placed = place(
            round_rows[round_id],
            pairs,
            entrants.get(round_id, []),
            driver_match,
            team_match,
            names,
            where=f"{rf.year} {rf.folder}",
            release=release,
        )
        added.extend(placed.added)
        findings.extend(placed.findings)
        if not results:
            continue
        fastest = _fastest_laps(rf)
        for file_name, kind in SESSION_FILES.items():
            session = session_of.get((round_id, int(kind)))
            classified = rf.sessions.get(file_name)
            if session is None or not classified:
                continue
            rows = _results(
                kind, classified, session.id, str(round_id), placed.entrant_of, driver_ids, fastest,
                origins.of(rf, kind),
            )
            for row in rows:
                known = by_entrant.get((session.id, row.entrant_id))
                if known is None:
                    natural = placed.natural.get(row.entrant_id)
                    if natural is not None and session.open_f1_session_key is not None:
                        # the id OpenF1 gives this row: the same whichever source has it first
                        row = msgspec.structs.replace(
                            row, id=make_id("result", session.open_f1_session_key, natural)
                        )
                    out.append(row)
                else:
                    fields = {f: getattr(row, f) for f in CLASSIFICATION}
                    corrected = msgspec.structs.replace(known, **fields)
                    if corrected != known:
                        out.append(corrected)
    return tuple(out), tuple(added), tuple(findings)


class DriverFacts(msgspec.Struct, frozen=True):
    nationality: str | None
    date_of_birth: date | None
    place_of_birth: str | None


class TeamFacts(msgspec.Struct, frozen=True):
    nationality: str | None


class CircuitFacts(msgspec.Struct, frozen=True):
    latitude: float | None
    longitude: float | None
    length_meters: int | None
    track_type: str | None


class F1dbPart(msgspec.Struct, frozen=True, kw_only=True):
    """What f1db's release adds to OpenF1's rows (:func:`f1db_part`): its own rows, its facts for the OpenF1
    rows it matched, its warnings, and the session starts its statuses were judged against (two ``as_of``
    with as many starts at or before them give the same part)."""

    seasons: tuple[SeasonRow, ...]
    circuits: tuple[CircuitRow, ...]
    rounds: tuple[RoundRow, ...]
    sessions: tuple[SessionRow, ...]
    drivers: tuple[DriverRow, ...]
    teams: tuple[TeamRow, ...]
    entrants: tuple[EntrantRow, ...]
    results: tuple[ResultRow, ...]
    aliases: tuple[DriverAliasRow, ...]
    circuit_facts: dict[uuid.UUID, CircuitFacts]
    driver_facts: dict[uuid.UUID, DriverFacts]
    team_facts: dict[uuid.UUID, TeamFacts]
    warnings: tuple[ReplayWarning, ...] = ()
    starts: tuple[datetime, ...] = ()
    #: OpenF1's results of the rounds both sources have, with f1db's classification (see precedence.py),
    #: and the rows only f1db has in those sessions
    corrections: tuple[ResultRow, ...] = ()
    #: OpenF1 session id -> f1db's start, where f1db knows the session was moved (precedence.py)
    moved: dict[uuid.UUID, datetime] = {}
    #: ids of the rows of f1db entities that cannot be matched with certainty (and every row under them),
    #: left out and, where stored, kept as they are (:mod:`.matching`)
    held: frozenset[uuid.UUID] = frozenset()
    uncertain: tuple[Uncertain, ...] = ()
    #: OpenF1's id of a row both sources have -> the id f1db alone gives it (:func:`_formerly`): the id a
    #: database that replayed it from f1db first holds, and keeps (adoption)
    formerly: dict[uuid.UUID, uuid.UUID] = {}
    #: per session of f1db's own rounds, its key (:func:`_session_key`) -> its results: what a later merge
    #: may reuse (``earlier`` of :func:`f1db_part`); empty when the files' addresses were not given
    session_results: dict[str, tuple[ResultRow, ...]] = {}

    def bucket(self, as_of: datetime) -> int:
        """How many of the starts are at or before ``as_of``: the part holds for every ``as_of`` alike."""
        return bisect.bisect_right(self.starts, as_of)


def _make(
    work: _Work,
    races: list[tuple[int, RaceFiles]],
    driver_match: Mapping[str, uuid.UUID],
    team_match: Mapping[str, uuid.UUID],
    circuit_match: Mapping[str, uuid.UUID],
    as_of: datetime,
    *,
    results: bool,
    release: str,
    origins: Origins,
    addresses: Mapping[str, str] | None = None,
    earlier: Mapping[str, tuple[ResultRow, ...]] | None = None,
) -> F1dbPart:
    rel, openf1 = work.release, work.openf1
    reuse = earlier or {}
    made_for: dict[str, tuple[ResultRow, ...]] = {}
    series_id = openf1.series[0].id if openf1.series else make_id("series", SERIES_SLUG)

    seen_drivers, seen_constructors, seen_circuits = _first_seen(rel.races)
    driver_ids = _unique({k: driver_identity(d) for k, d in rel.drivers.items()}, seen_drivers)
    team_ids = _unique({k: constructor_identity(c) for k, c in rel.constructors.items()}, seen_constructors)
    circuit_ids = _unique({k: circuit_identity(c) for k, c in rel.circuits.items()}, seen_circuits)
    work.own = {
        Kind.DRIVER: {k: make_id("f1db-driver", v) for k, v in driver_ids.items()},
        Kind.TEAM: {k: make_id("f1db-team", v) for k, v in team_ids.items()},
        Kind.CIRCUIT: {k: make_id("f1db-circuit", v) for k, v in circuit_ids.items()},
    }

    # the f1db entities the replayed rounds use, in a deterministic order
    used_drivers: set[str] = set()
    used_teams: set[str] = set()
    used_circuits: set[str] = set()
    missing: set[str] = set()

    seasons: dict[int, SeasonRow] = {}
    rounds: list[tuple[RaceFiles, RoundRow, str]] = []
    sessions: list[SessionRow] = []
    entrant_rows: dict[tuple[str, str, str], EntrantRow] = {}
    result_rows: list[ResultRow] = []

    # each row's id: the matched OpenF1 row's, else f1db's own (made once above, not once per entrant)
    circuit_row_ids = {**work.own[Kind.CIRCUIT], **circuit_match}
    driver_row_ids = {**work.own[Kind.DRIVER], **driver_match}
    team_row_ids = {**work.own[Kind.TEAM], **team_match}

    def circuit_row_id(circuit_id: str) -> uuid.UUID:
        return circuit_row_ids[circuit_id]

    def driver_row_id(driver_id: str) -> uuid.UUID:
        return driver_row_ids[driver_id]

    def team_row_id(constructor_id: str) -> uuid.UUID:
        return team_row_ids[constructor_id]

    # rounds: the Grand Prix's name, f1db's round number (a value, never a key), the days of its sessions
    round_bases: list[str] = []
    pending: list[tuple[RaceFiles, str, int, str, date, date]] = []
    index_of = {id(rf): index for index, rf in races}
    for _, rf in races:
        if rf.race.circuit_id not in rel.circuits:
            missing.add(f"circuit {rf.race.circuit_id}")
            continue
        name = _round_name(rel, rf)
        schedule = _schedule(rf.race)
        days = [t.date() for t in schedule.values()]
        natural = f"{rf.year}:{slugify(name)}"  # not the date: f1db corrects dates (2014 Russia)
        round_number = int(rf.folder.split("-")[0]) if rf.folder.split("-")[0].isdigit() else 0
        pending.append((rf, name, round_number, natural, min(days), max(days)))
        round_bases.append(f"{rf.year}-{slugify(name) or 'grand-prix'}")
    twice = Counter(p[3] for p in pending)  # one Grand Prix twice in a year (never yet): its dates tell apart
    pending = [(rf, n, num, f"{nat}:{rf.race.date}" if twice[nat] > 1 else nat, a, b)
               for rf, n, num, nat, a, b in pending]
    taken = {r.slug for r in openf1.rounds}
    round_slugs = _slugs_avoiding(round_bases, taken)
    for (rf, name, number, natural, first, last), slug in zip(pending, round_slugs, strict=True):
        season = seasons.setdefault(
            rf.year, SeasonRow(id=make_id("season", rf.year), series_id=series_id, year=rf.year)
        )
        used_circuits.add(rf.race.circuit_id)
        row = RoundRow(
            id=make_id("f1db-round", natural),
            season_id=season.id,
            circuit_id=circuit_row_id(rf.race.circuit_id),
            name=name,
            slug=slug,
            round_number=number,
            date_start=first,
            date_end=last,
            open_f1_meeting_key=None,
        )
        rounds.append((rf, row, natural))
        work.round_ids[index_of[id(rf)]] = row.id

    listings: dict[int, dict[int, dict[tuple[str, str], bool]]] = {}
    for rf, round_row, natural in rounds:
        schedule = _schedule(rf.race)
        kinds: dict[SessionType, list[Classified]] = {}
        for file_name, kind in SESSION_FILES.items():
            rows = rf.sessions.get(file_name)
            if rows is not None:
                kinds[kind] = rows
        if not rf.sessions.get("race-results.yml"):
            work.warn(F1DB_NO_RESULTS, f"{rf.year} {rf.folder}: no race results in this release", release)
        session_ids: dict[SessionType, uuid.UUID] = {}
        for kind in sorted(set(kinds) | set(schedule)):
            start = schedule.get(kind, schedule[SessionType.Race])
            if kinds.get(kind):
                status = SessionStatus.Completed
            elif start > as_of:
                status = SessionStatus.Scheduled
            else:
                status = SessionStatus.Completed
            session = SessionRow(
                id=make_id("f1db-session", natural, int(kind)),
                round_id=round_row.id,
                type=int(kind),
                start_time_utc=start,
                status=int(status),
                open_f1_session_key=None,
            )
            sessions.append(session)
            session_ids[kind] = session.id

        # entrants: who drove for whom in this round (any session), roles from the season's entrants.yml
        number = round_row.round_number
        if rf.year not in listings:  # once per season (setdefault would read entrants.yml once per round)
            listings[rf.year] = _listings(rel.entrants.get(rf.year, []))
        listed = listings[rf.year].get(number, {})
        seen: dict[tuple[str, str], set[SessionType]] = defaultdict(set)
        for kind, rows in kinds.items():
            for r in rows:
                seen[(r.driver_id, r.constructor_id)].add(kind)
        classified = {driver_id for driver_id, _ in seen}
        for pair in listed:  # a listed driver with no row in the round (one yet to run, or withdrawn)
            if pair[0] not in classified:
                seen.setdefault(pair, set())
        entrant_of: dict[tuple[str, str], EntrantRow] = {}
        for (driver_id, constructor_id), kinds_seen in sorted(seen.items()):
            if driver_id not in rel.drivers:
                missing.add(f"driver {driver_id}")
                continue
            if constructor_id not in rel.constructors:
                missing.add(f"constructor {constructor_id}")
                continue
            test = listed.get((driver_id, constructor_id), False)
            raced = bool(kinds_seen - PRACTICE - {SessionType.Warmup})
            role = DriverRole.Regular if raced or (not test and not kinds_seen) else DriverRole.Fp1Only
            if not raced and kinds_seen and not test and (driver_id, constructor_id) in listed:
                role = DriverRole.Regular  # listed for the round, classified only in practice (withdrew)
            used_drivers.add(driver_id)
            used_teams.add(constructor_id)
            key = (natural, driver_ids[driver_id], team_ids[constructor_id])
            entrant = EntrantRow(
                id=make_id("f1db-entrant", *key),
                round_id=round_row.id,
                driver_id=driver_row_id(driver_id),
                team_id=team_row_id(constructor_id),
                role=int(role),
            )
            entrant_rows[key] = entrant
            entrant_of[(driver_id, constructor_id)] = entrant

        if not results:
            continue
        fastest = _fastest_laps(rf)
        who = _who(entrant_of, driver_ids) if addresses is not None else ""
        for kind, rows in kinds.items():
            origin = origins.of(rf, kind)
            made_key = None
            if addresses is not None:
                made_key = _session_key(addresses, rf, kind, session_ids[kind], natural, who, origin)
            made = reuse.get(made_key) if made_key is not None else None
            if made is None:
                made = tuple(
                    _results(kind, rows, session_ids[kind], natural, entrant_of, driver_ids, fastest, origin)
                )
            if made_key is not None:
                made_for[made_key] = made
            result_rows.extend(made)

    for what in sorted(missing):
        work.warn(F1DB_MISSING, f"the release has no {what}: its rows are skipped", release)

    # drivers: OpenF1's row (id, names, numbers) with f1db's facts when matched; else f1db's own row
    driver_facts: dict[uuid.UUID, DriverFacts] = {}
    driver_rows: list[DriverRow] = []
    aliases: list[DriverAliasRow] = []
    slugs_taken = {d.slug for d in openf1.drivers}
    own_drivers = sorted(d for d in used_drivers if d not in driver_match)
    driver_slugs = dict(zip(own_drivers, _slugs_avoiding(own_drivers, slugs_taken), strict=True))
    for f1db_id in sorted(set(used_drivers) | set(driver_match)):
        d = rel.drivers.get(f1db_id)
        if d is None:
            continue
        nationality = _demonym(rel, d.nationality_country_id)
        place = d.place_of_birth or None
        row_id = driver_row_id(f1db_id)
        if f1db_id in driver_match:
            driver_facts[row_id] = DriverFacts(nationality, d.date_of_birth, place)
        else:
            digits = d.permanent_number if d.permanent_number and d.permanent_number.isdigit() else None
            permanent = int(digits) if digits else None
            driver_rows.append(
                DriverRow(
                    id=row_id,
                    first_name=d.first_name,
                    last_name=d.last_name,
                    slug=driver_slugs[f1db_id],
                    abbreviation=d.abbreviation or None,
                    headshot_url=None,
                    driver_number=permanent if permanent is not None and permanent < 2**31 else None,
                    open_f1_driver_number=None,
                    nationality=nationality,
                    date_of_birth=d.date_of_birth,
                    place_of_birth=place,
                )
            )
        aliases.append(
            DriverAliasRow(
                id=make_id("f1db-driver-alias", driver_ids[f1db_id], f1db_id),
                driver_id=row_id,
                alias_name=d.name,
                alias_slug=f1db_id,
                valid_from=None,
                valid_until=None,
                source=ALIAS_SOURCE,
                driver_number=None,
            )
        )

    team_facts: dict[uuid.UUID, TeamFacts] = {}
    team_rows: list[TeamRow] = []
    own_teams = sorted(t for t in used_teams if t not in team_match)
    team_slugs = dict(zip(own_teams, _slugs_avoiding(own_teams, {t.slug for t in openf1.teams}), strict=True))
    for f1db_id in sorted(set(used_teams) | set(team_match)):
        constructor = rel.constructors.get(f1db_id)
        if constructor is None:
            continue
        nationality = _demonym(rel, constructor.country_id)
        if f1db_id in team_match:
            team_facts[team_match[f1db_id]] = TeamFacts(nationality)
            continue
        team_rows.append(
            TeamRow(
                id=team_row_id(f1db_id),
                name=constructor.name,
                slug=team_slugs[f1db_id],
                primary_color=None,
                nationality=nationality,
            )
        )

    circuit_facts: dict[uuid.UUID, CircuitFacts] = {}
    circuit_rows: list[CircuitRow] = []
    own_circuits = sorted(c for c in used_circuits if c not in circuit_match)
    circuit_slugs = _slugs_avoiding(own_circuits, {c.slug for c in openf1.circuits})
    for f1db_id in sorted(set(used_circuits) | set(circuit_match)):
        circuit = rel.circuits[f1db_id]
        length = round(circuit.length * 1000) if circuit.length is not None else None
        track_type = circuit.type.lower() if circuit.type else None
        if f1db_id in circuit_match:
            circuit_facts[circuit_match[f1db_id]] = CircuitFacts(
                circuit.latitude, circuit.longitude, length, track_type
            )
            continue
        country = rel.countries.get(circuit.country_id or "")
        circuit_rows.append(
            CircuitRow(
                id=circuit_row_id(f1db_id),
                name=circuit.name,
                slug=circuit_slugs[own_circuits.index(f1db_id)],
                location=circuit.place_name or circuit.name,
                country=country.name if country else (circuit.country_id or ""),
                country_code=country.alpha3_code if country else None,
                open_f1_circuit_key=None,
                latitude=circuit.latitude,
                longitude=circuit.longitude,
                length_meters=length,
                track_type=track_type,
            )
        )

    return F1dbPart(
        seasons=tuple(seasons.values()),
        circuits=tuple(circuit_rows),
        rounds=tuple(r for _, r, _ in rounds),
        sessions=tuple(sessions),
        drivers=tuple(driver_rows),
        teams=tuple(team_rows),
        entrants=tuple(entrant_rows.values()),
        results=tuple(result_rows),
        aliases=tuple(aliases),
        circuit_facts=circuit_facts,
        driver_facts=driver_facts,
        team_facts=team_facts,
        warnings=tuple(work.warnings),
        starts=tuple(sorted({s.start_time_utc for s in sessions})),
        session_results=made_for,
    )


def _session_key(
    addresses: Mapping[str, str],
    rf: RaceFiles,
    kind: SessionType,
    session_id: uuid.UUID,
    natural: str,
    who: str,
    origin: tuple[str, str],
) -> str | None:
    """The key of a session's results: everything :func:`_results` makes them of (the code aside: the
    shell keys its memo by it), its rows by their file's address and the fastest laps by theirs, its
    round's entrants and drivers by ``who`` (:func:`_who`); None when the file's address is not known."""
    folder = f"seasons/{rf.year}/races/{rf.folder}/"
    file = addresses.get(folder + _FILE_OF[kind])
    if file is None:
        return None
    laps = addresses.get(folder + FASTEST_LAPS, "-") if kind == SessionType.Race else "-"
    text = "\n".join((str(int(kind)), file, laps, str(session_id), natural, *origin, who))
    return hashlib.sha256(text.encode()).hexdigest()


def _who(entrant_of: Mapping[tuple[str, str], EntrantRow], driver_ids: Mapping[str, str]) -> str:
    """A round's entrants as its results read them: each (driver, constructor) pair, its entrant's id and
    the driver's identity (once per round, for each of its sessions' keys)."""
    return "\n".join(
        sorted(f"{d}\t{c}\t{e.id.int}\t{driver_ids.get(d)}" for (d, c), e in entrant_of.items())
    )


def _results(
    kind: SessionType,
    rows: list[Classified],
    session_id: uuid.UUID,
    session_natural: str,
    entrant_of: Mapping[tuple[str, str], EntrantRow],
    driver_ids: Mapping[str, str],
    fastest: Mapping[str, Classified],
    origin: tuple[str, str],
) -> list[ResultRow]:
    """One result per driver of a session: a driver with two rows (a shared car, a team-mate's car taken
    over) keeps the better-classified row, with the points summed and the other car noted. ``origin``:
    the provenance of every row (:meth:`Origins.of`)."""
    tag, path = origin
    # looked up once per session, not once per row (~100,000 rows in the whole history)
    race, qualifying, code_of_kind = kind in RACES, kind in QUALIFYING, int(kind)
    laps_of = fastest if kind == SessionType.Race else {}
    result_id = id_maker("f1db-result", session_natural, code_of_kind)
    source, finished = Source.F1DB.value, int(_FINISHED)
    by_driver: dict[str, list[Classified]] = defaultdict(list)
    for r in rows:
        if (r.driver_id, r.constructor_id) in entrant_of:
            by_driver[r.driver_id].append(r)
    out: list[ResultRow] = []
    for driver_id, mine in by_driver.items():
        if len(mine) > 1:
            mine.sort(key=lambda r: _rank(r.position))
        best, others = mine[0], mine[1:]
        entrant = entrant_of[(best.driver_id, best.constructor_id)]
        position, status, code = result_status(best.position)
        detail = code or (best.reason_retired or None)
        if detail is None and status is _FINISHED:
            detail = laps_detail(best.gap)
        points: float | None = None
        if race:
            given = [r.points for r in mine if r.points is not None]
            points = sum(given) if given else None
        if others:
            note = "; ".join(f"also car {o.driver_number or '?'} ({o.position})" for o in others)
            detail = f"{detail}; {note}" if detail else note
        millis: int | None = None
        q: list[str | None] = [None, None, None]
        if qualifying:
            q = [best.q1 or None, best.q2 or None, best.q3 or None]
            times = [m for m in (parse_millis(t) for t in (*q, best.time)) if m is not None]
            millis = min(times) if times else None
        else:
            millis = parse_millis(best.time)
        grid: int | None = None
        if race and best.grid_position:
            grid = PIT_LANE if best.grid_position == "PL" else (
                int(best.grid_position) if best.grid_position.isdigit() else None
            )
        lap = laps_of.get(driver_id)
        lap_rank = int(lap.position) if lap is not None and lap.position.isdigit() else None
        out.append(
            ResultRow(
                id=result_id(driver_ids[driver_id]),
                session_id=session_id,
                entrant_id=entrant.id,
                position=position,
                grid_position=grid,
                status=finished if status is _FINISHED else int(status),
                points=points,
                time=timedelta(milliseconds=millis) if race and millis is not None else None,
                laps=best.laps,
                fastest_lap=lap_rank == 1,
                time_milliseconds=millis,
                status_detail=detail,
                q1_time=q[0],
                q2_time=q[1],
                q3_time=q[2],
                car_number=best.driver_number,
                fastest_lap_number=lap.lap if lap is not None else None,
                fastest_lap_rank=lap_rank,
                fastest_lap_time=lap.time if lap is not None else None,
                source=source,
                source_version=tag,
                source_path=path,
            )
        )
    return out


class Origins(NamedTuple):
    """Where f1db's rows come from: the release in force, and the tag each unchanged file dates from."""

    release: str
    since: Mapping[str, str]

    def of(self, rf: RaceFiles, kind: SessionType) -> tuple[str, str]:
        """The provenance of a session's f1db rows: the release its file has been as it is since (the one
        in force, unless an older release of the store held the same file) and the file in the archive."""
        path = f"{DATA_PREFIX}seasons/{rf.year}/races/{rf.folder}/{_FILE_OF[kind]}"
        return self.since.get(path, self.release), path


def _fastest_laps(rf: RaceFiles) -> dict[str, Classified]:
    """Each driver's best row of the round's ``fastest-laps.yml``."""
    fastest: dict[str, Classified] = {}
    for r in rf.sessions.get(FASTEST_LAPS, []):
        if r.driver_id not in fastest or _rank(r.position) < _rank(fastest[r.driver_id].position):
            fastest[r.driver_id] = r
    return fastest


def _slugs_avoiding(bases: list[str], taken: set[str]) -> list[str]:
    """Slugs for ``bases`` unique among themselves and never one of ``taken`` (OpenF1's rows' own)."""
    out = unique_slugs([*sorted(taken), *bases])[len(taken) :]
    return out


def _union(first: Sequence[msgspec.Struct], second: Sequence[msgspec.Struct]) -> tuple:  # type: ignore[type-arg]
    """Both tables' rows by id (the first's row wins an id both have), sorted by id."""
    # keyed by the ids' integers, read by a C getter: UUID.__hash__ and __lt__ would be Python calls
    rows = dict(zip(map(_ID_INT, second), second, strict=True))
    rows.update(zip(map(_ID_INT, first), first, strict=True))
    return tuple(sorted(rows.values(), key=_ID_INT))


_ID_INT = attrgetter("id.int")


def _started(rows: Iterable[SessionRow], moved: Mapping[uuid.UUID, datetime]) -> list[SessionRow]:
    """``rows`` with f1db's start on the sessions it knows were moved (:func:`_moved`), as
    :data:`SESSION_PRECEDENCE` says."""
    if SESSION_PRECEDENCE["start_time_utc"] is not Source.F1DB:
        return list(rows)
    return [
        msgspec.structs.replace(r, start_time_utc=moved[r.id]) if r.id in moved else r for r in rows
    ]


def _with_facts(rows: Iterable[msgspec.Struct], facts: Mapping[uuid.UUID, msgspec.Struct]) -> list:  # type: ignore[type-arg]
    """``rows`` with f1db's facts set on the ones it matched."""
    return [
        msgspec.structs.replace(r, **msgspec.structs.asdict(facts[r.id]))  # type: ignore[attr-defined]
        if r.id in facts  # type: ignore[attr-defined]
        else r
        for r in rows
    ]


#: The UTC start of each session race.yml dates (a session without a time: its day at 00:00 UTC); for
#: ``ingest check``'s comparison with OpenF1.
session_starts = _schedule
