"""f1db's files decoded (ingestion.f1db.yaml, ingestion.f1db.decode): scalars exactly as written, every real
shape of row accepted, a damaged file one line naming the file and the row; and ids that do not move when
f1db renumbers a race or renames a slug (ingestion.replay.f1db)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.f1db import read_archive
from ingestion.f1db.cache import CACHE_FILE, DecodeCache
from ingestion.f1db.decode import Classified, Race, decode_file
from ingestion.f1db.yaml import YamlSubsetError, flat_json, parse
from ingestion.replay.f1db import OpenF1Links, merge_f1db
from ingestion.replay.release import ReleaseInput, decode_release, release_input
from ingestion.replay.rows import Racing, Replayed

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "f1db"
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


@functools.cache
def release_1994() -> ReleaseInput:
    """v2025.24.2's 1994 season with every driver, constructor, circuit, grand prix and country (read once;
    not a fixture: hypothesis would print the whole release with a failing example)."""
    data = read_archive((SHARED / "f1db-2025.24.2.tar.gz").read_bytes()).data()
    keep = {p: b for p, b in data.items() if not p.startswith("seasons/") or p.startswith("seasons/1994/")}
    return release_input("v2025.24.2", keep)


def test_decode_reads_times_and_dates_as_written() -> None:
    """``time: 13:00`` stays "13:00" (never YAML 1.1's sexagesimal 780), ``06:00`` too; dates are dates."""
    body = b"id: 1\nround: 1\ndate: 2024-05-05\ntime: 13:00\ngrandPrixId: miami\nofficialName: X 2024\n" \
        b"circuitId: miami\nqualifyingDate: 2024-05-04\nqualifyingTime: 06:00\n"
    race = decode_file("seasons/2024/races/06-miami/race.yml", body)
    assert isinstance(race, Race)
    assert (race.time, race.qualifying_time, race.date) == ("13:00", "06:00", date(2024, 5, 5))


_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\"\\'#:\n\t\r"),
    min_size=1,
    max_size=12,
).map(str.strip).filter(lambda s: s and s[0] not in "-[]{}&*!|>%@`?,~" and s.lower() != "null")
_CODES = ["DNF", "DNS", "DSQ", "NC", "DNQ", "DNPQ", "EX"]
_POSITION = st.one_of(st.integers(1, 40).map(str), st.sampled_from(_CODES))
_TIME = st.tuples(st.integers(0, 2), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999)).map(
    lambda t: f"{t[0]}:{t[1]:02d}:{t[2]:02d}.{t[3]:03d}" if t[0] else f"{t[1]}:{t[2]:02d}.{t[3]:03d}"
)
_ROW = st.fixed_dictionaries(
    {
        "position": _POSITION,
        "driverNumber": st.integers(0, 99).map(str),
        "driverId": _NAMES.map(lambda s: re.sub(r"\s+", "-", s)),
        "constructorId": _NAMES.map(lambda s: re.sub(r"\s+", "-", s)),
        "laps": st.one_of(st.none(), st.integers(0, 200)),
        "time": st.one_of(st.none(), _TIME),
        "gap": st.one_of(st.none(), st.sampled_from(["+1 lap", "+12 laps", "+0.200", "+1:02.345"])),
        "reasonRetired": st.one_of(st.none(), _NAMES),
        "points": st.one_of(st.none(), st.sampled_from([0, 1, 0.5, 4.5, 9, 25])),
        "gridPosition": st.one_of(st.none(), st.integers(1, 33).map(str), st.just("PL")),
        "sharedCar": st.one_of(st.none(), st.just(True)),
    }
)


def _yaml(rows: list[dict[str, object]]) -> bytes:
    """Rows written as f1db writes them: times and gaps double-quoted, ints plain, empty for null."""
    lines = []
    for row in rows:
        for i, (key, value) in enumerate(row.items()):
            prefix = "- " if i == 0 else "  "
            if value is None:
                text = ""
            elif value is True:
                text = " true"
            elif key in ("time", "gap"):
                text = f' "{value}"'
            else:
                text = f" {value}"
            lines.append(f"{prefix}{key}:{text}")
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ROW, min_size=1, max_size=6))
def test_decode_takes_any_row_of_the_real_files_shapes(rows: list[dict[str, object]]) -> None:
    """Any rows shaped as f1db's race results (a position or a code, quoted times, empty values, accented
    names) decode to exactly what was written, by the fast path and the careful one alike."""
    body = _yaml(rows)
    decoded = decode_file("seasons/1950/races/01-great-britain/race-results.yml", body)
    assert isinstance(decoded, list)
    for row, got in zip(rows, decoded, strict=True):
        assert isinstance(got, Classified)
        assert got.position == row["position"]
        assert got.driver_id == row["driverId"]
        assert got.laps == row["laps"]
        assert got.time == row["time"]
        assert got.gap == row["gap"]
        assert got.reason_retired == row["reasonRetired"]
        assert got.points == (None if row["points"] is None else float(row["points"]))  # type: ignore[arg-type]
        assert got.grid_position == row["gridPosition"]
    careful = parse("x.yml", body)
    assert isinstance(careful, list) and len(careful) == len(rows)


