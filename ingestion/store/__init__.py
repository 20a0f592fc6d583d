"""The snapshot store: content-addressed zstd blobs and an append-only event log.

Fetch only appends to it (:meth:`Store.writer`), replay only reads it (:meth:`Store.events`,
:meth:`Store.latest`, :meth:`Store.read`; an f1db release: :meth:`Store.f1db_release`). See docs/store.md
for the layout and the guarantees.
"""

from __future__ import annotations

from ingestion.store._disk import DEFAULT_LOCK_TIMEOUT, ZSTD_LEVEL, LogIssue, Store, Writer
from ingestion.store._files import write_atomic
from ingestion.store._log import LogProblem, event_order, make_run_id
from ingestion.store.address import Address, address_of, is_address, parse_address
from ingestion.store.errors import (
    BlobCorrupt,
    BlobMismatch,
    BlobMissing,
    ImportRejected,
    InvalidAddress,
    InvalidRunId,
    LogCorrupt,
    LogDamaged,
    LogIncomplete,
    ManifestUnreadable,
    NaiveDatetime,
    NotFound,
    RunExists,
    StoreError,
    StoreLocked,
    StoreUnwritable,
    WriterClosed,
)
from ingestion.store.model import Event, F1dbRelease, Manifest, Release, Request, release_order, short_key

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "ZSTD_LEVEL",
    "Address",
    "BlobCorrupt",
    "BlobMismatch",
    "BlobMissing",
    "Event",
    "F1dbRelease",
    "ImportRejected",
    "InvalidAddress",
    "InvalidRunId",
    "LogCorrupt",
    "LogDamaged",
    "LogIncomplete",
    "LogIssue",
    "LogProblem",
    "Manifest",
    "ManifestUnreadable",
    "NaiveDatetime",
    "NotFound",
    "Release",
    "Request",
    "RunExists",
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreUnwritable",
    "Writer",
    "WriterClosed",
    "address_of",
    "event_order",
    "is_address",
    "make_run_id",
    "parse_address",
    "release_order",
    "short_key",
    "write_atomic",
]
