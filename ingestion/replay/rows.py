"""The racing rows replay produces, exactly as the tables of ``shared/SCHEMA.md`` hold them.

Each Struct carries the columns the ingester OWNS in its table, named as the table names them; columns the
app (or a person) fills in and OpenF1 does not know (``wikipedia_url``, ``logo_url``, ``date_of_birth``...)
are not part of the row, so replay never overwrites them. :data:`TABLES` lists, in load (foreign key)
order, each table replay writes with its row type, owned columns, the unique keys besides the primary key,
its foreign keys and the rows a replay removes (:class:`Scope`).

Ids are :class:`uuid.UUID` (uuid5 over natural keys, see :mod:`ingestion.replay.identity`); enum columns
are ints with the codes of SCHEMA.md, named by the IntEnums below. Warnings are data, not log lines.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timedelta

import msgspec

from ingestion.calendar import SessionStatus as SessionStatus
from ingestion.calendar import SessionType as SessionType
from ingestion.tables import RACING_TABLES, parents_of


class ResultStatus(enum.IntEnum):
    Finished = 0
    DNF = 1
    DNS = 2
    DSQ = 3
    NC = 4


class DriverRole(enum.IntEnum):
    Regular = 0
    Reserve = 1
    Fp1Only = 2
    Test = 3


class SeriesRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    slug: str


class SeasonRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    series_id: uuid.UUID
    year: int


class CircuitRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    slug: str
    location: str
    country: str
    country_code: str | None  # OpenF1's meeting country_code ("BRN"), from the circuit's latest meeting
    open_f1_circuit_key: int | None  # None: a circuit only f1db knows
    # f1db's facts (None from OpenF1, which has none of them)
    latitude: float | None = None
    longitude: float | None = None
    length_meters: int | None = None
    track_type: str | None = None  # f1db's type, lower case: race, street, road


class RoundRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    season_id: uuid.UUID
    circuit_id: uuid.UUID
    name: str
    slug: str
    round_number: int
    date_start: date
    date_end: date
    open_f1_meeting_key: int | None  # None: a round only f1db knows


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    round_id: uuid.UUID
    type: int  # SessionType
    start_time_utc: datetime
    status: int  # SessionStatus
    open_f1_session_key: int | None  # None: a session only f1db knows


class DriverRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    first_name: str
    last_name: str
    slug: str
    abbreviation: str | None
    headshot_url: str | None
    driver_number: int | None
    open_f1_driver_number: int | None
    # f1db's facts (None from OpenF1)
    nationality: str | None = None  # the demonym of f1db's nationality country ("British")
    date_of_birth: date | None = None
    place_of_birth: str | None = None


class TeamRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    slug: str
    primary_color: str | None  # upper-case hex without '#'
    nationality: str | None = None  # f1db's constructor country's demonym


class EntrantRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    round_id: uuid.UUID
    driver_id: uuid.UUID
    team_id: uuid.UUID
    role: int  # DriverRole


class ResultRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    session_id: uuid.UUID
    entrant_id: uuid.UUID
    position: int | None
    grid_position: int | None
    status: int  # ResultStatus
    points: float | None
    time: timedelta | None
    laps: int | None
    fastest_lap: bool
    time_milliseconds: int | None
    status_detail: str | None
    q1_time: str | None
    q2_time: str | None
    q3_time: str | None
    car_number: str | None
    # f1db's fastest laps (race sessions; None from OpenF1, which does not say)
    fastest_lap_number: int | None = None
    fastest_lap_rank: int | None = None
    fastest_lap_time: str | None = None
    # provenance: where this row's classification came from (docs/f1db.md, "Provenance"); None: unknown
    #: ``openf1`` or ``f1db`` (:class:`ingestion.replay.precedence.Source`)
    source: str | None = None
    #: f1db: the release's tag (``v2025.24.2``); OpenF1: the snapshot's address (sha256 of its body)
    source_version: str | None = None
    #: f1db: the classification file in the release (``src/data/seasons/2023/races/02-saudi-arabia/
    #: race-results.yml``); OpenF1: the request of that snapshot (``session_result?meeting_key=1229``)
    source_path: str | None = None


class DriverAliasRow(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    driver_id: uuid.UUID
    alias_name: str
    alias_slug: str
    valid_from: date | None
    valid_until: date | None
    source: str | None
    driver_number: int | None


class Racing(msgspec.Struct, frozen=True, kw_only=True):
    """Every racing row replay produces: one tuple per table, each sorted by id."""

    series: tuple[SeriesRow, ...] = ()
    seasons: tuple[SeasonRow, ...] = ()
    circuits: tuple[CircuitRow, ...] = ()
    rounds: tuple[RoundRow, ...] = ()
    sessions: tuple[SessionRow, ...] = ()
    drivers: tuple[DriverRow, ...] = ()
    teams: tuple[TeamRow, ...] = ()
    entrants: tuple[EntrantRow, ...] = ()
    results: tuple[ResultRow, ...] = ()
    driver_aliases: tuple[DriverAliasRow, ...] = ()

    def table(self, name: str) -> tuple[msgspec.Struct, ...]:
        """The rows of table ``name``."""
        rows: tuple[msgspec.Struct, ...] = getattr(self, name)
        return rows

    def counts(self) -> dict[str, int]:
        return {spec.name: len(self.table(spec.name)) for spec in TABLES}


class ReplayWarning(msgspec.Struct, frozen=True, kw_only=True):
    """Something replay skipped or could not use, with where it came from.

    ``request`` is the request key of the snapshot (``drivers?meeting_key=1215``), ``address`` its blob,
    ``row`` the index of the row in that snapshot's array; any of them is None when it does not apply.
    """

    kind: str
    message: str
    request: str | None = None
    address: str | None = None
    row: int | None = None


class PendingMatch(msgspec.Struct, frozen=True, kw_only=True):
    """A pair the sources cannot match with certainty, as a row of the app's ``"PendingMatches"`` queue
    (:mod:`ingestion.replay.matching`; one per OpenF1 candidate): never a racing row."""

    id: uuid.UUID
    entity_type: str  # Driver, Team, Circuit, Round
    incoming_name: str  # f1db's name and id
    candidate_entity_id: uuid.UUID | None  # the OpenF1 row it may be (our id; the load maps adopted ids)
    match_score: float


class Replayed(msgspec.Struct, frozen=True, kw_only=True):
    """What replay makes of a set of snapshots: the racing rows and the warnings."""

    racing: Racing
    warnings: tuple[ReplayWarning, ...] = ()
    #: ids of stored sessions and results whose upstream rows cannot be true (:mod:`.findings`): the load
    #: keeps their stored rows as they are (neither updated nor removed)
    held: frozenset[uuid.UUID] = frozenset()
    #: the pairs the sources cannot match with certainty (:mod:`.matching`): the app's queue
    pending: tuple[PendingMatch, ...] = ()
    #: a replayed id -> the id the same entity has when f1db alone replayed it (OpenF1's rows of entities
    #: f1db has too): adoption keeps that id where a database holds it (:mod:`.adopt`)
    formerly: dict[uuid.UUID, uuid.UUID] = {}

    def warning_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for warning in self.warnings:
            counts[warning.kind] = counts.get(warning.kind, 0) + 1
        return dict(sorted(counts.items()))


class Scope(msgspec.Struct, frozen=True):
    """The stored rows of a table that a replay answers for, and so REMOVES when its snapshots no longer hold
    them: rows that reach, through ``path`` (``(column, table)`` hops, the row's own column first), a row the
    replay produced in the last hop's table, and whose ``where`` columns hold those values.

    Whatever the scope, a row is kept while users' data depends on it (:mod:`ingestion.db.userdata`) or
    while a row of a racing table this replay does not write (results, with results off) points at it.
    The load deletes by it (SQL) and verify counts by it (pure): :mod:`ingestion.replay.scope`.
    """

    path: tuple[tuple[str, str], ...]
    where: tuple[tuple[str, str], ...] = ()


class TableSpec(msgspec.Struct, frozen=True):
    """One racing table: its name, row type, owned columns (id first), unique keys besides the id, the
    foreign keys the ingester writes and which of its stored rows a replay removes (None: never one)."""

    name: str
    row_type: type[msgspec.Struct]
    columns: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]
    #: (column, parent table) for each foreign key the ingester writes.
    parents: tuple[tuple[str, str], ...]
    removes: Scope | None = None


def _spec(
    name: str,
    row_type: type[msgspec.Struct],
    unique_keys: tuple[tuple[str, ...], ...],
    removes: Scope | None = None,
) -> TableSpec:
    """A table's spec: its parents are its foreign keys of :data:`ingestion.tables.FOREIGN_KEYS`."""
    columns = tuple(row_type.__struct_fields__)
    return TableSpec(name, row_type, columns, unique_keys, parents_of(name), removes)


_SPECS: tuple[TableSpec, ...] = (
    _spec("series", SeriesRow, (("slug",),)),
    _spec("seasons", SeasonRow, (("series_id", "year"),)),
    _spec("circuits", CircuitRow, (("open_f1_circuit_key",), ("slug",))),
    _spec("rounds", RoundRow, (("open_f1_meeting_key",), ("slug",))),
    _spec("sessions", SessionRow, (("open_f1_session_key",),)),
    _spec("drivers", DriverRow, (("slug",),)),
    _spec("teams", TeamRow, (("slug",),)),
    _spec(
        "entrants",
        EntrantRow,
        (("round_id", "driver_id", "team_id"),),
        Scope((("round_id", "rounds"),)),  # the entrants of the replayed rounds
    ),
    _spec(
        "results",
        ResultRow,
        (("session_id", "entrant_id"),),
        Scope((("session_id", "sessions"), ("round_id", "rounds"))),  # the results of the replayed rounds
    ),
    _spec(
        "driver_aliases",
        DriverAliasRow,
        (("driver_id", "alias_slug"),),
        # openf1's of the replayed drivers (f1db's are kept: an old slug stays an alias of its driver)
        Scope((("driver_id", "drivers"),), (("source", "openf1"),)),
    ),
)

#: The racing tables replay writes, in load order (parents before children): the order of the one list of
#: racing tables, :data:`ingestion.db.naming.RACING_TABLES`. Series, seasons, circuits, rounds, sessions,
#: drivers and teams are never removed (users' data points at sessions and rounds).
TABLES: tuple[TableSpec, ...] = tuple(
    spec for name in RACING_TABLES for spec in _SPECS if spec.name == name
)
assert len(TABLES) == len(_SPECS), "every replayed table is one of RACING_TABLES"

TABLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in TABLES)


