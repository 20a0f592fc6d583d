"""Recording an f1db release archive into the snapshot store: one blob per file, a manifest, one log line
(:meth:`ingestion.store.Writer.put_release`). Used by ``ingest fetch --source f1db`` and by
``ingest snapshots import ARCHIVE``, so a release enters the store the same way by either door."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path, PurePath

import msgspec

from ingestion.errors import UsageError
from ingestion.f1db.archive import read_archive
from ingestion.store import ImportRejected, Store
from ingestion.store.model import Release

__all__ = [
    "SOURCE",
    "Recorded",
    "check_tag",
    "import_archive",
    "is_archive",
    "known_tags",
    "record_release",
    "tag_from_name",
]

#: The source name releases are recorded under.
SOURCE = "f1db"

_NAME = re.compile(r"(?:^|[-_])v?(\d{4}\.\d+\.\d+)\.(?:tar\.gz|tgz)\Z")
_TAG = re.compile(r"v\d{4}\.\d+\.\d+")


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """What recording a release did: its line (None when the tag was already in the store, and nothing was
    written), how many blob files it wrote (the changed files, and the manifest), and its file count."""

    tag: str
    release: Release | None
    new_blobs: int
    files: int


def tag_from_name(name: str) -> str:
    """The tag an archive's file name says: ``f1db-2025.24.2.tar.gz`` -> ``v2025.24.2`` (also
    ``v2025.24.2.tar.gz``); :class:`UsageError` when it says none (then ``--tag`` names it)."""
    match = _NAME.search(PurePath(name).name)
    if match is None:
        raise UsageError(f"cannot tell the f1db release from the file name {name!r}: give --tag vYYYY.R.P")
    return f"v{match.group(1)}"


def check_tag(tag: str) -> str:
    """``tag`` if it looks like an f1db tag (``vYYYY.R.P``), else :class:`UsageError`."""
    if _TAG.fullmatch(tag) is None:
        raise UsageError(f"not an f1db release tag (vYYYY.R.P): {tag!r}")
    return tag


def known_tags(store: Store) -> set[str]:
    """The f1db tags the store holds."""
    return {release.tag for release in store.releases(SOURCE)}


def record_release(
    store: Store,
    archive: bytes,
    *,
    tag: str,
    url: str,
    received_at: datetime,
    published_at: datetime | None = None,
    etag: str | None = None,
    elapsed_ms: float = 0.0,
    run: str | None = None,
    timeout: float | None = None,
) -> Recorded:
    """Record the release archive ``archive`` (``.tar.gz`` bytes) as ``tag`` in a new run, unless the store
    already holds that tag (tags never change: then nothing is written). Raises
    :class:`~ingestion.f1db.archive.ArchiveError` for bytes that are not a release archive."""
    check_tag(tag)
    files = read_archive(archive)
    with store.writer(run, timeout=timeout) as writer:
        if tag in known_tags(store):
            return Recorded(tag=tag, release=None, new_blobs=0, files=len(files.files))
        release = writer.put_release(
            source=SOURCE,
            tag=tag,
            files=files.files,
            received_at=received_at,
            url=url,
            published_at=published_at,
            committed_at=files.committed_at,
            etag=etag,
            elapsed_ms=elapsed_ms,
        )
        return Recorded(tag=tag, release=release, new_blobs=writer.blobs_written, files=release.files)


def is_archive(path: Path) -> bool:
    """Whether ``path`` looks like a release archive (a ``.tar.gz``/``.tgz`` name, or gzip's magic bytes)."""
    if path.name.endswith((".tar.gz", ".tgz")):
        return True
    try:
        with path.open("rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def import_archive(
    store: Store,
    path: Path,
    *,
    received_at: datetime,
    tag: str | None = None,
    run: str | None = None,
    timeout: float | None = None,
) -> Recorded:
    """Record an f1db archive downloaded by hand (offline installs) exactly as a fetch records it: its tag
    is ``tag`` or read from the file name (``f1db-2025.24.2.tar.gz`` -> ``v2025.24.2``); its ``url`` is
    ``file:`` and the file's name. Nothing is written when the store holds the tag already."""
    name = check_tag(tag) if tag is not None else tag_from_name(path.name)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImportRejected(path, error.strerror or str(error)) from None
    return record_release(
        store, data, tag=name, url=f"file:{path.name}", received_at=received_at, run=run, timeout=timeout
    )
