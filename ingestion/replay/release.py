"""The f1db release replay reads: which one (the store's current release as of ``as_of``), its files, and
their decoding (pure, :mod:`ingestion.f1db.decode`).

A store without any f1db release replays exactly as before: :func:`current_release` gives None.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from ingestion.f1db.archive import DATA_PREFIX
from ingestion.f1db.decode import Decoded, decode_file, wanted
from ingestion.store import Store

__all__ = ["ReleaseInput", "current_release", "decode_release", "release_input"]


class ReleaseInput(NamedTuple):
    """One f1db release as replay reads it: its tag and the files replay needs (path below ``src/data/`` ->
    bytes)."""

    tag: str
    files: dict[str, bytes]


def release_input(tag: str, data: Mapping[str, bytes]) -> ReleaseInput:
    """The files replay needs among ``data`` (paths below ``src/data/``, e.g. ``ReleaseFiles.data()``)."""
    return ReleaseInput(tag, {path: body for path, body in data.items() if wanted(path)})


def current_release(store: Store, as_of: datetime) -> ReleaseInput | None:
    """The store's current f1db release as of ``as_of`` (``Store.f1db_release``), its needed files read
    through ``Store.read`` (hash verified); None when the store holds none."""
    release = store.f1db_release(as_of)
    if release is None:
        return None
    files: dict[str, bytes] = {}
    for path, address in sorted(release.files.items()):
        if path.startswith(DATA_PREFIX) and wanted(path[len(DATA_PREFIX) :]):
            files[path[len(DATA_PREFIX) :]] = store.read(address)
    return ReleaseInput(str(release.tag), files)


def decode_release(files: Mapping[str, bytes]) -> dict[str, Decoded]:
    """Every file decoded (:func:`~ingestion.f1db.decode.decode_file`); a damaged one stops with one line
    naming the file and the row (:class:`~ingestion.f1db.yaml.YamlSubsetError`)."""
    return {path: decode_file(path, body) for path, body in files.items()}
