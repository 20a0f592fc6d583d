"""An f1db release archive read into its files (ingestion.f1db.archive), on the real archives of ../shared."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from ingestion.f1db import ArchiveError, read_archive

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def test_read_archive_gives_the_real_release_files_relative_to_the_top_folder() -> None:
    release = read_archive((SHARED / "f1db-2025.24.2.tar.gz").read_bytes())
    data = release.data()
    assert "drivers/lewis-hamilton.yml" in data
    assert b"dateOfBirth: 1985-01-07" in data["drivers/lewis-hamilton.yml"]
    assert "seasons/1950/races/01-great-britain/race-results.yml" in data
    assert all(not path.startswith("f1db-") for path in release.files)


def test_read_archive_does_not_depend_on_the_top_folder_name() -> None:
    a = read_archive(_tar({"f1db-2025.24.2/src/data/x.yml": b"a: 1\n"}))
    b = read_archive(_tar({"f1db-f1db-1908d13/src/data/x.yml": b"a: 1\n"}))
    assert a == b
    assert a.data() == {"x.yml": b"a: 1\n"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not a tarball", "cannot be read"),
        (_tar({"a/src/data/x.yml": b"", "b/src/data/y.yml": b""}), "one top folder"),
        (_tar({"a/README.md": b"hi"}), "no src/data/"),
        (_tar({"a/../../etc/passwd": b"x"}), "leaves the archive"),
    ],
)
def test_read_archive_refuses_what_is_not_a_release_in_one_line(body: bytes, problem: str) -> None:
    with pytest.raises(ArchiveError, match=problem) as caught:
        read_archive(body)
    assert "\n" not in str(caught.value)
