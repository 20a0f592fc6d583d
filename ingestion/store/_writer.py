"""Writing the store: one run's :class:`Writer` (appends its events to ``log/<run>.jsonl`` while holding the
store's lock) and :func:`store_blob` (a body written once: compressed, fsynced, renamed into ``objects/``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

import msgspec
import zstandard

from ingestion.store._files import fsync_dir, make_dirs, sync_filesystem, write_all, write_atomic
from ingestion.store._log import aware_utc, encode_event
from ingestion.store.address import Address, address_of
from ingestion.store.errors import RunExists, StoreUnwritable, WriterClosed
from ingestion.store.model import Event, Manifest, Release, Request

__all__ = ["ZSTD_LEVEL", "Writer", "encode_manifest", "store_blob"]

ZSTD_LEVEL = 3


class Store(Protocol):
    """What writing needs of :class:`ingestion.store.Store` (a protocol: the store imports this module)."""

    @property
    def tmp_dir(self) -> Path: ...

    @property
    def log_dir(self) -> Path: ...

    def blob_path(self, address: str) -> Path: ...

    def log_path(self, run: str) -> Path: ...

    def readable(self, address: str) -> bool: ...


def store_blob(store: Store, body: bytes, compressor: zstandard.ZstdCompressor) -> Address:
    """Write ``body`` once: compress into tmp/, fsync, rename into objects/. Idempotent.

    A blob already there is kept only when it verifies: a corrupt one is replaced (atomically) by the
    good body, so fetching an answer again repairs it."""
    address = address_of(body)
    path = store.blob_path(address)
    if path.is_file() and store.readable(address):
        return address
    data = compressor.compress(body)
    try:
        make_dirs(store.tmp_dir)
    except OSError as error:
        raise StoreUnwritable(store.tmp_dir, error) from None
    try:
        write_atomic(path, data, tmp_dir=store.tmp_dir, prefix=f"{address[:16]}.")
    except OSError as error:
        raise StoreUnwritable(path, error) from None
    return address


def encode_manifest(manifest: Manifest) -> bytes:
    """A manifest's canonical JSON: members in the Struct's order, paths sorted, a final newline."""
    ordered = msgspec.structs.replace(manifest, files=dict(sorted(manifest.files.items())))
    return msgspec.json.encode(ordered) + b"\n"


class Writer:
    """Appends the events of one run to ``log/<run>.jsonl`` (created on the first put), holding the lock."""

    def __init__(self, store: Store, run: str, lock: contextlib.AbstractContextManager[None]) -> None:
        self.store = store
        self.run = run
        self.path = store.log_path(run)
        self.events: list[Event] = []  # put by this writer, in order
        self.releases: list[Release] = []  # recorded by this writer, in order
        self.blobs_written = 0  # blob files this writer wrote (a blob already stored is not written again)
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
        known = self.store.blob_path(address_of(body)).is_file()
        address = store_blob(self.store, body, self._compressor)
        self.blobs_written += not known
        return address

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
        when = aware_utc(received_at, "received_at")
        self._open_log()  # before the blob: a blob without its event always has its run's log file beside it
        address = self.put_blob(body)
        event = Event(
            run=self.run,
            seq=len(self.events) + len(self.releases),
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
        self._append(event)
        self.events.append(event)
        return event

    def put_release(
        self,
        *,
        source: str,
        tag: str,
        files: Mapping[str, bytes],
        received_at: datetime,
        url: str,
        published_at: datetime | None = None,
        committed_at: datetime | None = None,
        etag: str | None = None,
        elapsed_ms: float = 0.0,
    ) -> Release:
        """Record a whole release: one blob per file, then its manifest, then its log line.

        The files are written without an fsync each (16,000 fsyncs take many seconds) and made durable
        together by one filesystem sync before the manifest (fsynced) and the line (fsynced) that refer to
        them: a run killed on the way leaves blobs no line refers to, beside its own (empty) log file, for
        gc. Files already stored (unchanged since an earlier release) are not written again.
        """
        if self._lock is None:
            raise WriterClosed(self.run)
        if self._failed:
            raise WriterClosed(self.run, "stopped after a failed write to its log")
        when = aware_utc(received_at, "received_at")
        published = None if published_at is None else aware_utc(published_at, "published_at")
        committed = None if committed_at is None else aware_utc(committed_at, "committed_at")
        self._open_log()
        addresses: dict[str, str] = {path: address_of(body) for path, body in sorted(files.items())}
        written = self._put_batch({address: files[path] for path, address in addresses.items()})
        if written:
            sync_filesystem()
        self.blobs_written += written
        manifest = Manifest(
            source=source, tag=tag, published_at=published, committed_at=committed, files=addresses
        )
        body = encode_manifest(manifest)
        release = Release(
            run=self.run,
            seq=len(self.events) + len(self.releases),
            source=source,
            tag=tag,
            published_at=published,
            committed_at=committed,
            received_at=when,
            url=url,
            manifest=self.put_blob(body),
            size=len(body),
            files=len(addresses),
            etag=etag,
            elapsed_ms=elapsed_ms,
        )
        self._append(release)
        self.releases.append(release)
        return release

    def _put_batch(self, bodies: Mapping[str, bytes]) -> int:
        """Write the bodies (by address) not yet stored, without an fsync each; how many were written.

        Each goes to its own file in tmp/ and is renamed into objects/ (readers see a whole blob or none);
        the caller syncs the batch before anything refers to it. A blob already there is kept only when it
        verifies (a corrupt one is replaced), as :func:`store_blob` does."""
        try:
            make_dirs(self.store.tmp_dir)
        except OSError as error:
            raise StoreUnwritable(self.store.tmp_dir, error) from None
        folders: set[Path] = set()
        written = 0
        for number, (address, body) in enumerate(bodies.items()):
            path = self.store.blob_path(address)
            if path.is_file() and self.store.readable(address):
                continue
            tmp = self.store.tmp_dir / f"{address[:16]}.{os.getpid()}.{number}.tmp"
            try:
                if path.parent not in folders:
                    make_dirs(path.parent)
                    folders.add(path.parent)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    write_all(fd, self._compressor.compress(body))
                finally:
                    os.close(fd)
                os.replace(tmp, path)
            except OSError as error:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise StoreUnwritable(path, error) from None
            written += 1
        return written

    def _append(self, record: Event | Release) -> None:
        """Append one line (flushed and fsynced); after a failure the writer takes no more lines."""
        line = encode_event(record)
        try:
            write_all(self._fd, line)
            os.fsync(self._fd)
        except BaseException as error:
            self._failed = True  # a partial line may be on disk: appending after it would corrupt the log
            if isinstance(error, OSError):
                raise StoreUnwritable(self.path, error) from None
            raise

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
