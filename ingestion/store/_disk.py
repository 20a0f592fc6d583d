"""The on-disk store: blobs under ``objects/``, the event log under ``log/``, one writer at a time.

Layout under the root::

    objects/ab/cdef...   zstd (level 3) of a body; the name is the sha256 of the UNCOMPRESSED body
    log/<run>.jsonl      one Event per line, one file per run, append-only
    tmp/                 blobs being written (fsync, then rename into objects/); never read
    lock                 the writer's lock file (fcntl.flock)
    .gitignore           keeps lock and tmp/ out of git (written once, by the first writer)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_hex
from types import TracebackType

import msgspec
import zstandard

from ingestion.store._files import exclusive_lock, fsync_dir, make_dirs, write_all, write_atomic
from ingestion.store._log import (
    LogProblem,
    ParsedLog,
    encode_event,
    event_order,
    make_run_id,
    parse_log,
    to_utc,
    validate_run_id,
)
from ingestion.store.address import Address, address_of, is_address, parse_address
from ingestion.store.check import body_mismatch
from ingestion.store.errors import (
    BlobCorrupt,
    BlobMismatch,
    BlobMissing,
    LogCorrupt,
    RunExists,
    StoreUnwritable,
    WriterClosed,
)
from ingestion.store.model import Event, Request

__all__ = ["DEFAULT_LOCK_TIMEOUT", "ZSTD_LEVEL", "LogIssue", "Store", "Writer", "write_durably"]

log = logging.getLogger("ingestion.store")

ZSTD_LEVEL = 3
DEFAULT_LOCK_TIMEOUT = 10.0
LOG_SUFFIX = ".jsonl"
GITIGNORE = "# the snapshot store's writer lock and half-written blobs are not data\n/lock\n/tmp/\n"


class LogIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A problem in one log file (see :class:`LogProblem`), with the file it is in."""

    path: Path
    problem: LogProblem


class _FileState(msgspec.Struct, kw_only=True):
    """What was parsed from one log file, and the stat it was parsed at (for incremental re-reads)."""

    ino: int
    size: int
    mtime_ns: int
    consumed: int
    lines: int
    events: list[Event]
    problems: list[LogProblem]
    checksummed: bool


