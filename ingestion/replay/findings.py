"""Upstream oddities that become findings, not changes (issue 21). Pure.

A row OpenF1 gives that cannot be true is never applied: replay keeps the last good row (the database's,
untouched: neither updated nor removed; a row never stored is not inserted) and reports a *finding*, a
warning of one of :data:`FINDING_KINDS`, which makes ``ingest replay`` exit 1 after committing the rest.

- ``session_dates_inverted``: a session whose ``date_end`` is before its ``date_start`` (it would stay
  InProgress for ever and lose its results): the session and its results are held;
- ``result_position_impossible``: a position outside 1..:data:`MAX_POSITION` (-3, 0, 999);
  ``result_laps_negative``: a negative ``number_of_laps``: the result is held;
- found by the load against the stored rows (:mod:`ingestion.replay.load`): ``session_moved`` (a stored
  session OpenF1 now files under another meeting: it stays on its round, so users' diary entries stay
  where they were, and its results are held) and ``meeting_missing`` (a stored round of a replayed season
  that the snapshots no longer list, cancelled or gone: the season's stored rounds keep their numbers, and
  nothing of the season is removed);
- found by the f1db merge (:mod:`ingestion.replay.matching`): ``identity_uncertain``, an f1db entity
  (driver, team, circuit, round) whose OpenF1 row cannot be told with certainty: f1db's side of it is held
  (its rows are not written; stored ones are kept as they are) until the committed override file decides;
- found by f1db's merge (:mod:`ingestion.replay.placing`): ``f1db_row_unplaced``, f1db's classification of
  a driver in a round OpenF1 has, who cannot be put on an OpenF1 entrant with certainty (OpenF1 never
  listed him there and his driver or constructor is not matched one-to-one, or he has two entrants): his
  rows are left out, never put on a guessed driver.

A real cancellation (``is_cancelled``) is applied, not held: the round stays, numbered as before, and its
sessions become Cancelled (:mod:`ingestion.replay.calendar`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import msgspec

from ingestion.instant import format_utc
from ingestion.replay.rows import Racing, ReplayWarning

__all__ = [
    "F1DB_ROW_UNPLACED",
    "FINDING_KINDS",
    "IDENTITY_UNCERTAIN",
    "MAX_POSITION",
    "MEETING_MISSING",
    "RESULT_LAPS_NEGATIVE",
    "RESULT_POSITION_IMPOSSIBLE",
    "SESSION_DATES_INVERTED",
    "SESSION_MOVED",
    "Held",
    "hold",
]

SESSION_DATES_INVERTED = "session_dates_inverted"
RESULT_POSITION_IMPOSSIBLE = "result_position_impossible"
RESULT_LAPS_NEGATIVE = "result_laps_negative"
SESSION_MOVED = "session_moved"
MEETING_MISSING = "meeting_missing"
F1DB_ROW_UNPLACED = "f1db_row_unplaced"
IDENTITY_UNCERTAIN = "identity_uncertain"
#: The warnings that are findings: what was held, and why ``ingest replay`` exits 1.
FINDING_KINDS = frozenset(
    {
        SESSION_DATES_INVERTED,
        RESULT_POSITION_IMPOSSIBLE,
        RESULT_LAPS_NEGATIVE,
        SESSION_MOVED,
        MEETING_MISSING,
        F1DB_ROW_UNPLACED,
        IDENTITY_UNCERTAIN,
    }
)
#: The highest finishing position there can be (a grid never had more than 34 cars).
MAX_POSITION = 99


class Held(msgspec.Struct, frozen=True, kw_only=True):
    """The rows without the held ones, the held ids (sessions and results), and the findings."""

    racing: Racing
    ids: frozenset[uuid.UUID]
    findings: tuple[ReplayWarning, ...]


def hold(racing: Racing, inverted: Mapping[int, tuple[datetime, datetime]]) -> Held:
    """Take out of ``racing`` the sessions whose dates are inverted (``inverted``: session key -> (start,
    end)) with their results, and the results with an impossible position or negative laps."""
    findings: list[ReplayWarning] = []
    ids: set[uuid.UUID] = set()
    sessions = []
    for s in racing.sessions:
        dates = None if s.open_f1_session_key is None else inverted.get(s.open_f1_session_key)
        if dates is None:
            sessions.append(s)
            continue
        ids.add(s.id)
        findings.append(
            ReplayWarning(
                kind=SESSION_DATES_INVERTED,
                message=f"session {s.open_f1_session_key}: date_end {format_utc(dates[1])} is before "
                f"date_start {format_utc(dates[0])}: its stored row and results are kept",
            )
        )
    results = []
    for r in racing.results:
        if r.session_id in ids:
            continue
        why = None
        if r.position is not None and not 1 <= r.position <= MAX_POSITION:
            why = (RESULT_POSITION_IMPOSSIBLE, f"position {r.position}")
        elif r.laps is not None and r.laps < 0:
            why = (RESULT_LAPS_NEGATIVE, f"laps {r.laps}")
        if why is None:
            results.append(r)
            continue
        ids.add(r.id)
        findings.append(
            ReplayWarning(
                kind=why[0],
                message=f"result {r.id} (car {r.car_number}): {why[1]} cannot be true: its stored row "
                "is kept",
            )
        )
    held = msgspec.structs.replace(racing, sessions=tuple(sessions), results=tuple(results))
    return Held(racing=held, ids=frozenset(ids), findings=tuple(findings))
