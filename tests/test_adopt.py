"""Adoption on the typed view of stored rows (``replay/stored_rows.py``), without a database: the rules of
``replay/adopt.py`` on small tables, and the one typed view read the same from whole rows (verify) and
from the id and key columns alone (the load)."""

from __future__ import annotations

import uuid

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.db.naming import EF, SNAKE, Naming
from ingestion.replay.adopt import adopt, adoption_columns, adoption_keys, snapshot_keys
from ingestion.replay.identity import make_id
from ingestion.replay.rows import CircuitRow, Racing, SeasonRow, SeriesRow, spec_of
from ingestion.replay.stored_rows import KeyedRow, StoredKeys, keyed_rows


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def _circuit(n: int, key: int | None, slug: str) -> CircuitRow:
    return CircuitRow(
        id=_id(n), name=slug, slug=slug, location="x", country="y", country_code=None, open_f1_circuit_key=key
    )


def _whole(*rows: msgspec.Struct) -> list[tuple[object, ...]]:
    """Rows as the database gives them (racing_snapshot: a tuple in the spec's column order)."""
    return [tuple(msgspec.structs.astuple(r)) for r in rows]


def _stored(naming: Naming, **tables: list[tuple[object, ...]]) -> dict[str, StoredKeys]:
    return dict(snapshot_keys(tables, naming))


def test_adopt_takes_the_stored_id_and_children_follow() -> None:
    """A replayed series whose slug a stored row holds under another id takes that id; its season follows
    the series' adopted id and then adopts the stored season by (series, year)."""
    legacy_series, legacy_season = make_id("legacy", 1), make_id("legacy", 2)
    series = SeriesRow(id=make_id("series", "f1"), name="F1", slug="formula-1")
    season = SeasonRow(id=make_id("season", 2024), series_id=series.id, year=2024)
    stored = _stored(
        SNAKE,
        series=_whole(SeriesRow(id=legacy_series, name="Formula 1", slug="formula-1")),
        seasons=_whole(SeasonRow(id=legacy_season, series_id=legacy_series, year=2024)),
    )
    racing, adopted = adopt(Racing(series=(series,), seasons=(season,)), stored)
    assert racing.series == (msgspec.structs.replace(series, id=legacy_series),)
    assert racing.seasons == (SeasonRow(id=legacy_season, series_id=legacy_series, year=2024),)
    assert adopted == {"series": {series.id: legacy_series}, "seasons": {season.id: legacy_season}}


def test_adopt_by_the_next_key_never_by_a_null_nor_a_shared_key() -> None:
    """Keys are tried in order (OpenF1's circuit key, then the slug); a null key never matches; a key two
    replayed rows share adopts neither; two stored rows with one key give the smallest id."""
    replayed = (
        _circuit(10, None, "monza"),  # no circuit key: adopts by its slug
        _circuit(11, 63, "sakhir"),  # by its circuit key
        _circuit(12, None, "imola"),  # two replayed rows share this slug: neither adopts
        _circuit(13, None, "imola"),
        _circuit(14, None, "spa"),  # two stored rows hold this slug: the smallest id
    )
    stored = _stored(
        SNAKE,
        circuits=_whole(
            _circuit(1, None, "monza"),
            _circuit(2, 63, "bahrain"),
            _circuit(3, None, "imola"),
            _circuit(5, None, "spa"),
            _circuit(4, None, "spa"),
        ),
    )
    racing, adopted = adopt(Racing(circuits=replayed), stored)
    assert adopted == {"circuits": {_id(10): _id(1), _id(11): _id(2), _id(14): _id(4)}}
    assert [r.id for r in racing.circuits] == sorted([_id(1), _id(2), _id(12), _id(13), _id(4)])


def test_adopt_nothing_when_every_replayed_id_is_stored() -> None:
    """A replayed row whose own id is stored adopts nothing (even when another stored row shares its key):
    with every id stored, ``racing`` comes back itself."""
    racing = Racing(circuits=(_circuit(1, 63, "sakhir"),))
    stored = _stored(SNAKE, circuits=_whole(_circuit(1, 63, "sakhir"), _circuit(0, 63, "sakhir")))
    assert adopt(racing, stored) == (racing, {})
    assert adopt(racing, stored)[0] is racing
    # beside a row that adopts, the stored row keeps its id all the same
    beside = Racing(circuits=(_circuit(1, 63, "sakhir"), _circuit(20, None, "monza")))
    held = _whole(_circuit(1, 63, "sakhir"), _circuit(0, 63, "sakhir"), _circuit(3, None, "monza"))
    assert adopt(beside, _stored(SNAKE, circuits=held))[1] == {"circuits": {_id(20): _id(3)}}


@settings(max_examples=60, deadline=None)
@given(
    naming=st.sampled_from([SNAKE, EF]),
    rows=st.lists(
        st.tuples(st.integers(0, 50), st.one_of(st.none(), st.integers(0, 3)), st.sampled_from(["a", "b"])),
        max_size=8,
    ),
)
def test_keyed_rows_of_whole_rows_equal_those_of_the_key_columns(
    naming: Naming, rows: list[tuple[int, int | None, str]]
) -> None:
    """Verify's typed view (from whole rows) and the load's (from the id and key columns alone) are the
    same rows, each key's values in the key's order and None for a key with a null."""
    spec = spec_of("circuits")
    whole = _whole(*(_circuit(n, key, slug) for n, key, slug in rows))
    keys = adoption_keys(naming, spec)
    columns = adoption_columns(keys)
    partial = [tuple(row[spec.columns.index(c)] for c in columns) for row in whole]
    assert keyed_rows(spec.columns, keys, whole) == keyed_rows(columns, keys, partial)
    expected = tuple(
        KeyedRow(_id(n), (None if key is None else (key,), (slug,))) for n, key, slug in rows
    )
    assert keyed_rows(spec.columns, keys, whole) == StoredKeys(keys, expected)
