"""Rules written once: each test fails when a second definition of its rule appears in the package (the
copies the issue found were written differently, so ``duplicates`` could not see them)."""

from __future__ import annotations

import re
from pathlib import Path

from ingestion.tables import RACING_TABLES

PACKAGE = Path(__file__).resolve().parents[1] / "ingestion"


def _where(pattern: str, *, allowed: tuple[str, ...]) -> list[str]:
    """The package files (relative paths) outside ``allowed`` whose source matches ``pattern``."""
    regex = re.compile(pattern, re.M)
    return [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if str(path.relative_to(PACKAGE)) not in allowed
        and regex.search(path.read_text(encoding="utf-8"))
    ]


def test_one_definition_removable_tables() -> None:
    """The tables replay deletes from are the specs' (``REMOVABLE_TABLES`` in replay/rows.py, from each
    spec's removal scope): no list of them anywhere else."""
    assert _where(r"^\s*REMOVABLE\w*\s*(:[^=\n]*)?=", allowed=("replay/rows.py",)) == []
    assert _where(r'\(\s*"results",\s*"entrants",\s*"driver_aliases"\s*\)', allowed=()) == []


def test_one_definition_foreign_keys() -> None:
    """The foreign keys among racing tables, (child, column, parent), are listed once (tables.py); the
    specs' parents and the audit's orphan checks read it."""
    table = "|".join(RACING_TABLES)
    triple = rf'\(\s*"({table})",\s*"\w+_id",\s*"({table})"\s*\)'
    assert _where(triple, allowed=("tables.py",)) == []


def test_one_definition_atomic_write() -> None:
    """Files are replaced through the store's careful helper (temporary file, fsync, rename, folder fsync):
    ``os.replace`` appears in it and in the blob writer (which syncs its batch) only."""
    careful = ("store/_files.py", "store/_writer.py")
    assert _where(r"os\.replace\(|os\.rename\(|\.rename\(tmp|\.replace\(tmp", allowed=careful) == []


def test_one_definition_utc_format_and_conversion() -> None:
    """An instant is written for people one way (``instant.format_utc``) and converted to UTC one way
    (``instant.as_utc``): no hand-written ``%Y-%m-%dT%H:%M:%SZ``, no other ``astimezone``."""
    assert _where(r"%Y-%m-%dT%H:%M:%SZ", allowed=("instant.py",)) == []
    assert _where(r"\.astimezone\(", allowed=("instant.py",)) == []
    assert _where(r"^def (to_utc|as_utc)\(", allowed=("instant.py",)) == []


def test_one_definition_utc_parse() -> None:
    """Text is read as an instant one way (``instant.read_utc`` from data, ``instant.parse_instant`` from
    people, both on one ISO-8601 reading), and a time that cannot be shifted to UTC is unknown one way
    (``instant.utc_or_none``): the server keeps only OpenF1's query grammar (``_query.query_instant``, a
    shape check before ``read_utc``) and its whole-day dates."""
    assert _where(r"datetime\.fromisoformat\(", allowed=("instant.py",)) == []
    assert _where(r"^def (utc_or_none|read_utc|parse_instant|_instant)\(", allowed=("instant.py",)) == []
    assert _where(r"\bdate\.fromisoformat\(", allowed=("server/_query.py",)) == []
    query = (PACKAGE / "server/_query.py").read_text(encoding="utf-8")
    assert "return read_utc(text) if _DATE_LIKE.fullmatch(text) else None" in query


def test_one_definition_settings_read_from_the_environment() -> None:
    """The environment is read in config.py only (``DATABASE_SCHEMA`` included: read once into the settings
    and passed down, never deep in db/naming.py)."""
    assert _where(r"os\.environ\b(?!\.setdefault)|getenv\(", allowed=("config.py",)) == []
    assert _where(r"DATABASE_SCHEMA\b.*\b(get|environ)|database_schema\(\)", allowed=("config.py",)) == []


def test_one_definition_names_mean_one_thing() -> None:
    """Names that meant two things are split: an answer that says no rows (``says_no_rows``) is not empty
    tables (``tables_empty``); an audit query (``AuditQuery``) is not a health check's line (``Check``);
    session names to types (``SESSION_NAMES``) are not type codes to names (``SESSION_TYPE_NAMES``)."""
    assert _where(r"\bis_empty\b", allowed=()) == []
    assert _where(r"\bSESSION_TYPES\b", allowed=()) == []
    assert _where(r"^class Check\b", allowed=("ops/healthcheck.py",)) == []


def test_one_definition_check_reads_typed_rows() -> None:
    """``ingest check``'s query layer reads the table specs' typed rows by attribute: no ``{column: value}``
    dict looked up by column name, no ``int(str(x["status"]))``."""
    assert "ops/check/read.py" not in _where(r'\w\["\w+"\]|int\(str\(', allowed=())


#: A racing row's values paired with column names by zip: ``dict(zip(columns, values))``, a comprehension
#: ``{c: v for c, v in zip(spec.columns, values)}``, or any zip over a table spec's columns.
_COLUMNS = r"(\w+(\([^)]*\))?\.)?\w*col\w*"
ZIPPED_ROWS = (
    rf"dict\(zip\(\s*{_COLUMNS}\s*,"
    rf"|\{{[^{{}}\n]*\bfor\b[^{{}}\n]*\bin\s+zip\(\s*{_COLUMNS}\s*,"
    r"|zip\(\s*spec\w*(\([^)]*\))?\.columns\b"
)


def test_one_definition_typed_stored_rows() -> None:
    """A stored racing row is read typed, through ``replay/stored_rows.py`` alone (the one view verify,
    scope, check and adoption share: whole rows as the specs' row Structs, adoption's rows as ``KeyedRow``),
    never turned into a ``{column: value}`` dict by zipping column names: no other place does it."""
    assert _where(ZIPPED_ROWS, allowed=("replay/stored_rows.py",)) == []


def test_one_definition_typed_stored_rows_sees_every_form() -> None:
    """The rule above can fail: each way of zipping a row with its columns is seen (and a typed read is
    not)."""
    seen = (
        "out[spec.name] = [dict(zip(columns, r, strict=True)) for r in rows]",
        "return dict(zip(spec.columns, values))",
        "dict(zip( spec_of(name).columns, row))",
        "{c: v for c, v in zip(spec.columns, values)}",
        "{column: value for column, value in zip(cols, row)}",
        "pairs = list(zip(spec.columns, row))",
    )
    not_seen = ("stored_rows(snapshot, SessionRow)", "zip(cells, widths, strict=True)", "zip(rows, mine)")
    regex = re.compile(ZIPPED_ROWS)
    assert [line for line in seen if not regex.search(line)] == []
    assert [line for line in not_seen if regex.search(line)] == []
