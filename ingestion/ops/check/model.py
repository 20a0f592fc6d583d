"""What ``ingest check`` reads (a round's sessions, result rows and regular entrants, as the database holds
them) and what it returns (findings, each with the request that shows it, in a report)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import msgspec

__all__ = [
    "FIELDS", "KINDS", "CheckReport", "Disagreement", "Entrant", "Finding", "Round", "Row", "Session",
    "Snapshot", "Where",
]

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


#: Every field the sources are compared on (:mod:`ingestion.ops.check.sources`), in report order.
FIELDS: dict[str, str] = {
    "rows": "a session one source classifies with no row at all",
    "row": "a car one source has a row for and the other has not",
    "position": "the classified position",
    "status": "the classification code (classified, DNF, DNS, DSQ, NC)",
    "points": "points of a Race or Sprint",
    "grid": "the starting grid slot (PL: pit lane)",
    "laps": "laps completed",
    "q1": "Q1 time",
    "q2": "Q2 time",
    "q3": "Q3 time",
    "start": "the session's start time (UTC)",
}


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


class Where(msgspec.Struct, frozen=True, kw_only=True):
    """The session and driver a finding or a disagreement is about."""

    season: int
    round: int
    round_name: str
    session: str  # "Race", "Sprint", "Qualifying", "SprintQualifying"
    session_key: int | None
    driver: str | None
    driver_number: int | None


class Finding(Where, frozen=True, kw_only=True):
    """Where OpenF1 disagrees with the regulations, with the request that shows it."""

    kind: str
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


class Disagreement(Where, frozen=True, kw_only=True):
    """A field of a session both sources have where OpenF1 and f1db disagree, with both sides' evidence:
    the OpenF1 request (and the stored answer), the f1db file, its row and the release. f1db follows the
    FIA's classification: it is presumed right (``right``), so the line is a report to OpenF1."""

    field: str  # one of FIELDS
    openf1: str
    f1db: str
    request: str  # the OpenF1 request that shows OpenF1's side
    f1db_file: str  # "src/data/seasons/2023/races/02-saudi-arabia/race-results.yml"
    f1db_row: int | None  # 1-based row of the file (None: the file has no row for the car)
    release: str  # the f1db release tag: "v2025.24.2"
    right: str = "f1db"
    meeting_key: int | None = None
    snapshot: Snapshot | None = None


class CheckReport(msgspec.Struct, frozen=True, kw_only=True):
    seasons: tuple[int, ...]
    rounds: int
    sessions: int  # classified sessions looked at (Q, SQ, S, R)
    findings: tuple[Finding, ...] = ()
    #: the store's known gaps (answers that cannot be true, asked again on a back-off), one line each: shown,
    #: not findings (the database keeps the earlier rows)
    gaps: tuple[str, ...] = ()
    #: the last replay's findings (upstream oddities whose last good rows it kept: ingestion.replay.findings)
    replay_findings: tuple[str, ...] = ()
    #: the f1db release compared with (None: the store holds none, and nothing is compared)
    release: str | None = None
    #: where OpenF1 and f1db disagree (:mod:`ingestion.ops.check.sources`)
    disagreements: tuple[Disagreement, ...] = ()
    #: regulation findings f1db's codes explain (a pit-lane start, a car f1db classifies NC): not findings
    explained: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings and not self.replay_findings and not self.disagreements

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        """Findings per kind, in :data:`KINDS` order (kinds without a finding left out)."""
        counted = Counter(f.kind for f in self.findings)
        return {kind: counted[kind] for kind in KINDS if counted[kind]}

    def disagreement_counts(self) -> dict[str, int]:
        """Disagreements per field, in :data:`FIELDS` order (fields without one left out)."""
        counted = Counter(d.field for d in self.disagreements)
        return {name: counted[name] for name in FIELDS if counted[name]}
