"""The SQL names of the racing tables in one database: ``snake`` (ours) or ``ef`` (the app's own database).

The racing tables are listed once (:data:`ingestion.tables.RACING_TABLES`, snake_case names as in
``shared/SCHEMA.md``; replay describes those it writes in :data:`ingestion.replay.rows.TABLES`); a
:class:`Naming` turns a table or column of that model into the SQL name a given database uses:

- ``snake``: the schema ``ingest db migrate`` creates: unquoted snake_case (``sessions.open_f1_session_key``);
- ``ef``: the schema the app's Entity Framework Core migrations create: quoted PascalCase, every word
  capitalised and joined (``"Sessions"."OpenF1SessionKey"``, ``"Results"."Q1Time"``, ``"Series"."UIOrder"``).

What the app's model lacks is kept out of its tables on an ``ef`` database: OpenF1's circuit key lives in
``ingestion.circuit_keys`` (a *side table* keyed by the circuit's id), a result's provenance in
``ingestion.result_provenance`` (keyed by the result's id), the driver aliases of the ingester's
own making in ``ingestion.driver_aliases`` (an *own table*, snake_case: the app's ``"DriverAliases"`` are
the app's, never written), replay runs and migrations in schema ``ingestion``. :meth:`Naming.select` reads
a table with every model column under its snake_case name (side columns joined in), so readers work the
same on both namings.

Which naming a database uses is detected from its catalog (:func:`detect`), or forced by
``DATABASE_SCHEMA=snake|ef`` (default ``auto``; read once, into the settings, and passed down);
:func:`resolve` does both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, get_args

import msgspec
import psycopg
from psycopg import sql

from ingestion.errors import NotMigrated
from ingestion.tables import RACING_TABLES

__all__ = [
    "EF",
    "OWN_SCHEMA",
    "RACING_TABLES",
    "SETTINGS",
    "SNAKE",
    "Kind",
    "Naming",
    "Setting",
    "SideColumn",
    "SideTable",
    "detect",
    "pascal",
    "require_tables",
    "resolve",
]

Kind = Literal["snake", "ef"]
Setting = Literal["auto", "snake", "ef"]
SETTINGS: tuple[str, ...] = get_args(Setting)

Conn = psycopg.Connection[Any]

#: Where EF's PascalCase is not simply every snake_case word capitalised.
_EF_EXCEPTIONS = {"ui_order": "UIOrder"}

#: The schema of the ingester's own tables (bookkeeping; on an ``ef`` database also its side tables).
OWN_SCHEMA = "ingestion"



def snake(name: str) -> str:
    """The model's name of an EF Core table or column: ``OpenF1SessionKey`` -> ``open_f1_session_key``."""
    for model, ef in _EF_EXCEPTIONS.items():
        if ef == name:
            return model
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def pascal(name: str) -> str:
    """EF Core's name for a snake_case table or column: ``open_f1_session_key`` -> ``OpenF1SessionKey``."""
    if name in _EF_EXCEPTIONS:
        return _EF_EXCEPTIONS[name]
    return "".join(word[:1].upper() + word[1:] for word in name.split("_"))


class SideColumn(msgspec.Struct, frozen=True):
    """A model column the database's own table lacks, kept in ``ingestion.<table>`` keyed by the row's id.

    One side table may keep several columns of a row (``ingestion.result_provenance``). ``unique``: a value
    belongs to one row at most (OpenF1's circuit key): a row taking it frees it from any other first."""

    table: str
    key: str
    column: str
    unique: bool = False


class SideTable(msgspec.Struct, frozen=True):
    """One side table of a model table: its name in schema ``ingestion``, the column holding the row's id,
    and (model column, where it is kept) for each column it keeps, in the model's order."""

    table: str
    key: str
    columns: tuple[tuple[str, SideColumn], ...]


#: The model columns the app's tables lack (shared/SCHEMA.md: "nothing of what the ingester adds exists
#: there"), and where an ``ef`` database keeps them.
_EF_SIDE: dict[tuple[str, str], SideColumn] = {
    ("circuits", "open_f1_circuit_key"): SideColumn(
        "circuit_keys", "circuit_id", "open_f1_circuit_key", unique=True
    ),
    # a result's provenance (docs/f1db.md, "Provenance")
    ("results", "source"): SideColumn("result_provenance", "result_id", "source"),
    ("results", "source_version"): SideColumn("result_provenance", "result_id", "source_version"),
    ("results", "source_path"): SideColumn("result_provenance", "result_id", "source_path"),
}

#: Extra unique keys of the app's tables that replay adopts existing rows by (its entrants are unique on
#: (round, driver), not on (round, driver, team)).
_EF_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {"entrants": (("round_id", "driver_id"),)}

#: Model tables the ingester keeps in its own schema on an ``ef`` database, under their snake_case names
#: (``ingestion.driver_aliases``): the driver aliases of its own making. The issue's rule: what it needs
#: beyond the app's racing rows lives in schema ``ingestion``; the app's ``"DriverAliases"`` are the app's.
_EF_OWN: frozenset[str] = frozenset({"driver_aliases"})

