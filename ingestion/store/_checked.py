"""What a fetch's plan trusts without reading a blob again: ``cache/checked.json`` in the store.

Planning asks again every request whose stored answer cannot be read back (missing, corrupt, or not the
answer its event records). Decompressing and hashing every blob to find that out cost a settled re-fetch
most of its time, so a blob that verified is remembered with the stat of its file (inode, size, mtime in
ns) under its event (``run#seq`` and address): while the file's stat is unchanged it is taken as still
verified, the way git's index trusts a file's stat. Any write to the file (a bit flip, a truncation, a
replacement) changes its mtime or inode and so makes it checked in full again.

It is only a cache: deleting it, or a store that cannot be written (it is then not saved), changes nothing
but time. A body that is actually used is always verified when read (:meth:`Store.read_event`); fsck
re-hashes every blob.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

from ingestion.store._files import write_atomic

__all__ = ["CHECKED_FILE", "CheckedBlobs", "Stamp"]

#: Where the cache lives, relative to the store's root (git-ignored: it is not data).
CHECKED_FILE = "cache/checked.json"

#: (address, inode, size, mtime_ns) of an event's blob file when its event last verified.
Stamp = tuple[str, int, int, int]

_decoder = msgspec.json.Decoder(dict[str, tuple[str, int, int, int]])


class CheckedBlobs:
    """The cache of one store: loaded on first use, saved (atomically) by :meth:`save` when it changed."""

    def __init__(self, root: Path) -> None:
        self.path = root / CHECKED_FILE
        self._stamps: dict[str, Stamp] | None = None
        self._changed = False

    def _load(self) -> dict[str, Stamp]:
        if self._stamps is None:
            try:
                self._stamps = dict(_decoder.decode(self.path.read_bytes()))
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                self._stamps = {}  # missing or damaged: everything is checked again
        return self._stamps

    def holds(self, key: str, stamp: Stamp) -> bool:
        return self._load().get(key) == stamp

    def add(self, key: str, stamp: Stamp) -> None:
        stamps = self._load()
        if stamps.get(key) != stamp:
            stamps[key] = stamp
            self._changed = True

    def save(self) -> None:
        """Write the cache if it changed; a store that cannot be written simply keeps no cache."""
        if not self._changed or self._stamps is None or not self.path.parent.parent.is_dir():
            return
        data = msgspec.json.encode(dict(sorted(self._stamps.items())))
        with contextlib.suppress(OSError):
            write_atomic(self.path, data, tmp_dir=self.path.parent, prefix=".checked.")
            self._changed = False


def stamp_of(address: str, st: os.stat_result) -> Stamp:
    return (address, st.st_ino, st.st_size, st.st_mtime_ns)