def spec_of(name: str) -> TableSpec:
    for spec in TABLES:
        if spec.name == name:
            return spec
    raise KeyError(name)


#: The entrants key of a database that allows one entrant per driver and round (the app's own database).
DRIVER_KEY: tuple[str, ...] = ("round_id", "driver_id")


def one_entrant_per_driver(racing: Racing) -> Racing:
    """The rows for a database whose entrants are unique on (round, driver) (the app's own: its index is
    ``"IX_Entrants_RoundId_DriverId"``), where replay's one entrant per (round, driver, team) cannot all go.

    Per driver and round one entrant is kept: the one with the most results, then the lowest role code,
    then the smallest id; the results of the others point at it, and a result that would then repeat its
    session for that entrant is dropped. Pure; ``racing`` itself when no driver has two teams in a round.
    """
    per_entrant: dict[uuid.UUID, int] = {}
    for r in racing.results:
        per_entrant[r.entrant_id] = per_entrant.get(r.entrant_id, 0) + 1
    groups: dict[tuple[uuid.UUID, uuid.UUID], list[EntrantRow]] = {}
    for e in racing.entrants:
        groups.setdefault((e.round_id, e.driver_id), []).append(e)
    remap: dict[uuid.UUID, uuid.UUID] = {}
    for entrants in groups.values():
        if len(entrants) > 1:
            entrants.sort(key=lambda e: (-per_entrant.get(e.id, 0), e.role, e.id))
            remap.update((other.id, entrants[0].id) for other in entrants[1:])
    if not remap:
        return racing
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    results: list[ResultRow] = []
    for r in sorted(racing.results, key=lambda r: (r.entrant_id in remap, r.id)):  # kept entrants' own first
        entrant = remap.get(r.entrant_id, r.entrant_id)
        if (r.session_id, entrant) in seen:
            continue
        seen.add((r.session_id, entrant))
        results.append(r if entrant == r.entrant_id else msgspec.structs.replace(r, entrant_id=entrant))
    return msgspec.structs.replace(
        racing,
        entrants=tuple(e for e in racing.entrants if e.id not in remap),
        results=tuple(sorted(results, key=lambda r: r.id)),
    )
#: The tables replay deletes rows of: those whose spec declares a removal scope (results, entrants, openf1
#: driver aliases). Whatever the scope, rows users' data depends on are kept (:mod:`ingestion.db.userdata`).
REMOVABLE_TABLES: tuple[str, ...] = tuple(spec.name for spec in TABLES if spec.removes is not None)
