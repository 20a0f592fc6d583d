"""Warm derived caches for tests whose subject is not f1db's decoding or merging (sync, bulk and watch's
requests and outcomes, a store holding two releases, a renamed slug): each real archive of ``../shared/f1db``
is read and decoded once per test process, and a test's store gets the decode cache
(``cache/f1db-decoded.msgpack``, :mod:`ingestion.f1db.cache`) that its replay would otherwise build.

Both caches are derived and keyed by their inputs (the decode cache by each file's blob address, the merge
memo of :mod:`ingestion.replay.release` by everything the merge is a function of): a seeded file that does
not fit is ignored by the product as a whole or entry by entry, so seeding changes a test's time, never
its outcome. A test *about* the cold path (a cache or memo built, damaged, ignored) seeds nothing
(``test_f1db_replay``'s memo test keeps its cold decode).

The decode cache is built here with the product's own :class:`~ingestion.f1db.cache.DecodeCache` from the
archive's files decoded by :func:`~ingestion.replay.release.decode_input` (what ``read_release`` stores for
each blob). The merge memo cannot be built without merging: :func:`warm_store` keeps the memo a test's
store ends with under a label the test names, and gives it to the next store of that label in this process
(the product reads it only when its key matches that replay's inputs).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingestion.f1db import read_archive
from ingestion.f1db.cache import CACHE_FILE, DecodeCache
from ingestion.f1db.record import tag_from_name
from ingestion.replay.release import MEMO_FILE, DecodedRelease, ReleaseInput, decode_input, release_input
from ingestion.store import address_of

__all__ = ["decoded", "release", "seed_decode_cache", "warm_store"]

SHARED_F1DB = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"

#: Merge memos kept by label (:func:`warm_store`), this process only.
_memos: dict[str, bytes] = {}


@functools.cache
def release(name: str) -> ReleaseInput:
    """The files replay needs of the real archive ``../shared/f1db/NAME`` (read once per process)."""
    return release_input(tag_from_name(name), read_archive((SHARED_F1DB / name).read_bytes()).data())


@functools.cache
def decoded(name: str) -> DecodedRelease:
    """:func:`release` decoded (once per process; read-only: never change what it holds)."""
    return decode_input(release(name))


@functools.cache
def _decode_cache(names: tuple[str, ...]) -> bytes:
    """The decode cache file holding every needed file of the archives ``names``."""
    with tempfile.TemporaryDirectory(prefix="f1db-warm-") as folder:
        cache = DecodeCache(Path(folder))
        for name in names:
            bodies = release(name).files
            for path, value in decoded(name).files.items():
                cache.put(address_of(bodies[path]), value)
        cache.save()
        return (Path(folder) / CACHE_FILE).read_bytes()


def seed_decode_cache(root: Path, *names: str) -> None:
    """Give the store at ``root`` (made or not yet) the decode cache of the archives ``names``, as a replay of
    each would have left it (all of them: a store holding several releases finds each one's files)."""
    path = root / CACHE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_decode_cache(tuple(sorted(set(names)))))


@contextmanager
def warm_store(root: Path, name: str, *, memo: str) -> Iterator[Path]:
    """The store at ``root`` with the decode cache of archive ``name`` and the merge memo last kept under the
    label ``memo`` (if any); on leaving, its own memo is kept under that label when none was yet."""
    seed_decode_cache(root, name)
    if memo in _memos:
        (root / MEMO_FILE).write_bytes(_memos[memo])
    yield root
    path = root / MEMO_FILE
    if memo not in _memos and path.is_file():
        _memos[memo] = path.read_bytes()
