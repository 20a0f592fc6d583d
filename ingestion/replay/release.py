"""The f1db release replay reads: which one (the store's current release as of ``as_of``), its files, and
their decoding (:mod:`ingestion.f1db.decode`, through the store's decode cache, :mod:`ingestion.f1db.cache`).

A store without any f1db release replays exactly as before: :func:`read_release` gives None.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from ingestion.f1db.archive import DATA_PREFIX
from ingestion.f1db.cache import DecodeCache
from ingestion.f1db.decode import Decoded, decode_file, wanted
from ingestion.store import Store

__all__ = [
    "DecodedRelease", "ReleaseInput", "decode_input", "decode_release", "read_release", "release_input",
]


class ReleaseInput(NamedTuple):
    """One f1db release given as bytes (tests, benches): its tag and the files replay needs (path below
    ``src/data/`` -> bytes)."""

    tag: str
    files: dict[str, bytes]


class DecodedRelease(NamedTuple):
    """One f1db release as replay reads it: its tag and its needed files decoded (path below
    ``src/data/`` -> Structs)."""

    tag: str
    files: dict[str, Decoded]


def release_input(tag: str, data: Mapping[str, bytes]) -> ReleaseInput:
    """The files replay needs among ``data`` (paths below ``src/data/``, e.g. ``ReleaseFiles.data()``)."""
    return ReleaseInput(tag, {path: body for path, body in data.items() if wanted(path)})


def decode_release(files: Mapping[str, bytes]) -> dict[str, Decoded]:
    """Every file decoded (:func:`~ingestion.f1db.decode.decode_file`); a damaged one stops with one line
    naming the file and the row (:class:`~ingestion.f1db.yaml.YamlSubsetError`). Pure."""
    return {path: decode_file(path, body) for path, body in files.items()}


def decode_input(release: ReleaseInput) -> DecodedRelease:
    return DecodedRelease(release.tag, decode_release(release.files))


def read_release(store: Store, as_of: datetime) -> DecodedRelease | None:
    """The store's current f1db release as of ``as_of`` (``Store.f1db_release``; None when it holds none),
    its needed files decoded: from the decode cache when it has the blob's address, else read through
    ``Store.read`` (hash verified), decoded, and cached."""
    release = store.f1db_release(as_of)
    if release is None:
        return None
    cache = DecodeCache(store.root)
    files: dict[str, Decoded] = {}
    used: set[str] = set()
    for path, address in sorted(release.files.items()):
        if not path.startswith(DATA_PREFIX) or not wanted(path[len(DATA_PREFIX) :]):
            continue
        name = path[len(DATA_PREFIX) :]
        used.add(address)
        value = cache.get(address, name)
        if value is None:
            value = decode_file(name, store.read(address))
            cache.put(address, value)
        files[name] = value
    cache.keep_only(used)
    cache.save()
    return DecodedRelease(release.tag, files)
