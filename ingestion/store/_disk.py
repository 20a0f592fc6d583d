"""The on-disk store: blobs under ``objects/``, the event log under ``log/``, one writer at a time.

Layout under the root::

    objects/ab/cdef...   zstd (level 3) of a body; the name is the sha256 of the UNCOMPRESSED body
    log/<run>.jsonl      one Event per line, one file per run, append-only
    tmp/                 blobs being written (fsync, then rename into objects/); never read
    lock                 the writer's lock file (fcntl.flock)
    cache/checked.json   blobs that verified, with their file's stat (:mod:`ingestion.store._checked`)
    .gitignore           keeps lock, tmp/, cache/ and the watcher's watch.json and watch.lock out of git
                         (written once, by the first writer)

Reading is here; writing a run is :mod:`ingestion.store._writer`, the parsed log :mod:`._logindex`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_hex

import msgspec
import zstandard

from ingestion.store._checked import CheckedBlobs, stamp_of
from ingestion.store._files import exclusive_lock, make_dirs, write_atomic
from ingestion.store._log import LogProblem, aware_utc, event_order, make_run_id, validate_run_id
from ingestion.store._logindex import LogIndex
from ingestion.store._seal import SEAL_FILE, SealDecoded, decode_seal
from ingestion.store._writer import ZSTD_LEVEL, Writer
from ingestion.store.address import Address, address_of, is_address, parse_address
from ingestion.store.check import body_mismatch
from ingestion.store.coverage import covering, winners
from ingestion.store.errors import (
    BlobCorrupt,
    BlobMismatch,
    BlobMissing,
    LogCorrupt,
    LogDamaged,
    RunExists,
    StoreUnwritable,
)
from ingestion.store.model import (
    Event,
    F1dbRelease,
    Manifest,
    Release,
    Request,
    release_order,
)

__all__ = ["DEFAULT_LOCK_TIMEOUT", "ZSTD_LEVEL", "LogIssue", "Store", "Writer", "write_durably"]

log = logging.getLogger("ingestion.store")

DEFAULT_LOCK_TIMEOUT = 10.0
LOG_SUFFIX = ".jsonl"
#: A blob file written less than this long ago is not remembered as verified: a change within the same
#: mtime tick would keep its stamp (git's "racy" entries).
_RACY_NS = 2_000_000_000
GITIGNORE = (
    "# the snapshot store's writer lock, half-written blobs and caches are not data\n/lock\n/tmp/\n/cache/\n"
    "# nor is a watcher's state: it says what ran on this machine (ingest healthcheck reads it)\n"
    "/watch.json\n/watch.lock\n"
)


_manifest_decoder = msgspec.json.Decoder(Manifest)

#: (address, endpoint, query, size) of the answers :meth:`Store.read_event` found to answer their request.
#: A verified body is the one its address names, so the verdict (size, rows of the request) is a function of
#: these four and never changes: a body read again for the same request (each pass of ``watch``, each
#: replay of a process) is hashed again, but its rows are not parsed again. Bounded; cleared when full.
_ANSWERS: set[tuple[str, str, str, int]] = set()
_ANSWERS_KEPT = 200_000


class LogIssue(msgspec.Struct, frozen=True, kw_only=True):
    """A problem in one log file (see :class:`LogProblem`), with the file it is in."""

    path: Path
    problem: LogProblem


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
        self._index = LogIndex()
        self._seal_stamp: tuple[int, int, int] | None = None
        self._seal = SealDecoded(files={})
        self._sorted: list[Event] | None = None
        self._latest: dict[datetime | None, dict[str, Event]] = {}
        self._checked = CheckedBlobs(self.root)

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
        judged = (event.address, event.endpoint, event.query, event.size)
        if judged in _ANSWERS:  # this verified body was already found to answer this request
            return body
        problem = body_mismatch(event, body)
        if problem is not None:
            raise BlobMismatch(f"{event.key} (event {event.run}#{event.seq})", event.address, problem)
        if len(_ANSWERS) >= _ANSWERS_KEPT:
            _ANSWERS.clear()
        _ANSWERS.add(judged)
        return body

    def unanswered(self, events: Iterable[Event]) -> list[Event]:
        """The events :meth:`read_event` would refuse (missing, corrupt or mismatched blob); never raises
        for a bad blob. A blob that verified before and whose file's inode, size and mtime are unchanged is
        not read again (``cache/checked.json``, :mod:`ingestion.store._checked`): planning a settled
        re-fetch needs the log and a stat per blob, not every body decompressed and hashed."""
        bad: list[Event] = []
        for event in events:
            try:
                st = self.blob_path(event.address).stat()
            except FileNotFoundError:
                bad.append(event)
                continue
            key, stamp = f"{event.run}#{event.seq}", stamp_of(event.address, st)
            if self._checked.holds(key, stamp):
                continue
            try:
                self.read_event(event)
            except (BlobMissing, BlobCorrupt, BlobMismatch):
                bad.append(event)
                continue
            if time.time_ns() - st.st_mtime_ns > _RACY_NS:
                self._checked.add(key, stamp)
        self._checked.save()
        return bad

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

    @property
    def seal_path(self) -> Path:
        return self.root / SEAL_FILE

    def seal(self) -> SealDecoded:
        """The sealed hashes of the log lines from before checksums (:mod:`._seal`), as last read."""
        self._refresh()
        return self._seal

    def _load_seal(self) -> bool:
        """Read the seal again if its file changed; whether it did (every log file is then judged again)."""
        try:
            st = self.seal_path.stat()
        except (FileNotFoundError, NotADirectoryError):  # no store there (yet), or no seal: none
            stamp = None
        else:
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._seal_stamp:
            return False
        self._seal_stamp = stamp
        self._seal = decode_seal(self.seal_path.read_bytes()) if stamp is not None else SealDecoded(files={})
        self._index = LogIndex()
        return True

    def _refresh(self) -> None:
        """Bring the cache up to date with the log files (append-only: usually reads only new bytes)."""
        reset = self._load_seal()
        if self._index.refresh(self.log_files(), self._seal.files) or reset:
            self._sorted = None
            self._latest = {}

    def log_issues(self) -> list[LogIssue]:
        """Every torn, unparsable or damaged line in the log files, sealed lines missing, and a damaged seal
        (never raises for them)."""
        self._refresh()
        issues = [
            LogIssue(path=self.log_dir / name, problem=problem)
            for name, state in sorted(self._index.files.items())
            for problem in state.problems
        ]
        if self._seal.problem is not None:
            problem = LogProblem(kind="damaged-seal", line=0, offset=0, detail=self._seal.problem)
            issues.append(LogIssue(path=self.seal_path, problem=problem))
        for name, hashes in sorted(self._seal.files.items()):
            state = self._index.files.get(name)
            lines = 0 if state is None else state.lines
            if lines < len(hashes):
                detail = f"sealed line(s) missing: the seal lists {len(hashes)}, the file has {lines}"
                problem = LogProblem(kind="damaged-line", line=lines + 1, offset=0, detail=detail)
                issues.append(LogIssue(path=self.log_dir / name, problem=problem))
        return issues

    def damage(self) -> LogIssue | None:
        """The first log problem that makes the events untrustworthy: a damaged or unparsable line, a sealed
        line missing, a damaged seal (a torn last line is not one: a write cut short, never an event)."""
        for issue in self.log_issues():
            if issue.problem.kind != "torn-line":
                return issue
        return None

    def require_intact(self) -> None:
        """Refuse (:class:`LogDamaged`) a store whose log is damaged: what replay, verify and diff read must
        be every event there is, or nothing."""
        issue = self.damage()
        if issue is not None:
            raise LogDamaged(issue.path, issue.problem.line, issue.problem.kind, issue.problem.detail)

    def events(self, *, strict: bool = True) -> list[Event]:
        """Every event, in the one deterministic order: (received_at, run, seq).

        A torn last line, and a damaged line (its checksum does not match), are skipped with a warning; an
        unparsable complete line without checksum (a file from before checksums) raises :class:`LogCorrupt`
        (with ``strict=False`` it is skipped: fsck and stats use that to look at a damaged store).
        """
        self._refresh()
        if not strict:
            return sorted((e for state in self._index.files.values() for e in state.events), key=event_order)
        if self._sorted is None:
            for name, state in sorted(self._index.files.items()):
                for problem in state.problems:
                    if problem.kind == "unparsable-line":
                        raise LogCorrupt(self.log_dir / name, problem.line, problem.detail)
            everything = [event for state in self._index.files.values() for event in state.events]
            self._sorted = sorted(everything, key=event_order)
        return list(self._sorted)

    def latest(self, as_of: datetime | None = None) -> dict[str, Event]:
        """For every request key, its newest event received at or before ``as_of`` (all events if None).

        Ties on time go to the later event in the order (received_at, run, seq). ``as_of`` must be aware.
        """
        cutoff = None if as_of is None else aware_utc(as_of, "as_of")
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

    def current(
        self, as_of: datetime | None = None, *, endpoints: Iterable[str] | None = None
    ) -> list[Event]:
        """The answers in force as of ``as_of``: for each unit a request covers (an endpoint and a meeting or
        year, :mod:`ingestion.store.coverage`), the latest event covering it; each event once, in the store's
        order. ``endpoints`` keeps those endpoints' events only. What replay (and verify, diff) reads."""
        wanted = None if endpoints is None else frozenset(endpoints)
        latest = [e for e in self.latest(as_of).values() if wanted is None or e.endpoint in wanted]
        return [won.event for won in winners(covering(latest))]

    # --- releases (f1db) -------------------------------------------------------------------------------
    def releases(
        self, source: str | None = None, *, as_of: datetime | None = None, strict: bool = True
    ) -> list[Release]:
        """Every release line (of ``source`` if given; received at or before ``as_of`` if given), in the
        order of events (received_at, run, seq)."""
        cutoff = None if as_of is None else aware_utc(as_of, "as_of")
        self.events(strict=strict)  # refreshes, and raises for an unparsable line as events() does
        found = [r for state in self._index.files.values() for r in state.releases]
        wanted = (
            r
            for r in found
            if (source is None or r.source == source) and (cutoff is None or r.received_at <= cutoff)
        )
        return sorted(wanted, key=event_order)

    def manifest(self, release: Release) -> Manifest:
        """The manifest ``release`` refers to, verified (sha256, then its size, source and tag against the
        line): :class:`BlobMissing`, :class:`BlobCorrupt` or :class:`BlobMismatch`."""
        body = self.read(release.manifest)
        where = f"release {release.source} {release.tag} (event {release.run}#{release.seq})"
        if len(body) != release.size:
            problem = f"the event says {release.size} bytes, the blob has {len(body)}"
            raise BlobMismatch(where, release.manifest, problem)
        try:
            manifest = _manifest_decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise BlobMismatch(where, release.manifest, f"not a release manifest ({error})") from None
        if (manifest.source, manifest.tag, len(manifest.files)) != (
            release.source,
            release.tag,
            release.files,
        ):
            problem = f"the manifest is {manifest.source} {manifest.tag} with {len(manifest.files)} files"
            raise BlobMismatch(where, release.manifest, problem)
        return manifest

    def _f1db(self, release: Release) -> F1dbRelease:
        return F1dbRelease(
            tag=release.tag,
            published_at=release.published_at,
            committed_at=release.committed_at,
            received_at=release.received_at,
            run=release.run,
            seq=release.seq,
            manifest=release.manifest,
            files=dict(self.manifest(release).files),
        )

    def f1db_releases(self) -> list[F1dbRelease]:
        """Every f1db release recorded, oldest first by :func:`release_order` (release date, received)."""
        return [self._f1db(r) for r in sorted(self.releases("f1db"), key=release_order)]

    def f1db_release(self, as_of: datetime | None = None) -> F1dbRelease | None:
        """The f1db release replay reads as of ``as_of``: of the releases received at or before it, the
        newest by release date (then received time, run, seq); None when there is none. Its manifest is
        read and verified (:meth:`manifest`); its files are read with :meth:`read` (verified too)."""
        known = self.releases("f1db", as_of=as_of)
        if not known:
            return None
        return self._f1db(max(known, key=release_order))

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
