"""The migrated schema, read back from PostgreSQL's catalog, is exactly the one of ``shared/SCHEMA.md``.

The expected schema is written out below by hand from SCHEMA.md (not derived from the migrations), so a drift
on either side fails: a column, a type, a nullability, a default, a unique or plain index, a foreign key or
its ON DELETE rule, an enum CHECK. What ingestion adds on purpose is listed apart, in ``INGESTION_EXTRAS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import psycopg
import pytest
from psycopg import errors

Conn = psycopg.Connection[tuple[object, ...]]

CASCADE, RESTRICT = "CASCADE", "RESTRICT"
_RULES = {"c": CASCADE, "r": RESTRICT, "a": "NO ACTION", "n": "SET NULL", "d": "SET DEFAULT"}
# SCHEMA.md's short type names, as information_schema spells them.
_TYPES = {
    "": "text",
    "int": "integer",
    "float8": "double precision",
    "timestamptz": "timestamp with time zone",
    "bool": "boolean",
    "date": "date",
    "interval": "interval",
    "jsonb": "jsonb",
    "uuid": "uuid",
}


@dataclass
class Shape:
    """What one table looks like in the catalog."""

    columns: dict[str, tuple[str, bool]]  # name -> (type, nullable)
    defaults: dict[str, str] = field(default_factory=dict)  # only the columns that have one
    primary_key: tuple[str, ...] = ("id",)
    unique: set[tuple[str, ...]] = field(default_factory=set)  # unique indexes, primary key aside
    indexes: set[tuple[str, ...]] = field(default_factory=set)  # plain (non-unique) indexes
    foreign_keys: set[tuple[tuple[str, ...], str, str]] = field(default_factory=set)  # (cols, table, rule)


def table(columns: str, **rest: object) -> Shape:
    """A table in SCHEMA.md's notation: ``name``, ``year int``, ``logo_url?`` (nullable); every table also
    has ``id uuid PRIMARY KEY``; ``*_id`` columns are uuids; no type means text."""
    shape: dict[str, tuple[str, bool]] = {"id": ("uuid", False)}
    for item in columns.split(","):
        name, _, short = item.strip().partition(" ")
        nullable = name.endswith("?") or short.endswith("?")
        name, short = name.rstrip("?"), short.rstrip("?")
        if name.endswith("_id") and not short:
            short = "uuid"
        shape[name] = (_TYPES[short], nullable)
    return Shape(columns=shape, **rest)  # type: ignore[arg-type]


def aliases(parent: str, extra: str = "") -> Shape:
    return table(
        f"{parent}_id, alias_name, alias_slug, valid_from date?, valid_until date?, source?{extra}",
        unique={(f"{parent}_id", "alias_slug")},
        indexes={("alias_slug",)},
        foreign_keys={((f"{parent}_id",), f"{parent}s", CASCADE)},
    )


# shared/SCHEMA.md, table by table.
EXPECTED: dict[str, Shape] = {
    "series": table(
        "name, slug, logo_url?, brand_colors jsonb, governing_body?, ui_order int?",
        defaults={"brand_colors": "'[]'::jsonb"},
        unique={("slug",)},
    ),
    "seasons": table(
        "series_id, year int",
        unique={("series_id", "year")},
        foreign_keys={(("series_id",), "series", CASCADE)},
    ),
    "circuits": table(
        "name, slug, location, country, country_code?, layout_map_url?, latitude float8?, longitude float8?, "
        "length_meters int?, altitude int?, wikipedia_url?, opened_year int?, track_status?, track_type?",
        unique={("slug",)},
    ),
    "rounds": table(
        "season_id, circuit_id, name, slug, round_number int, date_start date, date_end date, "
        "open_f1_meeting_key int?, ergast_race_id int?, wikipedia_url?",
        unique={("slug",)},
        indexes={("open_f1_meeting_key",), ("season_id",), ("circuit_id",)},
        foreign_keys={(("season_id",), "seasons", CASCADE), (("circuit_id",), "circuits", RESTRICT)},
    ),
    "sessions": table(
        "round_id, type int, start_time_utc timestamptz, status int, open_f1_session_key int?",
        unique={("open_f1_session_key",)},
        indexes={("round_id",)},
        foreign_keys={(("round_id",), "rounds", CASCADE)},
    ),
    "drivers": table(
        "first_name, last_name, slug, abbreviation?, nationality?, headshot_url?, driver_number int?, "
        "open_f1_driver_number int?, date_of_birth date?, wikipedia_url?, nickname?, place_of_birth?",
        unique={("slug",)},
        indexes={("open_f1_driver_number",)},
    ),
    "teams": table(
        "name, slug, short_name?, logo_url?, primary_color?, nationality?, wikipedia_url?",
        unique={("slug",)},
    ),
    "entrants": table(
        "round_id, driver_id, team_id, role int",
        defaults={"role": "0"},
        unique={("round_id", "driver_id", "team_id")},
        indexes={("driver_id",), ("team_id",)},
        foreign_keys={
            (("round_id",), "rounds", CASCADE),
            (("driver_id",), "drivers", RESTRICT),
            (("team_id",), "teams", RESTRICT),
        },
    ),
    "results": table(
        "session_id, entrant_id, position int?, grid_position int?, status int, points float8?, "
        "time interval?, laps int?, fastest_lap bool, time_milliseconds int?, fastest_lap_number int?, "
        "fastest_lap_rank int?, fastest_lap_time?, fastest_lap_speed?, status_detail?, q1_time?, q2_time?, "
        "q3_time?, laps_led int?, car_number?",
        unique={("session_id", "entrant_id")},
        indexes={("entrant_id",)},
        foreign_keys={(("session_id",), "sessions", CASCADE), (("entrant_id",), "entrants", CASCADE)},
    ),
    "driver_aliases": aliases("driver", ", driver_number int?"),
    "team_aliases": aliases("team"),
    "circuit_aliases": aliases("circuit"),
}

# What ingestion adds, as SCHEMA.md allows ("nothing above changes meaning"): listed here on purpose.
INGESTION_EXTRAS: dict[str, Shape] = {
    "circuits": Shape(columns={"open_f1_circuit_key": ("integer", True)}, unique={("open_f1_circuit_key",)}),
    "rounds": Shape(columns={}, unique={("open_f1_meeting_key",)}),
    # a result's provenance (issue 24: its source, release or snapshot, file or request)
    "results": Shape(
        columns={"source": ("text", True), "source_version": ("text", True), "source_path": ("text", True)}
    ),
}

# SCHEMA.md's enum codes: (table, column) -> the valid codes.
ENUMS: dict[tuple[str, str], range] = {
    ("sessions", "type"): range(0, 11),  # SessionType: FP1 .. MotoGPRace
    ("sessions", "status"): range(0, 5),  # SessionStatus: Scheduled .. Delayed
    ("results", "status"): range(0, 5),  # ResultStatus: Finished .. NC
    ("entrants", "role"): range(0, 4),  # DriverRole: Regular .. Test
}


def expected_schema() -> dict[str, Shape]:
    """SCHEMA.md plus the ingestion extras."""
    merged: dict[str, Shape] = {}
    for name, shape in EXPECTED.items():
        extra = INGESTION_EXTRAS.get(name, Shape(columns={}))
        merged[name] = Shape(
            columns={**shape.columns, **extra.columns},
            defaults={**shape.defaults, **extra.defaults},
            primary_key=shape.primary_key,
            unique=shape.unique | extra.unique,
            indexes=shape.indexes | extra.indexes,
            foreign_keys=shape.foreign_keys | extra.foreign_keys,
        )
    return merged


def _names(value: object) -> tuple[str, ...]:
    """A ``text[]`` from the catalog as a tuple of names."""
    assert isinstance(value, list)
    return tuple(str(v) for v in value)


def read_catalog(conn: Conn) -> tuple[dict[str, Shape], list[str]]:
    """Every table of schema ``public`` as the catalog describes it, and the indexes no upsert can use
    (partial, on expressions, or invalid)."""
    shapes: dict[str, Shape] = {}
    for name, column, data_type, nullable, default in conn.execute(
        """SELECT table_name, column_name, data_type, is_nullable = 'YES', column_default
           FROM information_schema.columns WHERE table_schema = 'public'
           ORDER BY table_name, ordinal_position"""
    ):
        shape = shapes.setdefault(str(name), Shape(columns={}, primary_key=()))
        shape.columns[str(column)] = (str(data_type), bool(nullable))
        if default is not None:
            shape.defaults[str(column)] = str(default)
    odd: list[str] = []
    for name, index, columns, unique, primary, plain in conn.execute(
        """SELECT t.relname, ic.relname,
                  (SELECT array_agg(a.attname::text ORDER BY k.ord)
                   FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
                  i.indisunique, i.indisprimary,
                  i.indpred IS NULL AND i.indexprs IS NULL AND i.indisvalid
           FROM pg_index i
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = 'public'"""
    ):
        shape = shapes[str(name)]
        key = _names(columns)
        if not plain:
            odd.append(f"{name}.{index}")
        if primary:
            shape.primary_key = key
        elif unique:
            shape.unique.add(key)
        else:
            shape.indexes.add(key)
    for name, columns, target, rule, target_columns in conn.execute(
        """SELECT t.relname,
                  (SELECT array_agg(a.attname::text ORDER BY k.ord)
                   FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                  r.relname, c.confdeltype::text,
                  (SELECT array_agg(a.attname::text ORDER BY k.ord)
                   FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum)
           FROM pg_constraint c
           JOIN pg_class t ON t.oid = c.conrelid
           JOIN pg_class r ON r.oid = c.confrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE n.nspname = 'public' AND c.contype = 'f'"""
    ):
        if _names(target_columns) != ("id",):
            odd.append(f"{name} foreign key to {target}{_names(target_columns)}")
        shapes[str(name)].foreign_keys.add((_names(columns), str(target), _RULES[str(rule)]))
    return shapes, odd


def differences(expected: dict[str, Shape], actual: dict[str, Shape]) -> list[str]:
    """Every way ``actual`` departs from ``expected``, one readable line each (empty: identical)."""
    out: list[str] = []
    for name in sorted(expected.keys() - actual.keys()):
        out.append(f"missing table {name}")
    for name in sorted(actual.keys() - expected.keys()):
        out.append(f"unexpected table {name}")
    for name in sorted(expected.keys() & actual.keys()):
        want, got = expected[name], actual[name]
        for column in sorted(want.columns.keys() | got.columns.keys()):
            w, g = want.columns.get(column), got.columns.get(column)
            if w != g:
                out.append(f"{name}.{column}: expected {w} (type, nullable), got {g}")
        if want.defaults != got.defaults:
            out.append(f"{name} defaults: expected {want.defaults}, got {got.defaults}")
        if want.primary_key != got.primary_key:
            out.append(f"{name} primary key: expected {want.primary_key}, got {got.primary_key}")
        for label, w_set, g_set in (
            ("unique index", want.unique, got.unique),
            ("index", want.indexes, got.indexes),
            ("foreign key", want.foreign_keys, got.foreign_keys),
        ):
            out += [f"{name}: missing {label} {item}" for item in sorted(w_set - g_set)]
            out += [f"{name}: unexpected {label} {item}" for item in sorted(g_set - w_set)]
    return out


def test_schema_catalog_matches_schema_md(conn: Conn) -> None:
    """After migrating, every racing table matches SCHEMA.md: columns, types, nullability, defaults, keys."""
    actual, odd = read_catalog(conn)
    assert differences(expected_schema(), actual) == []
    assert odd == []


def test_schema_catalog_extras_are_the_listed_ones(conn: Conn) -> None:
    """Without the listed ingestion extras the comparison fails on exactly those extras."""
    actual, _ = read_catalog(conn)
    assert differences(EXPECTED, actual) == [
        "circuits.open_f1_circuit_key: expected None (type, nullable), got ('integer', True)",
        "circuits: unexpected unique index ('open_f1_circuit_key',)",
        "results.source: expected None (type, nullable), got ('text', True)",
        "results.source_path: expected None (type, nullable), got ('text', True)",
        "results.source_version: expected None (type, nullable), got ('text', True)",
        "rounds: unexpected unique index ('open_f1_meeting_key',)",
    ]


def test_schema_catalog_drift_fails(conn: Conn) -> None:
    """A drift of the database from SCHEMA.md shows up as a difference, one per change."""
    conn.execute("ALTER TABLE sessions ALTER COLUMN status DROP NOT NULL")
    conn.execute("ALTER TABLE teams ALTER COLUMN primary_color TYPE varchar(6)")
    conn.execute("ALTER TABLE series ALTER COLUMN brand_colors DROP DEFAULT")
    conn.execute("DROP INDEX ix_entrants_round_id_driver_id_team_id")
    conn.execute("CREATE INDEX ix_results_points ON results (points)")
    conn.execute("ALTER TABLE rounds DROP CONSTRAINT rounds_circuit_id_fkey")
    conn.execute("ALTER TABLE rounds ADD FOREIGN KEY (circuit_id) REFERENCES circuits (id) ON DELETE CASCADE")
    conn.execute("ALTER TABLE drivers ADD COLUMN twitter text")
    actual, _ = read_catalog(conn)
    assert differences(expected_schema(), actual) == [
        "drivers.twitter: expected None (type, nullable), got ('text', True)",
        "entrants: missing unique index ('round_id', 'driver_id', 'team_id')",
        "results: unexpected index ('points',)",
        "rounds: missing foreign key (('circuit_id',), 'circuits', 'RESTRICT')",
        "rounds: unexpected foreign key (('circuit_id',), 'circuits', 'CASCADE')",
        "series defaults: expected {'brand_colors': \"'[]'::jsonb\"}, got {}",
        "sessions.status: expected ('integer', False) (type, nullable), got ('integer', True)",
        "teams.primary_color: expected ('text', True) (type, nullable), got ('character varying', True)",
    ]


def test_schema_catalog_ingestion_bookkeeping_is_apart(conn: Conn) -> None:
    """The ingester's own tables live in schema ``ingestion``, never beside the racing tables."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ingestion' ORDER BY 1"
    ).fetchall()
    assert ("schema_migrations",) in rows
    query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    public = {str(r[0]) for r in conn.execute(query)}
    assert public == set(EXPECTED)


# A parent row for every table an enum lives in, so only the CHECK can refuse an insert.
@pytest.fixture
def parents(conn: Conn) -> Iterator[dict[str, uuid.UUID]]:
    kinds = ("series", "season", "circuit", "round", "session", "driver", "team", "entrant")
    ids = {name: uuid.uuid4() for name in kinds}
    conn.execute("INSERT INTO series (id, name, slug) VALUES (%s, 'Formula 1', 'f1')", (ids["series"],))
    conn.execute(
        "INSERT INTO seasons (id, series_id, year) VALUES (%s, %s, 2024)", (ids["season"], ids["series"])
    )
    conn.execute(
        """INSERT INTO circuits (id, name, slug, location, country)
           VALUES (%s, 'Sakhir', 'sakhir', 'Sakhir', 'BH')""",
        (ids["circuit"],),
    )
    conn.execute(
        """INSERT INTO rounds (id, season_id, circuit_id, name, slug, round_number, date_start, date_end)
           VALUES (%s, %s, %s, 'Bahrain', 'bahrain-2024', 1, %s, %s)""",
        (ids["round"], ids["season"], ids["circuit"], date(2024, 2, 29), date(2024, 3, 2)),
    )
    conn.execute(
        "INSERT INTO sessions (id, round_id, type, start_time_utc, status) VALUES (%s, %s, 6, %s, 2)",
        (ids["session"], ids["round"], datetime(2024, 3, 2, 15, tzinfo=UTC)),
    )
    conn.execute(
        "INSERT INTO drivers (id, first_name, last_name, slug) VALUES (%s, 'Max', 'Verstappen', 'max')",
        (ids["driver"],),
    )
    conn.execute("INSERT INTO teams (id, name, slug) VALUES (%s, 'Red Bull', 'red-bull')", (ids["team"],))
    conn.execute(
        "INSERT INTO entrants (id, round_id, driver_id, team_id) VALUES (%s, %s, %s, %s)",
        (ids["entrant"], ids["round"], ids["driver"], ids["team"]),
    )
    yield ids


def _insert_with_code(conn: Conn, ids: dict[str, uuid.UUID], table: str, column: str, code: int) -> None:
    """Insert one row whose ``column`` is ``code``, everything else valid (inside a rolled-back savepoint)."""
    new = uuid.uuid4()
    if table == "sessions":
        values = {"type": 6, "status": 2, column: code}
        conn.execute(
            "INSERT INTO sessions (id, round_id, type, start_time_utc, status) VALUES (%s, %s, %s, %s, %s)",
            (new, ids["round"], values["type"], datetime(2024, 3, 1, tzinfo=UTC), values["status"]),
        )
    elif table == "results":
        conn.execute(
            """INSERT INTO results (id, session_id, entrant_id, status, fastest_lap)
               VALUES (%s, %s, %s, %s, false)""",
            (new, ids["session"], ids["entrant"], code),
        )
    else:
        driver = uuid.uuid4()
        conn.execute(
            "INSERT INTO drivers (id, first_name, last_name, slug) VALUES (%s, 'A', 'B', %s)",
            (driver, str(driver)),
        )
        conn.execute(
            "INSERT INTO entrants (id, round_id, driver_id, team_id, role) VALUES (%s, %s, %s, %s, %s)",
            (new, ids["round"], driver, ids["team"], code),
        )


class _Rollback(Exception):
    pass


@pytest.mark.parametrize(("table", "column"), sorted(ENUMS))
def test_schema_catalog_enum_check_rejects_out_of_range(
    conn: Conn, parents: dict[str, uuid.UUID], table: str, column: str
) -> None:
    """Every enum column accepts exactly its SCHEMA.md codes; a real INSERT of any other code is refused."""
    valid = ENUMS[(table, column)]
    for code in [-(2**31), -1, *valid, valid.stop, valid.stop + 1, 2**31 - 1]:
        accepted = True
        try:
            with conn.transaction():
                _insert_with_code(conn, parents, table, column, code)
                raise _Rollback
        except _Rollback:
            pass
        except errors.CheckViolation as exc:
            accepted = False
            assert exc.diag.table_name == table
        assert accepted == (code in valid), f"{table}.{column} = {code}"


def test_schema_catalog_defaults_apply(conn: Conn, parents: dict[str, uuid.UUID]) -> None:
    """A series row gets ``brand_colors = []`` and an entrant ``role = 0`` (Regular) when not given."""
    series = conn.execute("SELECT brand_colors FROM series WHERE id = %s", (parents["series"],)).fetchone()
    assert series == ([],)
    assert conn.execute("SELECT role FROM entrants WHERE id = %s", (parents["entrant"],)).fetchone() == (0,)


def test_schema_catalog_ids_have_no_default(conn: Conn) -> None:
    """The application makes every id: inserting a row without one is refused."""
    with pytest.raises(errors.NotNullViolation):
        conn.execute("INSERT INTO teams (name, slug) VALUES ('X', 'x')")


# PostgreSQL 18 reports ON DELETE RESTRICT as restrict_violation (23001), 15 as foreign_key_violation (23503).
REFUSED = (errors.RestrictViolation, errors.ForeignKeyViolation)


def test_schema_catalog_delete_rules_hold(conn: Conn, parents: dict[str, uuid.UUID]) -> None:
    """ON DELETE rules at work: a circuit or driver in use cannot go; deleting a series cascades down."""
    with pytest.raises(REFUSED), conn.transaction():
        conn.execute("DELETE FROM circuits WHERE id = %s", (parents["circuit"],))
    with pytest.raises(REFUSED), conn.transaction():
        conn.execute("DELETE FROM drivers WHERE id = %s", (parents["driver"],))
    conn.execute("DELETE FROM series WHERE id = %s", (parents["series"],))
    for name in ("seasons", "rounds", "sessions", "entrants"):
        assert conn.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,), name
