"""The event log's format: one Event per line, msgspec JSON, with its own checksum. Pure: bytes in, events
and problems out.

A line is the event's JSON with one more member at the end, ``"crc32":"<8 hex>"``: the CRC-32 of the
event's JSON without that member (``{...}``), so every single-bit flip and every burst of up to 32 bits is
detected. Lines written before checksums existed (the committed ``snapshots/``) have no ``crc32`` and are
read as they are; but in a file where any line carries a checksum, every line must (a flip in the member's
name cannot turn a checked line into an unchecked one unnoticed).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import msgspec

from ingestion.instant import as_utc
from ingestion.store._seal import line_hash
from ingestion.store.errors import InvalidRunId, NaiveDatetime
from ingestion.store.model import Event, Release

__all__ = [
    "LogProblem",
    "ParsedLog",
    "ProblemKind",
    "aware_utc",
    "checked_line",
    "checksum",
    "encode_event",
    "event_order",
    "make_run_id",
    "parse_log",
    "validate_run_id",
]

_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)
_release_decoder = msgspec.json.Decoder(Release)
#: How a release line starts (its ``kind`` member comes first); an Event line never has ``kind``.
_RELEASE_START = b'{"kind":"release"'
#: The checksum member, as the writer puts it at the end of every line.
_CRC = re.compile(rb',"crc32":"([0-9a-f]{8})"\}\Z')
_CRC_LENGTH = len(b',"crc32":"00000000"}')


class _Checked(msgspec.Struct, frozen=True):
    """The checksum member alone (for lines whose layout is not exactly the writer's)."""

    crc32: str | None = None


_checked_decoder = msgspec.json.Decoder(_Checked)

ProblemKind = Literal["torn-line", "unparsable-line", "damaged-line", "damaged-seal"]


class LogProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A line of a log file that yields no event.

    ``torn-line``: a last line without its newline (a write cut short); ``damaged-line``: a line whose
    checksum does not match, or that has none (or does not parse) in a file whose lines carry one, or a line
    of a sealed file (:mod:`._seal`) that does not hash to its sealed entry (or is not in the seal);
    ``unparsable-line``: a complete line without checksum that does not parse (a file from before checksums,
    not sealed); ``damaged-seal``: the seal itself cannot be trusted (reported by the store, not the parser).
    """

    kind: ProblemKind
    line: int  # 1-based
    offset: int  # byte offset of the line in its file
    detail: str


class ParsedLog(msgspec.Struct, frozen=True, kw_only=True):
    events: list[Event]
    #: release lines (:class:`Release`), in file order
    releases: list[Release] = msgspec.field(default_factory=list)
    problems: list[LogProblem]
    #: bytes consumed: up to and including the last newline (a torn tail is not consumed).
    consumed: int
    lines: int  # complete lines consumed
    #: whether the file's lines carry checksums (then every line must)
    checksummed: bool


def checksum(event_json: bytes) -> str:
    """The checksum of an event's JSON (``{...}``, without the checksum member): CRC-32, 8 hex digits."""
    return f"{zlib.crc32(event_json):08x}"


def encode_event(event: Event | Release) -> bytes:
    """One log line, newline included: the event's JSON with its checksum as the last member."""
    body = _encoder.encode(event)
    return body[:-1] + b',"crc32":"' + checksum(body).encode() + b'"}\n'


def _decode(data: bytes) -> Event | Release:
    """An event line's JSON: a :class:`Release` when it says ``"kind":"release"``, else an :class:`Event`."""
    if data.startswith(_RELEASE_START):
        return _release_decoder.decode(data)
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError:
        if b'"kind"' not in data:
            raise
        return _release_decoder.decode(data)  # a release line in another layout (an edited line)


def _read_line(raw: bytes) -> tuple[Event | Release | None, bool, str]:
    """(the event or None, whether the line carries a checksum, why it yields no event)."""
    match = _CRC.search(raw)
    if match is not None:  # the writer's exact layout: check the bytes as written
        body = raw[: len(raw) - _CRC_LENGTH] + b"}"
        got = checksum(body)
        if got != match.group(1).decode():
            said = match.group(1).decode()
            return None, True, f"checksum mismatch: the line says {said}, its bytes give {got}"
        try:
            return _decode(body), True, ""
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            return None, True, f"checksum matches but the event does not parse ({error})"
    try:
        event = _decode(raw)
        said = _checked_decoder.decode(raw).crc32
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return None, b'"crc32"' in raw, str(error)
    if said is None:
        if isinstance(event, Release):  # releases came after checksums: a line without one was damaged
            return None, True, "a release line without its checksum (every release line is written with one)"
        return event, False, ""
    got = checksum(_encoder.encode(event))  # another layout (an edited line): check the event it says
    if got != said:
        return None, True, f"checksum mismatch: the line says {said}, its event gives {got}"
    return event, True, ""


def checked_line(raw: bytes) -> bool:
    """Whether ``raw`` (a line without its newline) carries a checksum its event matches."""
    event, checked, _ = _read_line(raw)
    return event is not None and checked


def parse_log(
    data: bytes,
    *,
    start_line: int = 1,
    start_offset: int = 0,
    checksummed: bool | None = None,
    seal: Sequence[str] | None = None,
) -> ParsedLog:
    """Parse log bytes. A final fragment without its newline is a torn line (a write cut short).

    ``checksummed``: whether the file's earlier lines carry checksums (None: decide from ``data``, as for a
    whole file: any line with a checksum makes every line need one). ``seal``: the sealed hashes of the
    file's lines (:mod:`._seal`; line N is entry N-1), when it is sealed: every line without a checksum
    must hash to its entry.
    """
    lines_read: list[tuple[int, int, Event | Release | None, bool, str]] = []
    unsealed: set[int] = set()
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
        event, checked, why = _read_line(raw)
        if seal is not None and not checked:
            index = line - 1
            if index >= len(seal):
                unsealed.add(line)
                why = f"not in the seal ({len(seal)} sealed line(s)), and no checksum"
            elif line_hash(raw) != seal[index]:
                unsealed.add(line)
                why = f"does not match its sealed hash ({seal[index][:12]}...)"
        lines_read.append((line, start_offset + position, event, checked, why))
        position = newline + 1
        line += 1
    sealed = bool(checksummed) or any(checked for _, _, _, checked, _ in lines_read)
    events: list[Event] = []
    releases: list[Release] = []
    complete: list[LogProblem] = []
    for number, offset, event, checked, why in lines_read:
        if event is not None and number not in unsealed and (checked or not sealed):
            if isinstance(event, Release):
                releases.append(event)
            else:
                events.append(event)
            continue
        if event is not None and number not in unsealed:
            why = "no checksum, in a file whose lines carry one"
        kind: ProblemKind = "damaged-line" if sealed or seal is not None else "unparsable-line"
        complete.append(LogProblem(kind=kind, line=number, offset=offset, detail=why))
    return ParsedLog(
        events=events,
        releases=releases,
        problems=complete + problems,
        consumed=position,
        lines=line - start_line,
        checksummed=sealed,
    )


def event_order(event: Event | Release) -> tuple[datetime, str, int]:
    """The one deterministic order of events: time received, then run, then sequence."""
    return (event.received_at, event.run, event.seq)


def aware_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC (:func:`ingestion.instant.as_utc`, the one conversion); the store refuses a naive
    datetime (:class:`NaiveDatetime`) where :func:`~ingestion.instant.as_utc` would take it as UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(what, value)
    return as_utc(value)


def validate_run_id(run: str) -> str:
    if _RUN.fullmatch(run) is None:
        raise InvalidRunId(run)
    return run


def make_run_id(now: datetime, token: str) -> str:
    """``20241208T120000Z-a1b2c3``: sortable by time, unique by ``token`` (pure: the caller brings both)."""
    return validate_run_id(f"{aware_utc(now, 'run time'):%Y%m%dT%H%M%SZ}-{token}")
