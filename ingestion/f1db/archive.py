"""An f1db release archive (``.tar.gz`` as GitHub serves it) read into its files. Pure: bytes in, files out.

GitHub names the archive's top folder differently by the URL it was asked at (``f1db-2025.24.2/`` from
``archive/refs/tags``, ``f1db-f1db-1908d13/`` from the API's ``tarball``), so a file's path is taken
relative to the one top folder, never by its name: ``src/data/drivers/lewis-hamilton.yml``.
"""

from __future__ import annotations

import io
import tarfile
import zlib
from datetime import UTC, datetime

import msgspec

from ingestion.errors import IngestionError

__all__ = ["DATA_PREFIX", "ArchiveError", "ReleaseFiles", "read_archive"]

#: Where f1db keeps its data in a release (stable since 2021): what replay reads is below it.
DATA_PREFIX = "src/data/"

#: Bounds against a hostile or broken archive: f1db's own are ~16,400 files and ~100 MB unpacked.
MAX_FILES = 100_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024


class ArchiveError(IngestionError):
    """The bytes are not an f1db release archive (not a gzip'd tar, no single top folder, no
    ``src/data/``, too large). One line naming what is wrong."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"not an f1db release archive: {problem}")
        self.problem = problem


class ReleaseFiles(msgspec.Struct, frozen=True):
    """The regular files of a release: path relative to the top folder -> bytes, sorted by path; and the
    commit time they carry (``git archive`` stamps every file with its commit's time; the newest file's)."""

    files: dict[str, bytes]
    committed_at: datetime | None = None

    def data(self) -> dict[str, bytes]:
        """The files under :data:`DATA_PREFIX`, keyed by their path below it (``drivers/x.yml``)."""
        n = len(DATA_PREFIX)
        return {path[n:]: body for path, body in self.files.items() if path.startswith(DATA_PREFIX)}


def read_archive(data: bytes) -> ReleaseFiles:
    """The files of the gzip'd tar ``data``, relative to its one top folder. Links, devices and folders are
    skipped; a path that would leave the top folder (``..``, absolute) is refused."""
    files: dict[str, bytes] = {}
    tops: set[str] = set()
    total = 0
    newest = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                top, _, rest = name.partition("/")
                if name.startswith("/") or ".." in name.split("/"):
                    raise ArchiveError(f"a path leaves the archive: {member.name!r}")
                if member.name == "pax_global_header":
                    continue
                tops.add(top)
                if not member.isfile() or not rest:
                    continue
                if member.size > MAX_FILE_BYTES:
                    raise ArchiveError(f"{rest} is {member.size} bytes")
                total += member.size
                if len(files) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                    raise ArchiveError(f"more than {MAX_FILES} files or {MAX_TOTAL_BYTES} bytes")
                handle = tar.extractfile(member)
                if handle is not None:
                    files[rest] = handle.read()
                    newest = max(newest, int(member.mtime))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"cannot be read as .tar.gz ({exc})") from None
    if len(tops) != 1:
        raise ArchiveError(f"expected one top folder, found {len(tops)}")
    if not any(path.startswith(DATA_PREFIX) for path in files):
        raise ArchiveError(f"no {DATA_PREFIX} folder")
    committed = datetime.fromtimestamp(newest, UTC) if newest > 0 else None
    return ReleaseFiles(dict(sorted(files.items())), committed)
