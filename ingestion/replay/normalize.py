"""From snapshots to racing rows: PURE (no I/O, no clock: ``as_of`` is an argument).

``normalize(snapshots, as_of, results)`` decodes, for each (endpoint, meeting or year) a snapshot covers, the
latest snapshot covering it, unions the rows of different requests of one endpoint
(:mod:`~ingestion.replay.decoded`), then applies the rules of docs/replay.md, each learned from real OpenF1
data, concept by concept: the calendar (:mod:`~ingestion.replay.calendar`), the people
(:mod:`~ingestion.replay.people`) and the results behind the spoiler boundary
(:mod:`~ingestion.replay.results`); values are parsed by :mod:`~ingestion.replay.values`. Whatever it
cannot use becomes a :class:`~ingestion.replay.rows.Warning`, never an exception.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TypeVar

import msgspec

from ingestion.instant import utc_or_none
from ingestion.replay.calendar import calendar, drop_orphans, rounds, sessions
from ingestion.replay.decoded import Context, Decoded, Snapshot, decode_snapshots, pick
from ingestion.replay.f1db import OpenF1Links
from ingestion.replay.findings import hold
from ingestion.replay.people import driver_candidates, driver_rows, entrant_rows, team_rows
from ingestion.replay.results import result_rows
from ingestion.replay.rows import Racing, Replayed, ReplayWarning, ResultRow, SessionType
from ingestion.replay.values import local_date

__all__ = ["normalize", "normalize_decoded", "normalize_linked"]

R = TypeVar("R", bound=msgspec.Struct)


def normalize(snapshots: Sequence[Snapshot], as_of: datetime, *, results: bool) -> Replayed:
    """The racing rows and warnings for ``snapshots`` as of ``as_of`` (results only when ``results``)."""
    decoded, warnings = decode_snapshots(snapshots, results=results, as_of=as_of)
    return normalize_decoded(decoded, warnings, as_of, results=results)


def normalize_decoded(
    decoded: Decoded, warnings: Sequence[ReplayWarning], as_of: datetime, *, results: bool
) -> Replayed:
    """The rules applied to decoded rows (:func:`decode_snapshots`); ``warnings`` are carried over first."""
    return normalize_linked(decoded, warnings, as_of, results=results)[0]


def normalize_linked(
    decoded: Decoded, warnings: Sequence[ReplayWarning], as_of: datetime, *, results: bool
) -> tuple[Replayed, OpenF1Links]:
    """:func:`normalize_decoded`, and what f1db's rows are matched by (:class:`OpenF1Links`): each round's
    year and the Race session's days (in UTC and at the circuit), and each session's car numbers ->
    (driver, team) from OpenF1's drivers (so the match needs no results)."""
    cutoff = utc_or_none(as_of)
    if cutoff is None:
        raise ValueError(f"as_of is not a usable instant: {as_of!r}")
    ctx = Context(decoded, cutoff, results, list(warnings))

    known_sessions = sessions(ctx)
    known_rounds = rounds(ctx, known_sessions)
    drop_orphans(ctx, known_sessions, known_rounds)
    candidates = driver_candidates(ctx, known_sessions)
    cal = calendar(known_sessions, known_rounds, cutoff)

    drivers, aliases = driver_rows(candidates)
    teams = team_rows(candidates)
    entrants = entrant_rows(candidates, known_sessions, known_rounds, cal.rounds, drivers, teams)
    results_rows: list[ResultRow] = []
    if results:
        results_rows = result_rows(ctx, known_sessions, cal.sessions, candidates, entrants)

    staged = Racing(
        series=(cal.series,),
        seasons=_sorted(cal.seasons.values()),
        circuits=_sorted(cal.circuits.values()),
        rounds=_sorted(cal.rounds.values()),
        sessions=_sorted(cal.sessions.values()),
        drivers=_sorted(d for d, _ in drivers.values()),
        teams=_sorted(teams.values()),
        entrants=_sorted(e for e, _ in entrants.values()),
        results=_sorted(results_rows),
        driver_aliases=_sorted(aliases),
    )
    race_days: dict[uuid.UUID, frozenset[date]] = {r.id: frozenset() for r in cal.rounds.values()}
    cars: dict[uuid.UUID, dict[tuple[int, int], tuple[uuid.UUID, uuid.UUID]]] = defaultdict(dict)
    for s in known_sessions.values():
        if s.type == SessionType.Race:
            mk = s.session.meeting_key
            round_id = cal.rounds[mk].id
            offset = s.session.gmt_offset or known_rounds[mk].meeting.gmt_offset
            race_days[round_id] = frozenset({s.start.date(), local_date(s.start, offset)})
    for (session_key, number), c in sorted(candidates.items()):
        s = known_sessions[session_key]
        round_id = cal.rounds[s.session.meeting_key].id
        cars[round_id][(int(s.type), number)] = (drivers[c.identity][0].id, teams[c.team_slug].id)
    links = OpenF1Links(
        rounds={r.id: (known_rounds[mk].year, race_days[r.id]) for mk, r in cal.rounds.items()},
        cars=dict(cars),
        identities={row.id: identity for identity, (row, _) in drivers.items()},
    )
    held = hold(staged, _inverted(decoded))
    replayed = Replayed(racing=held.racing, warnings=(*ctx.warnings, *held.findings), held=held.ids)
    return replayed, links


def _inverted(decoded: Decoded) -> dict[int, tuple[datetime, datetime]]:
    """The sessions whose date_end is before their date_start: (start, end) by session key."""
    out: dict[int, tuple[datetime, datetime]] = {}
    for key, entries in decoded.sessions.items():
        session, _ = pick(entries)
        start, end = utc_or_none(session.date_start), utc_or_none(session.date_end)
        if start is not None and end is not None and end < start:
            out[key] = (start, end)
    return out


def _sorted(rows: Iterable[R]) -> tuple[R, ...]:
    # by the id's integer: the same order as the UUIDs' (UUID compares its .int), without UUID.__lt__
    return tuple(sorted(rows, key=lambda r: getattr(r, "id").int))  # noqa: B009