_DAMAGE = st.sampled_from(
    [
        b"\tlaps: 3\n",  # a tab
        b"   laps: 3\n",  # a stray indent
        b"  laps: [1, 2]\n",  # a flow sequence
        b"  time: '1:02.3'\n",  # single quotes
        b"  laps: 3 # a comment\n",
        b"  laps: &a 3\n",  # an anchor
        b"  note: |\n",  # a block scalar
        b"laps 3\n",  # no key
        b"  laps: x\n",  # not an int
        b'  time: "unterminated\n',
    ]
)


@settings(max_examples=60)
@given(st.lists(_ROW, min_size=1, max_size=4), _DAMAGE, st.data())
def test_decode_a_damaged_file_gives_one_line_naming_the_file_and_row(
    rows: list[dict[str, object]], damage: bytes, data: st.DataObject
) -> None:
    """A line outside f1db's YAML subset anywhere after the first row's first line: one
    :class:`YamlSubsetError` line naming the file and the row, never another exception."""
    lines = _yaml(rows).splitlines(keepends=True)
    at = data.draw(st.integers(1, len(lines)))
    body = b"".join(lines[:at]) + damage + b"".join(lines[at:])
    row = sum(1 for line in lines[:at] if line.startswith(b"- ")) - 1
    path = "seasons/1994/races/03-pacific/race-results.yml"
    with pytest.raises(YamlSubsetError) as caught:
        decode_file(path, body)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"f1db file {path}")
    assert f"row {row}" in message


def test_flat_json_refuses_what_the_fast_path_cannot_prove() -> None:
    """A quoted value holding ``: `` is read line by line (same values); an empty file is no rows."""
    body = b'- position: 1\n  driverId: a\n  constructorId: b\n  reasonRetired: "Gearbox: broken"\n'
    got = decode_file("seasons/1994/races/01-brazil/race-results.yml", body)
    assert isinstance(got, list) and got[0].reason_retired == "Gearbox: broken"
    assert flat_json("x", b"", rows=True) == b"[]"


def test_flat_json_fast_path_reads_red_bull_and_apostrophes_as_the_careful_reader_does() -> None:
    """A value that merely ends like ``null`` (``red-bull``) or holds an apostrophe is text: the fast
    path reads it, with the same values as :func:`parse`; a whole value ``null`` is still YAML's null."""
    body = b"- position: 1\n  constructorId: red-bull\n  reasonRetired: Driver's choice\n  gap: null\n"
    careful = parse("x.yml", body.strip(b"\n"))
    assert msgspec.json.decode(flat_json("x.yml", body, rows=True)) == careful
    assert careful == [
        {"position": "1", "constructorId": "red-bull", "reasonRetired": "Driver's choice", "gap": None}
    ]
    spelled = b"- position: 1\n  gap: Null\n"
    assert msgspec.json.decode(flat_json("x.yml", spelled, rows=True)) == [{"position": "1", "gap": None}]
    with pytest.raises(YamlSubsetError, match="row 0, line 2"):  # a quoted scalar: outside the subset
        flat_json("x.yml", b"- position: 1\n  reasonRetired: 'quoted'\n", rows=True)


def test_flat_json_fast_path_reads_nearly_every_classification_file_of_a_real_release() -> None:
    """The regular expressions' fast path (not the line-by-line reader, ~10x slower) reads the real
    classification and race files: all but a handful of v2025.24.2's 7,928. A rule that sends common
    values to the careful reader (``ull\\n`` matched every ``red-bull`` row: a third of the files) fails."""
    from ingestion.f1db import yaml as reader

    data = read_archive((SHARED / "f1db-2025.24.2.tar.gz").read_bytes()).data()
    flat = {p: b for p, b in data.items() if p.startswith("seasons/") and "/races/" in p}
    slow = [
        p for p, b in flat.items()
        if reader._fast_json(b.strip(b"\n") + b"\n", rows=not p.endswith("/race.yml")) is None
    ]
    assert len(flat) > 7000 and len(slow) <= 20, slow[:5]


