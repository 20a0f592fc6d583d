"""The store's errors: each one a single line naming what is wrong and where."""

from __future__ import annotations

from pathlib import Path

from ingestion.errors import IngestionError

__all__ = [
    "BlobCorrupt",
    "BlobMismatch",
    "BlobMissing",
    "ImportRejected",
    "InvalidAddress",
    "InvalidRunId",
    "LogCorrupt",
    "LogDamaged",
    "LogIncomplete",
    "ManifestUnreadable",
    "NaiveDatetime",
    "NotFound",
    "RunExists",
    "StoreError",
    "StoreLocked",
    "StoreUnwritable",
    "WriterClosed",
]


class StoreError(IngestionError):
    """Root of the snapshot store's errors."""


class InvalidAddress(StoreError):
    """A string that is not a blob address (64 lowercase hex digits) was given where one was expected."""

    exit_code = 2

    def __init__(self, text: str) -> None:
        super().__init__(f"not a blob address (64 lowercase hex digits): {text!r}")
        self.text = text


class InvalidRunId(StoreError):
    """A run id that cannot name a log file."""

    exit_code = 2

    def __init__(self, run: str) -> None:
        super().__init__(f"not a valid run id (letters, digits, '.', '_', '-'; at most 100): {run!r}")
        self.run = run


class NaiveDatetime(StoreError):
    """A datetime without a timezone reached the store (times are UTC and must say so)."""

    exit_code = 2

    def __init__(self, what: str, value: object) -> None:
        super().__init__(f"{what} must be timezone-aware (UTC), got naive {value!r}")
        self.what = what


class BlobMissing(StoreError):
    """No blob is stored under this address."""

    def __init__(self, address: str, path: Path) -> None:
        super().__init__(f"blob {address} is missing: no file {path}")
        self.address = address
        self.path = path


class BlobCorrupt(StoreError):
    """A blob's content does not hash to its address (or does not decompress)."""

    def __init__(self, path: Path, expected: str, got: str) -> None:
        super().__init__(f"blob {path} is corrupt: expected sha256 {expected}, got {got}")
        self.path = path
        self.expected = expected
        self.got = got


class BlobMismatch(StoreError):
    """A blob that is intact (it hashes to its address) but is not the answer its event records."""

    def __init__(self, event_name: str, address: str, problem: str) -> None:
        super().__init__(
            f"snapshot {event_name} does not match its blob {address}: {problem}; "
            "run `ingest snapshots fsck`, then fetch it again"
        )
        self.address = address


class LogIncomplete(StoreError):
    """Blobs no event refers to while the log looks truncated or missing: gc would delete real answers."""

    def __init__(self, root: Path, detail: str) -> None:
        super().__init__(
            f"gc refused in {root}: {detail}; the log looks truncated or missing, so these blobs may be "
            "answers whose events were lost. Restore the log (git checkout) or run `ingest snapshots fsck "
            "--repair`; use --force to delete them anyway"
        )
        self.root = root


class LogCorrupt(StoreError):
    """A complete line of the event log does not parse (a torn LAST line is only a warning)."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"log {path} line {line} is unparsable ({problem}): run `ingest snapshots fsck`")
        self.path = path
        self.line = line


class LogDamaged(StoreError):
    """The log has a damaged line (checksum or sealed hash mismatch, unparsable, a sealed line missing) or a
    damaged seal: replay, verify and diff refuse to read a store that may be missing or misreading an event
    (exit 1)."""

    def __init__(self, path: Path, line: int, kind: str, detail: str) -> None:
        where = f"{path} line {line}" if line else str(path)
        if kind == "damaged-seal":
            way_out = "restore it (git checkout, or a backup) and run `ingest snapshots fsck`"
        else:
            way_out = (
                "run `ingest snapshots fsck --repair` (it rebuilds the line from its checksum or seal where "
                "it can, else sets it aside and the next fetch asks its request again)"
            )
        super().__init__(f"the snapshot store is damaged: {where} ({kind}: {detail}); nothing was read: "
                         f"{way_out}")
        self.path = path
        self.line = line
        self.kind = kind


class StoreLocked(StoreError):
    """Another writer holds the store's lock file."""

    def __init__(self, lock: Path, timeout: float, holder: str) -> None:
        who = f" (held by {holder})" if holder else ""
        super().__init__(
            f"the snapshot store is locked by another writer{who}: waited {timeout:g} s for {lock}; "
            "wait for it to finish or stop it"
        )
        self.lock = lock
        self.timeout = timeout


class RunExists(StoreError):
    """The run id already has a log file; log files are never appended to by a second run."""

    exit_code = 2

    def __init__(self, run: str, path: Path) -> None:
        super().__init__(f"run {run} already exists ({path}); a run id is used once")
        self.run = run


class WriterClosed(StoreError):
    """``put`` was called on a writer whose ``with`` block has ended, or whose last append failed."""

    def __init__(self, run: str, why: str = "is closed") -> None:
        super().__init__(f"the writer of run {run} {why}")


class StoreUnwritable(StoreError):
    """The operating system refused a write to the store (not a folder, no space, no permission...)."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"cannot write to the snapshot store at {path}: {error.strerror or error}")
        self.path = path


class NotFound(StoreError):
    """``show`` was asked for a request or address the store does not hold."""

    exit_code = 1

    def __init__(self, what: str) -> None:
        super().__init__(f"not in the store: {what}")


class ImportRejected(StoreError):
    """A file offered to ``import`` is not an OpenF1 answer (a JSON array or "No results found.")."""

    exit_code = 2

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"cannot import {path}: {problem}")
        self.path = path


class ManifestUnreadable(StoreError):
    """gc cannot read a release's manifest, so it cannot tell which blobs that release keeps alive."""

    def __init__(self, root: Path, release: str, problem: str) -> None:
        super().__init__(
            f"gc refused in {root}: the manifest of release {release} cannot be read ({problem}), so gc "
            "cannot tell which blobs that release uses. Record the release again (`ingest fetch --source "
            "f1db --release TAG` or `ingest snapshots import ARCHIVE`), see `ingest snapshots fsck`; use "
            "--force to delete unreferenced blobs anyway"
        )
        self.root = root
