"""f1db (github.com/f1db/f1db, data CC BY 4.0): the second source, every championship season since 1950.

A release is an archive of YAML files; :mod:`ingestion.f1db.archive` reads one (pure). See docs/f1db.md.
"""

from __future__ import annotations

from ingestion.f1db.archive import DATA_PREFIX, ArchiveError, ReleaseFiles, read_archive

__all__ = ["DATA_PREFIX", "ArchiveError", "ReleaseFiles", "read_archive"]