def _ids(replayed: Replayed) -> dict[str, set[object]]:
    return {name: {r.id for r in replayed.racing.table(name)} for name in replayed.racing.counts()}  # type: ignore[attr-defined]


def _renamed(release: ReleaseInput, race: str, new_folder: str, new_round: int, old_slug: str, new_slug: str
             ) -> ReleaseInput:
    """A copy of ``release`` where f1db renumbered ``race`` (folder, round, race id) and renamed a driver's
    slug everywhere (its file, every row and entrant naming it)."""
    files: dict[str, bytes] = {}
    pattern = re.compile(rb"(?m)^(\s*(?:- )?driverId: )" + re.escape(old_slug.encode()) + rb"$")
    for path, body in release.files.items():
        body = pattern.sub(rb"\g<1>" + new_slug.encode(), body)
        if path == f"drivers/{old_slug}.yml":
            path = f"drivers/{new_slug}.yml"
            body = body.replace(f"id: {old_slug}\n".encode(), f"id: {new_slug}\n".encode(), 1)
        if f"/races/{race}/" in path:
            path = path.replace(f"/races/{race}/", f"/races/{new_folder}/")
            if path.endswith("/race.yml"):
                body = re.sub(rb"(?m)^id: \d+$", b"id: 9999", body)
                body = re.sub(rb"(?m)^round: \d+$", f"round: {new_round}".encode(), body)
        files[path] = body
    return ReleaseInput(release.tag, files)


@settings(max_examples=4, deadline=None)
@given(st.data())
def test_ids_do_not_change_when_f1db_renumbers_a_race_or_renames_a_slug(data: st.DataObject) -> None:
    """A renamed copy of the 1994 season (one race's folder, round number and race id changed; one driver's
    slug renamed in every file) replays to exactly the same ids in every table (but the driver's f1db-slug
    alias, which is the slug: the new slug is a new alias); only the slug moves."""
    release = release_1994()
    races = sorted({p.split("/")[3] for p in release.files if p.startswith("seasons/1994/races/")})
    race = data.draw(st.sampled_from(races))
    drivers = sorted(
        {m.decode() for m in re.findall(rb"(?m)^  driverId: (\S+)$",
                                        release.files[f"seasons/1994/races/{race}/race-results.yml"])}
    )
    old = data.draw(st.sampled_from(drivers))
    new_folder = f"{data.draw(st.integers(17, 40))}-renamed-{race.split('-', 1)[1]}"
    renamed = _renamed(release, race, new_folder, data.draw(st.integers(17, 40)), old, f"{old}-renamed")
    empty = Replayed(racing=Racing())
    before = merge_f1db(decode_release(release.files), empty, OpenF1Links(), AS_OF, results=True)
    after = merge_f1db(decode_release(renamed.files), empty, OpenF1Links(), AS_OF, results=True)
    ids_before, ids_after = _ids(before), _ids(after)
    aliases = ids_after.pop("driver_aliases") - ids_before.pop("driver_aliases")
    assert ids_before == ids_after
    assert len(aliases) == 1
    assert f"{old}-renamed" in {d.slug for d in after.racing.drivers}
    assert old not in {d.slug for d in after.racing.drivers}


def test_decode_cache_is_keyed_by_address_and_can_be_deleted_or_damaged(tmp_path: Path) -> None:
    """An entry is found only under its blob's address; a damaged cache file, or one written for other
    Structs, is ignored as a whole; deleting it loses nothing but time."""
    body = b"- position: 1\n  driverId: a\n  constructorId: b\n  laps: 3\n"
    path = "seasons/1994/races/01-brazil/race-results.yml"
    value = decode_file(path, body)
    cache = DecodeCache(tmp_path)
    assert cache.get("a" * 64, path) is None
    cache.put("a" * 64, value)
    cache.save()
    again = DecodeCache(tmp_path)
    assert again.get("a" * 64, path) == value
    assert again.get("b" * 64, path) is None
    (tmp_path / CACHE_FILE).write_bytes(b"\x00garbage")
    assert DecodeCache(tmp_path).get("a" * 64, path) is None
    (tmp_path / CACHE_FILE).write_bytes(msgspec.msgpack.encode({"schema": "other", "entries": {"a" * 64: 1}}))
    assert DecodeCache(tmp_path).get("a" * 64, path) is None
    (tmp_path / CACHE_FILE).unlink()
    assert DecodeCache(tmp_path).get("a" * 64, path) is None
