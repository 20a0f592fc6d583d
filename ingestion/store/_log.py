"""The event log's format: one Event per line, msgspec JSON. Pure: bytes in, events and problems out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

import msgspec

from ingestion.store.errors import InvalidRunId, NaiveDatetime
from ingestion.store.model import Event

__all__ = [
    "LogProblem",
    "ParsedLog",
    "encode_event",
    "event_order",
    "make_run_id",
    "parse_log",
    "to_utc",
    "validate_run_id",
]

_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


class LogProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A line of a log file that yields no event."""

    kind: Literal["torn-line", "unparsable-line"]
    line: int  # 1-based
    offset: int  # byte offset of the line in its file
    detail: str


class ParsedLog(msgspec.Struct, frozen=True, kw_only=True):
    events: list[Event]
    problems: list[LogProblem]
    #: bytes consumed: up to and including the last newline (a torn tail is not consumed).
    consumed: int
    lines: int  # complete lines consumed


def encode_event(event: Event) -> bytes:
    """One log line, newline included."""
    return _encoder.encode(event) + b"\n"


def parse_log(data: bytes, *, start_line: int = 1, start_offset: int = 0) -> ParsedLog:
    """Parse log bytes. A final fragment without its newline is a torn line (a write cut short)."""
    events: list[Event] = []
    problems: list[LogProblem] = []
    position = 0
    line = start_line
    end = len(data)
    while position < end:
        newline = data.find(b"\n", position)
        if newline < 0:
            problems.append(
                LogProblem(
                    kind="torn-line",
                    line=line,
                    offset=start_offset + position,
                    detail=f"{end - position} byte(s) without a final newline (a write cut short)",
                )
            )
            break
        raw = data[position:newline]
        try:
            events.append(_decoder.decode(raw))
        except msgspec.DecodeError as error:
            problems.append(
                LogProblem(
                    kind="unparsable-line", line=line, offset=start_offset + position, detail=str(error)
                )
            )
        position = newline + 1
        line += 1
    return ParsedLog(events=events, problems=problems, consumed=position, lines=line - start_line)


def event_order(event: Event) -> tuple[datetime, str, int]:
    """The one deterministic order of events: time received, then run, then sequence."""
    return (event.received_at, event.run, event.seq)


def to_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused (:class:`NaiveDatetime`)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(what, value)
    return value.astimezone(UTC)


def validate_run_id(run: str) -> str:
    if _RUN.fullmatch(run) is None:
        raise InvalidRunId(run)
    return run


def make_run_id(now: datetime, token: str) -> str:
    """``20241208T120000Z-a1b2c3``: sortable by time, unique by ``token`` (pure: the caller brings both)."""
    return validate_run_id(f"{to_utc(now, 'run time'):%Y%m%dT%H%M%SZ}-{token}")
