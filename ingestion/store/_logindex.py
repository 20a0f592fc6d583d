"""The store's parsed event log, kept per :class:`~ingestion.store.Store` instance and brought up to date
incrementally: a log file is append-only, so a file that grew is read from where the last parse stopped;
one whose inode, size and mtime are unchanged is not read again."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import msgspec

from ingestion.store._log import LogProblem, ParsedLog, parse_log
from ingestion.store.model import Event, Release

__all__ = ["FileState", "LogIndex"]

log = logging.getLogger("ingestion.store")


class FileState(msgspec.Struct, kw_only=True):
    """What was parsed from one log file, and the stat it was parsed at (for incremental re-reads)."""

    ino: int
    size: int
    mtime_ns: int
    consumed: int
    lines: int
    events: list[Event]
    problems: list[LogProblem]
    checksummed: bool
    releases: list[Release] = msgspec.field(default_factory=list)


class LogIndex:
    """What was parsed from each log file (by file name), and the stat it was parsed at."""

    def __init__(self) -> None:
        self.files: dict[str, FileState] = {}

    def refresh(self, paths: Iterable[Path], seals: Mapping[str, Sequence[str]] | None = None) -> bool:
        """Bring :attr:`files` up to date with ``paths`` (the log files, sorted); whether anything changed.
        ``seals``: the sealed hashes of the files from before checksums, by file name (:mod:`._seal`)."""
        seals = seals or {}
        seen: set[str] = set()
        changed = False
        for path in paths:
            seen.add(path.name)
            st = path.stat()
            old = self.files.get(path.name)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            if old is not None and (old.ino, old.size, old.mtime_ns) == stamp:
                continue
            changed = True
            parsed: ParsedLog | None = None
            if old is not None and old.ino == st.st_ino and st.st_size >= old.size:
                with path.open("rb") as f:
                    f.seek(old.consumed)
                    tail = f.read()
                parsed = parse_log(
                    tail,
                    start_line=old.lines + 1,
                    start_offset=old.consumed,
                    checksummed=old.checksummed,
                    seal=seals.get(path.name),
                )
                if parsed.checksummed and not old.checksummed and old.lines:
                    parsed = None  # the file turns out to carry checksums: judge its earlier lines again
            if old is not None and parsed is not None:
                kept = [p for p in old.problems if p.kind != "torn-line"]
                state = FileState(
                    ino=st.st_ino,
                    size=old.consumed + len(tail),
                    mtime_ns=st.st_mtime_ns,
                    consumed=old.consumed + parsed.consumed,
                    lines=old.lines + parsed.lines,
                    events=old.events + parsed.events,
                    releases=old.releases + parsed.releases,
                    problems=kept + parsed.problems,
                    checksummed=parsed.checksummed,
                )
            else:
                data = path.read_bytes()
                parsed = parse_log(data, seal=seals.get(path.name))
                state = FileState(
                    ino=st.st_ino,
                    size=len(data),
                    mtime_ns=st.st_mtime_ns,
                    consumed=parsed.consumed,
                    lines=parsed.lines,
                    events=parsed.events,
                    releases=parsed.releases,
                    problems=parsed.problems,
                    checksummed=parsed.checksummed,
                )
            for problem in parsed.problems:
                if problem.kind != "unparsable-line":
                    log.warning(
                        "%s line %d ignored (%s): %s", path, problem.line, problem.kind, problem.detail
                    )
            self.files[path.name] = state
        for name in set(self.files) - seen:
            del self.files[name]
            changed = True
        return changed