#: Racing tables of the app's database that the ingester neither writes nor reads (model name -> SQL name):
#: racing data all the same (clean-racing deletes them, they never count as user data).
_EF_EXTRA_RACING: dict[str, str] = {"series_aliases": "SeriesAliases", "app_driver_aliases": "DriverAliases"}


class Naming(msgspec.Struct, frozen=True):
    """The SQL names of the model's racing tables in one database (see the module doc)."""

    kind: Kind

    @property
    def schema(self) -> str:
        """The schema of the racing tables (the app's, on ``ef``); see :meth:`schema_of`."""
        return "public"

    def own(self, name: str) -> bool:
        """Whether model table ``name`` is one the ingester keeps in its own schema (``ef`` only)."""
        return self.kind == "ef" and name in _EF_OWN

    def schema_of(self, name: str) -> str:
        """The schema that holds model table ``name``."""
        return OWN_SCHEMA if self.own(name) else self.schema

    def table(self, name: str) -> str:
        """The SQL name (unquoted text, in :meth:`schema_of`) of model table ``name``."""
        if self.kind == "snake" or self.own(name):
            return name
        return _EF_EXTRA_RACING.get(name) or pascal(name)

    def column(self, table: str, column: str) -> str:
        """The SQL name of ``column`` of model table ``table`` (in its own table; see :meth:`side`)."""
        return pascal(column) if self.kind == "ef" and not self.own(table) else column

    def qualified(self, name: str) -> tuple[str, str]:
        """(schema, SQL name) of model table ``name``: how the catalog names it."""
        return self.schema_of(name), self.table(name)

    def side(self, table: str, column: str) -> SideColumn | None:
        """Where a model column the database's table lacks is kept, or None (it is in the table)."""
        return _EF_SIDE.get((table, column)) if self.kind == "ef" else None

    def side_columns(self, table: str) -> tuple[tuple[str, SideColumn], ...]:
        """(model column, where it is kept) for each column of ``table`` kept in a side table."""
        if self.kind != "ef":
            return ()
        return tuple((c, s) for (t, c), s in _EF_SIDE.items() if t == table)

    def side_tables(self, table: str) -> tuple[SideTable, ...]:
        """The side tables keeping columns of ``table`` (``ef`` only), each once with all its columns."""
        groups: dict[tuple[str, str], list[tuple[str, SideColumn]]] = {}
        for column, side in self.side_columns(table):
            groups.setdefault((side.table, side.key), []).append((column, side))
        return tuple(SideTable(t, k, tuple(cs)) for (t, k), cs in groups.items())

    def rel(self, name: str) -> sql.Identifier:
        """The qualified table of model table ``name`` (``public.sessions`` / ``public."Sessions"``)."""
        return sql.Identifier(*self.qualified(name))

    def col(self, table: str, column: str) -> sql.Identifier:
        return sql.Identifier(self.column(table, column))

    def unique_keys(self, table: str, keys: Sequence[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
        """The natural keys replay adopts existing rows of ``table`` by: the model's, then the database's."""
        extra = _EF_KEYS.get(table, ()) if self.kind == "ef" else ()
        return tuple(dict.fromkeys((*keys, *extra)))

    def racing_tables(self, model: Sequence[str] = RACING_TABLES) -> tuple[str, ...]:
        """Model names of every racing table of the database: ``model`` plus the app's own extras."""
        return (*model, *(_EF_EXTRA_RACING if self.kind == "ef" else ()))

    def select(self, table: str, columns: Sequence[str], alias: str = "t") -> sql.Composed:
        """``SELECT <each column AS its model name> FROM <table> <alias>`` with side columns joined in."""
        a = sql.Identifier(alias)
        items: list[sql.Composable] = []
        joins: list[sql.Composable] = []
        aliases: dict[str, sql.Identifier] = {}  # side table -> its alias: one join per side table
        for c in columns:
            side = self.side(table, c)
            if side is None:
                items.append(sql.SQL("{}.{} AS {}").format(a, self.col(table, c), sql.Identifier(c)))
                continue
            k = aliases.get(side.table)
            if k is None:
                k = aliases[side.table] = sql.Identifier(f"{alias}_side{len(aliases)}")
                joins.append(
                    sql.SQL(" LEFT JOIN {} {} ON {}.{} = {}.{}").format(
                        sql.Identifier(OWN_SCHEMA, side.table), k, k, sql.Identifier(side.key), a,
                        self.col(table, "id"),
                    )
                )
            items.append(sql.SQL("{}.{} AS {}").format(k, sql.Identifier(side.column), sql.Identifier(c)))
        return sql.SQL("SELECT {} FROM {} {}{}").format(
            sql.SQL(", ").join(items), self.rel(table), a, sql.SQL("").join(joins)
        )

    def source(self, table: str, columns: Sequence[str]) -> sql.Composed:
        """A relation usable in FROM: the table itself on ``snake``, else :meth:`select` in parentheses."""
        if self.kind == "snake":
            return sql.SQL("{}").format(self.rel(table))
        return sql.SQL("({})").format(self.select(table, columns, "src"))


SNAKE = Naming("snake")
EF = Naming("ef")


def detect(conn: Conn) -> Kind | None:
    """The naming the database's catalog shows: ``ef`` when the app's ``public."Sessions"`` table exists,
    with or without EF's ``"__EFMigrationsHistory"`` (an app database made by ``EnsureCreated`` has none);
    else ``snake`` when our migrations table or ``public.sessions`` does; else None (neither schema)."""
    row = conn.execute(
        """
        SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = 'public' AND c.relname = 'Sessions' AND c.relkind IN ('r', 'p')),
               to_regclass('ingestion.schema_migrations') IS NOT NULL
                 OR to_regclass('public.sessions') IS NOT NULL
        """
    ).fetchone()
    assert row is not None
    if row[0]:
        return "ef"
    if row[1]:
        return "snake"
    return None


def resolve(conn: Conn, setting: str = "auto") -> Naming:
    """The naming to use on ``conn``'s database: ``setting`` (``DATABASE_SCHEMA`` as the settings read it,
    :attr:`ingestion.config.Settings.database_schema`, passed down by each command) when it forces one,
    else the detected one, else ``snake`` (the schema ``ingest db migrate`` creates)."""
    if setting == "ef":
        return EF
    if setting == "snake":
        return SNAKE
    return EF if detect(conn) == "ef" else SNAKE


def catalog_columns(conn: Conn, naming: Naming, tables: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Every column of each model table as the database holds it (model names, side columns included),
    in the table's order: what readers that need more than the owned columns select."""
    rows = conn.execute(
        """
        SELECT n.nspname::text, c.relname::text, a.attname::text FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname::text, c.relname::text) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum
        """,
        ([naming.schema_of(t) for t in tables], [naming.table(t) for t in tables]),
    ).fetchall()
    model = {naming.qualified(t): t for t in tables}
    out: dict[str, list[str]] = {t: [] for t in tables}
    for nspname, relname, attname in rows:
        table = model[(str(nspname), str(relname))]
        column = snake(str(attname)) if naming.kind == "ef" else str(attname)
        if naming.column(table, column) == attname:  # a name the model can address
            out[table].append(column)
    for table in tables:
        out[table].extend(c for c, _ in naming.side_columns(table) if c not in out[table])
    return {t: tuple(cs) for t, cs in out.items()}


def require_tables(conn: Conn, naming: Naming, tables: Sequence[str]) -> None:
    """:class:`~ingestion.errors.NotMigrated` naming the model tables ``tables`` the database lacks."""
    rows = conn.execute(
        "SELECT schemaname::text, tablename::text FROM pg_tables "
        "WHERE (schemaname::text, tablename::text) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([naming.schema_of(t) for t in tables], [naming.table(t) for t in tables]),
    ).fetchall()
    present = {(str(schema), str(name)) for schema, name in rows}
    missing = sorted(naming.table(t) for t in tables if naming.qualified(t) not in present)
    if missing:
        raise NotMigrated(
            f"the database lacks the racing tables {', '.join(missing)}: run `ingest db migrate`"
        )


_NOT_ALIAS = r"(?!(?:WHERE|GROUP|ORDER|JOIN|LEFT|RIGHT|INNER|CROSS|ON|LIMIT|HAVING|UNION|USING)\b)"


def rewriter(naming: Naming, columns: Mapping[str, Sequence[str]], render: Callable[[sql.Composable], str]
             ) -> Callable[[str], str]:
    """A function that makes a query written against the snake_case tables (``FROM rounds r``, ``JOIN
    seasons se``, unqualified, aliased or not) read the database's own: identity on ``snake``; on ``ef``
    each such table becomes a derived table with every column of ``columns`` under its model name.

    For hand-written read-only queries (audit, report); ``render`` turns SQL into text (``as_string``).
    """
    if naming.kind == "snake":
        return lambda query: query
    sources = {t: render(naming.source(t, cs)) for t, cs in columns.items()}
    names = "|".join(sorted(sources, key=len, reverse=True))
    pattern = re.compile(rf"\b(FROM|JOIN)\s+({names})\b(?:\s+{_NOT_ALIAS}([a-z_][a-z0-9_]*)\b)?")

    def rewrite(query: str) -> str:
        return pattern.sub(lambda m: f"{m[1]} {sources[m[2]]} {m[3] or m[2]}", query)

    return rewrite


def reader(conn: Conn, naming: Naming | None = None) -> Callable[[str], str]:
    """:func:`rewriter` for ``conn``'s database (naming resolved, columns from its catalog)."""
    naming = naming or resolve(conn)
    if naming.kind == "snake":
        return lambda query: query
    return rewriter(naming, catalog_columns(conn, naming, RACING_TABLES), lambda q: q.as_string(conn))
