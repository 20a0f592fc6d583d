"""The real f1db archives of ``../shared/f1db``, cut down to a few seasons for tests that need a release but
not 1950-2025 (a whole-history replay costs seconds; the suite has one already, ``test_f1db_replay``).

A cut archive holds, byte for byte with the same top folder and times, the real archive's files of the
seasons asked for and every driver, constructor, circuit, grand prix and country (what those seasons' rows
name); nothing is typed by hand.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SHARED_F1DB = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"
OLD, NEW = "f1db-2024.24.2.tar.gz", "f1db-2025.24.2.tar.gz"
needs_archives = pytest.mark.skipif(not (SHARED_F1DB / NEW).is_file(), reason="no real f1db archives here")

#: Below ``src/data/``: the folders every season's rows name.
ENTITIES = ("drivers/", "constructors/", "circuits/", "grands-prix/", "countries/")

_cut: dict[tuple[str, tuple[int, ...]], bytes] = {}


def kept(path: str, years: Iterable[int]) -> bool:
    """Whether ``path`` (below ``src/data/``) is one of ``years``' season files or an entity file."""
    return path.startswith(ENTITIES) or any(path.startswith(f"seasons/{y}/") for y in years)


def seasons_only(data: Mapping[str, bytes], years: Iterable[int]) -> dict[str, bytes]:
    """``data`` (paths below ``src/data/``) without the files of other seasons."""
    wanted = tuple(years)
    return {path: body for path, body in data.items() if kept(path, wanted)}


def cut_archive(name: str, folder: Path, years: Iterable[int]) -> Path:
    """``folder/NAME``: the real archive ``../shared/f1db/NAME`` holding only ``years``' seasons (and every
    entity file). Made once per process and written where asked."""
    key = (name, tuple(sorted(years)))
    if key not in _cut:
        out = io.BytesIO()
        with (
            tarfile.open(SHARED_F1DB / name, mode="r:gz") as source,
            tarfile.open(fileobj=out, mode="w:gz") as target,
        ):
            for info in source:
                _, _, rest = info.name.partition("/")
                if not info.isfile() or not rest.startswith("src/data/"):
                    continue
                if kept(rest[len("src/data/") :], key[1]):
                    target.addfile(info, source.extractfile(info))
        _cut[key] = out.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(_cut[key])
    return path