def write_durably(path: Path, data: bytes) -> None:
    """Make ``path`` hold ``data``, all or nothing: a temporary file beside it, fsynced, renamed over it,
    the folder fsynced. (Used by ``fsck --repair``; the log itself is only ever appended to.)"""
    try:
        write_atomic(path, data, tmp_dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise StoreUnwritable(path, error) from None


class Store:
    """A snapshot store rooted at ``root`` (created on the first write; reading a missing store is empty).

    Readers need no lock. :meth:`writer` takes the lock file; one writer at a time.
    The parsed log is cached per instance and re-read (incrementally) whenever a log file grows.
    """

    def __init__(self, root: Path, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self._files: dict[str, _FileState] = {}
        self._sorted: list[Event] | None = None
        self._latest: dict[datetime | None, dict[str, Event]] = {}
        #: (run, seq) -> (inode, size, mtime_ns) of the blob file when its event last checked out
        self._answers: dict[tuple[str, int], tuple[int, int, int]] = {}

    # --- layout -------------------------------------------------------------------------------------
    @property
    def objects_dir(self) -> Path:
        return self.root / "objects"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    def blob_path(self, address: str) -> Path:
        """``objects/ab/cdef...`` for a valid address (:class:`InvalidAddress` otherwise)."""
        valid = parse_address(address)
        return self.objects_dir / valid[:2] / valid[2:]

    def log_path(self, run: str) -> Path:
        return self.log_dir / f"{validate_run_id(run)}{LOG_SUFFIX}"

    # --- blobs --------------------------------------------------------------------------------------
    def has(self, address: str) -> bool:
        return self.blob_path(address).is_file()

    def read(self, address: str) -> bytes:
        """The body stored under ``address``, decompressed and verified against its sha256.

        Raises :class:`BlobMissing`, or :class:`BlobCorrupt` naming the file with expected and got.
        """
        path = self.blob_path(address)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(address, path) from None
        return self._verify(path, address, data)

    def read_event(self, event: Event) -> bytes:
        """The body ``event`` records, verified against its address (like :meth:`read`) and against the
        event itself: its size, and rows that belong to what the request asked for (:class:`BlobMismatch`)."""
        body = self.read(event.address)
        problem = body_mismatch(event, body)
        if problem is not None:
            raise BlobMismatch(f"{event.key} (event {event.run}#{event.seq})", event.address, problem)
        return body

    def answers(self, event: Event) -> bool:
        """Whether :meth:`read_event` would return ``event``'s body (never raises for a bad blob). Cached per
        instance while the blob file is unchanged, so planning twice in one run reads each blob once."""
        try:
            st = self.blob_path(event.address).stat()
        except FileNotFoundError:
            return False
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._answers.get((event.run, event.seq)) == stamp:
            return True
        try:
            self.read_event(event)
        except (BlobMissing, BlobCorrupt, BlobMismatch):
            return False
        self._answers[(event.run, event.seq)] = stamp
        return True

    def readable(self, address: str) -> bool:
        """Whether the blob under ``address`` exists and verifies (never raises for a bad blob)."""
        try:
            self.read(address)
        except (BlobMissing, BlobCorrupt):
            return False
        return True

    @staticmethod
    def _verify(path: Path, address: str, data: bytes) -> bytes:
        try:
            body = zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError as error:
            raise BlobCorrupt(path, address, f"undecodable zstd data ({error})") from None
        got = address_of(body)
        if got != address:
            raise BlobCorrupt(path, address, got)
        return body

    def addresses(self) -> Iterator[Address]:
        """Addresses of the blobs stored (sorted); files in ``objects/`` with other names are skipped."""
        for _, address in self.blob_files():
            if address is not None:
                yield address

    def blob_files(self) -> list[tuple[Path, Address | None]]:
        """Every file under ``objects/`` (sorted), with its address: None for a file not named like a blob."""
        if not self.objects_dir.is_dir():
            return []
        files: list[tuple[Path, Address | None]] = []
        for path in sorted(p for p in self.objects_dir.rglob("*") if p.is_file()):
            name = path.parent.name + path.name
            valid = path.parent.parent == self.objects_dir and is_address(name)
            files.append((path, Address(name) if valid else None))
        return files

    # --- the log ------------------------------------------------------------------------------------
    def log_files(self) -> list[Path]:
        if not self.log_dir.is_dir():
            return []
        return sorted(p for p in self.log_dir.iterdir() if p.suffix == LOG_SUFFIX and p.is_file())

    def _refresh(self) -> None:
        """Bring the cache up to date with the log files (append-only: usually reads only new bytes)."""
        seen: set[str] = set()
        changed = False
        for path in self.log_files():
            seen.add(path.name)
            st = path.stat()
            old = self._files.get(path.name)
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
                    tail, start_line=old.lines + 1, start_offset=old.consumed, checksummed=old.checksummed
                )
                if parsed.checksummed and not old.checksummed and old.lines:
                    parsed = None  # the file turns out to carry checksums: judge its earlier lines again
            if old is not None and parsed is not None:
                kept = [p for p in old.problems if p.kind != "torn-line"]
                state = _FileState(
                    ino=st.st_ino,
                    size=old.consumed + len(tail),
                    mtime_ns=st.st_mtime_ns,
                    consumed=old.consumed + parsed.consumed,
                    lines=old.lines + parsed.lines,
                    events=old.events + parsed.events,
                    problems=kept + parsed.problems,
                    checksummed=parsed.checksummed,
                )
            else:
                data = path.read_bytes()
                parsed = parse_log(data)
                state = _FileState(
                    ino=st.st_ino,
                    size=len(data),
                    mtime_ns=st.st_mtime_ns,
                    consumed=parsed.consumed,
                    lines=parsed.lines,
                    events=parsed.events,
                    problems=parsed.problems,
                    checksummed=parsed.checksummed,
                )
            for problem in parsed.problems:
                if problem.kind != "unparsable-line":
                    log.warning(
                        "%s line %d ignored (%s): %s", path, problem.line, problem.kind, problem.detail
                    )
            self._files[path.name] = state
        for name in set(self._files) - seen:
            del self._files[name]
            changed = True
        if changed:
            self._sorted = None
            self._latest = {}

    def log_issues(self) -> list[LogIssue]:
        """Every torn or unparsable line in the log files (never raises for them)."""
        self._refresh()
        return [
            LogIssue(path=self.log_dir / name, problem=problem)
            for name, state in sorted(self._files.items())
            for problem in state.problems
        ]

    def events(self, *, strict: bool = True) -> list[Event]:
        """Every event, in the one deterministic order: (received_at, run, seq).

        A torn last line, and a damaged line (its checksum does not match), are skipped with a warning; an
        unparsable complete line without checksum (a file from before checksums) raises :class:`LogCorrupt`
        (with ``strict=False`` it is skipped: fsck and stats use that to look at a damaged store).
        """
        self._refresh()
        if not strict:
            return sorted((e for state in self._files.values() for e in state.events), key=event_order)
        if self._sorted is None:
            for name, state in sorted(self._files.items()):
                for problem in state.problems:
                    if problem.kind == "unparsable-line":
                        raise LogCorrupt(self.log_dir / name, problem.line, problem.detail)
            everything = [event for state in self._files.values() for event in state.events]
            self._sorted = sorted(everything, key=event_order)
        return list(self._sorted)

    def latest(self, as_of: datetime | None = None) -> dict[str, Event]:
        """For every request key, its newest event received at or before ``as_of`` (all events if None).

        Ties on time go to the later event in the order (received_at, run, seq). ``as_of`` must be aware.
        """
        cutoff = None if as_of is None else to_utc(as_of, "as_of")
        events = self.events()  # refreshes the cache first
        cached = self._latest.get(cutoff)
        if cached is None:
            cached = {}
            for event in events:
                if cutoff is not None and event.received_at > cutoff:
                    break
                cached[event.key] = event
            self._latest[cutoff] = cached
        return dict(cached)

    def history(self, request: Request | str) -> list[Event]:
        """Every event of one request (a :class:`Request` or its key), oldest first."""
        key = request.key if isinstance(request, Request) else request
        return [event for event in self.events() if event.key == key]

    # --- writing ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, purpose: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the writer lock, waiting up to ``timeout`` s (default ``lock_timeout``), else StoreLocked."""
        wait = self.lock_timeout if timeout is None else timeout
        try:
            make_dirs(self.root)
            ignore = self.root / ".gitignore"
            if not ignore.exists():  # the lock and tmp/ are never part of a committed store
                with contextlib.suppress(FileExistsError), ignore.open("x", encoding="utf-8") as f:
                    f.write(GITIGNORE)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreUnwritable(self.root, error) from None
        try:
            with exclusive_lock(
                fd, self.lock_path, wait, f"pid {os.getpid()} {purpose}", on_wait=self._say_waiting
            ):
                yield
        finally:
            os.close(fd)

    def _say_waiting(self, wait: float, holder: str) -> None:
        who = f" (held by {holder})" if holder else ""
        log.warning("waiting up to %g s for the snapshot store's lock %s%s", wait, self.lock_path, who)

    def writer(self, run: str | None = None, *, timeout: float | None = None) -> Writer:
        """Take the lock and return a writer for a new run (``run`` or a fresh ``YYYYmmddTHHMMSSZ-xxxxxx``).

        Use it as a context manager: ``with store.writer() as w: w.put(...)``; leaving the block releases
        the lock. Raises :class:`StoreLocked` after ``timeout`` s, :class:`RunExists` for a used run id.
        """
        run_id = validate_run_id(run) if run is not None else make_run_id(datetime.now(UTC), token_hex(3))
        lock = self.locked(f"run {run_id}", timeout)
        lock.__enter__()
        try:
            path = self.log_path(run_id)
            if path.exists():
                raise RunExists(run_id, path)
            return Writer(self, run_id, lock)
        except BaseException:
            lock.__exit__(None, None, None)
            raise

    def _store_blob(self, body: bytes, compressor: zstandard.ZstdCompressor) -> Address:
        """Write ``body`` once: compress into tmp/, fsync, rename into objects/. Idempotent.

        A blob already there is kept only when it verifies: a corrupt one is replaced (atomically) by the
        good body, so fetching an answer again repairs it."""
        address = address_of(body)
        path = self.blob_path(address)
        if path.is_file() and self.readable(address):
            return address
        data = compressor.compress(body)
        try:
            make_dirs(self.tmp_dir)
        except OSError as error:
            raise StoreUnwritable(self.tmp_dir, error) from None
        try:
            write_atomic(path, data, tmp_dir=self.tmp_dir, prefix=f"{address[:16]}.")
        except OSError as error:
            raise StoreUnwritable(path, error) from None
        return address


class Writer:
    """Appends the events of one run to ``log/<run>.jsonl`` (created on the first put), holding the lock."""

    def __init__(self, store: Store, run: str, lock: contextlib.AbstractContextManager[None]) -> None:
        self.store = store
        self.run = run
        self.path = store.log_path(run)
        self.events: list[Event] = []  # put by this writer, in order
        self._lock: contextlib.AbstractContextManager[None] | None = lock
        self._fd = -1
        self._failed = False  # an append failed: the log may end in a torn line, so nothing may follow it
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)

    @property
    def closed(self) -> bool:
        return self._lock is None

    def put_blob(self, body: bytes) -> Address:
        """Store ``body`` (once) and return its address, without an event."""
        if self._lock is None:
            raise WriterClosed(self.run)
        return self.store._store_blob(body, self._compressor)

    def put(
        self,
        request: Request,
        body: bytes,
        *,
        url: str,
        status: int,
        received_at: datetime,
        content_type: str | None = None,
        attempts: int = 1,
        elapsed_ms: float = 0.0,
    ) -> Event:
        """Store ``body`` and append its event (flushed and fsynced before returning)."""
        if self._lock is None:
            raise WriterClosed(self.run)
        if self._failed:
            raise WriterClosed(self.run, "stopped after a failed write to its log")
        when = to_utc(received_at, "received_at")
        self._open_log()  # before the blob: a blob without its event always has its run's log file beside it
        address = self.put_blob(body)
        event = Event(
            run=self.run,
            seq=len(self.events),
            endpoint=request.endpoint,
            query=request.query,
            url=url,
            status=status,
            received_at=when,
            address=address,
            size=len(body),
            content_type=content_type,
            attempts=attempts,
            elapsed_ms=elapsed_ms,
        )
        line = encode_event(event)
        try:
            write_all(self._fd, line)
            os.fsync(self._fd)
        except BaseException as error:
            self._failed = True  # a partial line may be on disk: appending after it would corrupt the log
            if isinstance(error, OSError):
                raise StoreUnwritable(self.path, error) from None
            raise
        self.events.append(event)
        return event

    def _open_log(self) -> None:
        if self._fd >= 0:
            return
        try:
            make_dirs(self.store.log_dir)
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                raise RunExists(self.run, self.path) from None
            fsync_dir(self.store.log_dir)
        except OSError as error:
            raise StoreUnwritable(self.path, error) from None

    def close(self) -> None:
        """Close the log file and release the lock (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
