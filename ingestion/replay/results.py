"""Results, PURE, and the spoiler boundary: a session's results exist only once it has ended as of
``as_of``, and only when results are asked for (``--no-results`` writes none). Rules in docs/replay.md."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from ingestion.calendar import GRID_FROM, QUALIFYING, RACES, SessionType, has_ended
from ingestion.openf1.wire import SessionResult
from ingestion.replay.calendar import SessionInfo
from ingestion.replay.decoded import Context, Origin, pick
from ingestion.replay.identity import make_id
from ingestion.replay.people import Candidate
from ingestion.replay.precedence import Source
from ingestion.replay.rows import EntrantRow, ResultRow, ResultStatus, SessionRow
from ingestion.replay.values import int4, lap_time, laps_detail, parse_seconds, to_millis

__all__ = ["result_rows", "result_status"]

# Warning kinds.
RESULT_WITHOUT_ENTRANT = "result_without_entrant"
RESULT_DUPLICATE = "result_duplicate"


def result_status(result: SessionResult) -> ResultStatus:
    if result.dsq:
        return ResultStatus.DSQ
    if result.dns:
        return ResultStatus.DNS
    if result.dnf:
        return ResultStatus.DNF
    if result.position is None:
        return ResultStatus.NC
    return ResultStatus.Finished


def result_rows(
    ctx: Context,
    sessions: dict[int, SessionInfo],
    session_rows: dict[int, SessionRow],
    candidates: dict[tuple[int, int], Candidate],
    entrants: dict[tuple[int, str, str], tuple[EntrantRow, str]],
) -> list[ResultRow]:
    cutoff = ctx.as_of
    by_meeting_number: dict[tuple[int, int], set[tuple[str, str]]] = defaultdict(set)
    for c in candidates.values():
        by_meeting_number[(c.meeting_key, c.row.driver_number)].add((c.identity, c.team_slug))
    # the qualifying session each race takes its grid from (the latest of that type in the meeting)
    grid_session: dict[tuple[int, SessionType], int] = {}
    for session_key, s in sorted(sessions.items(), key=lambda kv: (kv[1].start, kv[0])):
        grid_session[(s.session.meeting_key, s.type)] = session_key
    out: dict[object, ResultRow] = {}
    for key in sorted(ctx.decoded.results):
        sk, number = key
        session = sessions.get(sk)
        if session is None or not has_ended(session.start, session.end, cutoff):
            continue  # unknown or skipped session, or not ended as of as_of: no results (yet)
        result, origin = pick(ctx.decoded.results[key])
        mk = session.session.meeting_key
        candidate = candidates.get(key)
        if candidate is not None:
            who = (candidate.identity, candidate.team_slug)
        else:
            options = by_meeting_number.get((mk, number), set())
            if len(options) != 1:
                why = "no driver" if not options else f"{len(options)} drivers"
                ctx.warn(
                    RESULT_WITHOUT_ENTRANT,
                    f"session {sk}: result of #{number} skipped: {why} "
                    "with that number in the session or meeting",
                    origin,
                )
                continue
            who = next(iter(options))
        entrant, natural = entrants[(mk, who[0], who[1])]
        since = ctx.decoded.since.get(key, origin)  # the answer the row has been as it is since
        row = result_row(result, session, session_rows[sk], entrant, natural, ctx, grid_session, since)
        kept = out.get(row.id)
        if kept is not None:
            ctx.warn(
                RESULT_DUPLICATE,
                f"session {sk}: #{number} and car {kept.car_number} are the same entrant: "
                "the first result kept",
                origin,
            )
            continue
        out[row.id] = row
    return list(out.values())


def result_row(
    result: SessionResult,
    session: SessionInfo,
    session_row: SessionRow,
    entrant: EntrantRow,
    entrant_natural: str,
    ctx: Context,
    grid_session: dict[tuple[int, SessionType], int],
    origin: Origin,
) -> ResultRow:
    """One OpenF1 result as a row; its provenance is ``origin``'s snapshot (address) and request."""
    kind = session.type
    mk = session.session.meeting_key
    time: timedelta | None = None
    millis: int | None = None
    q: list[str | None] = [None, None, None]
    if isinstance(result.duration, list):
        parts = [parse_seconds(v) for v in result.duration[:3]]
        times = [p for p in parts if p is not None]
        for i, part in enumerate(parts):
            q[i] = lap_time(to_millis(part)) if part is not None else None
        millis = to_millis(min(times)) if times else None
    else:
        seconds = parse_seconds(result.duration)
        if seconds is not None:
            millis = to_millis(seconds)
            if kind in RACES:
                time = timedelta(milliseconds=millis)
    if kind not in QUALIFYING:
        q = [None, None, None]
    grid: int | None = None
    source = GRID_FROM.get(kind)
    if source is not None:
        qsk = grid_session.get((mk, source))
        entries = ctx.decoded.grid.get((qsk, result.driver_number)) if qsk is not None else None
        if entries:
            grid = int4(pick(entries)[0].position)
    points = result.points if kind in RACES else None
    if points is not None and (points != points or abs(points) > 1e6):
        points = None
    return ResultRow(
        id=make_id("result", session.session.session_key, entrant_natural),
        session_id=session_row.id,
        entrant_id=entrant.id,
        position=int4(result.position),
        grid_position=grid,
        status=int(result_status(result)),
        points=points,
        time=time,
        laps=int4(result.number_of_laps),
        fastest_lap=False,
        time_milliseconds=millis,
        status_detail=laps_detail(result.gap_to_leader),
        q1_time=q[0],
        q2_time=q[1],
        q3_time=q[2],
        car_number=str(result.driver_number),
        source=Source.OPENF1.value,
        source_version=origin.address,
        source_path=origin.request,
    )
