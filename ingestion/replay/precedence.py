"""Which source wins a result field when both OpenF1 and f1db have the session: PURE data, declared once.

The FIA's classification comes from f1db once f1db has the session (from OpenF1 until then); what only
OpenF1 has (session and meeting keys, headshots, team colours) stays OpenF1's; a session's start comes from
the source that knows it was moved. A result's provenance (:data:`PROVENANCE`: its source, release or
snapshot, file or request) goes with its classification. docs/f1db.md ("Precedence") shows these tables.
"""

from __future__ import annotations

import enum

__all__ = ["CLASSIFICATION", "PRECEDENCE", "PROVENANCE", "SESSION_PRECEDENCE", "Source"]


class Source(enum.StrEnum):
    OPENF1 = "openf1"
    F1DB = "f1db"


#: ResultRow field -> the source whose value is kept when both sources classify the session.
PRECEDENCE: dict[str, Source] = {
    "position": Source.F1DB,
    "status": Source.F1DB,
    "status_detail": Source.F1DB,
    "points": Source.F1DB,
    "grid_position": Source.F1DB,  # pit-lane starts as 0 (f1db's PL)
    "laps": Source.F1DB,
    "time": Source.F1DB,
    "time_milliseconds": Source.F1DB,
    "q1_time": Source.F1DB,
    "q2_time": Source.F1DB,
    "q3_time": Source.F1DB,
    "fastest_lap": Source.F1DB,
    "fastest_lap_number": Source.F1DB,
    "fastest_lap_rank": Source.F1DB,
    "fastest_lap_time": Source.F1DB,
    # the provenance goes with the classification: f1db, its tag and file, once f1db's classification wins
    "source": Source.F1DB,
    "source_version": Source.F1DB,
    "source_path": Source.F1DB,
    # ids, the session and entrant a row belongs to, and the car number stay OpenF1's
    "id": Source.OPENF1,
    "session_id": Source.OPENF1,
    "entrant_id": Source.OPENF1,
    "car_number": Source.OPENF1,
}

#: The ResultRow fields that say where its classification came from (docs/f1db.md, "Provenance").
PROVENANCE: tuple[str, ...] = ("source", "source_version", "source_path")

#: The fields f1db's classification overwrites (its provenance included).
CLASSIFICATION: tuple[str, ...] = tuple(f for f, s in PRECEDENCE.items() if s is Source.F1DB)

#: SessionRow field -> the source whose value is kept when both sources have the session. The start comes
#: from the source that knows the session was moved: f1db's date and time once f1db has classified the
#: session and gives its time (2024 on; f1db writes them after the session ran: 2024 Sao Paulo qualifying,
#: postponed by rain to the Sunday morning, 2024-11-03 10:30 UTC), OpenF1's published schedule until then
#: and where f1db gives only a date (before 2024).
SESSION_PRECEDENCE: dict[str, Source] = {
    "start_time_utc": Source.F1DB,
    "id": Source.OPENF1,
    "round_id": Source.OPENF1,
    "type": Source.OPENF1,
    "status": Source.OPENF1,
    "open_f1_session_key": Source.OPENF1,
}
