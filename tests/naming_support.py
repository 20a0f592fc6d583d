"""The app's own database for the tests: its EF Core schema (``app_schema_ef.sql``, written from SCHEMA.md)
and, for the tests' own SQL only, views that show its racing tables under the snake_case names.

The tests that run on both namings take the ``schema_naming`` fixture (``BOTH_NAMINGS``); their connection
(the ``conn`` fixture) reads and writes the app's tables through schema ``snake_view`` (first on its
search_path), so one test body checks both databases. The views are a test aid: the ingester never sees
them (it names everything through its own naming, qualified by schema), and they are written here without
the ingester's code: the same rule as SCHEMA.md's (every snake_case word capitalised and joined).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

APP_SCHEMA_SQL = Path(__file__).with_name("app_schema_ef.sql")
NAMINGS = ("snake", "ef")
BOTH_NAMINGS = pytest.mark.parametrize("schema_naming", NAMINGS, indirect=True)
VIEWS = "snake_view"

#: The racing tables, by their snake_case names (shared/SCHEMA.md).
RACING = (
    "series", "seasons", "circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results",
    "driver_aliases", "team_aliases", "circuit_aliases",
)


#: The provenance of a result (``results`` on ours; ``ingestion.result_provenance`` on the app's database).
PROVENANCE = ("source", "source_version", "source_path")

#: The racing tables the ingester keeps in its own schema on the app's database (the driver aliases of its
#: own making: the issue's rule, what it needs beyond the app's racing rows lives in schema ingestion).
OWN_TABLES = ("driver_aliases",)


def ef_name(snake: str) -> str:
    """SCHEMA.md's rule: ``open_f1_session_key`` -> ``OpenF1SessionKey`` (``ui_order`` -> ``UIOrder``)."""
    if snake == "ui_order":
        return "UIOrder"
    return "".join(w[:1].upper() + w[1:] for w in snake.split("_"))


def snake_name(ef: str) -> str:
    if ef == "UIOrder":
        return "ui_order"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", ef).lower()


def build_app_database(conn: psycopg.Connection[Any]) -> None:
    """Create the app's schema (racing + user tables, one EF migration recorded)."""
    conn.execute(APP_SCHEMA_SQL.read_text(encoding="utf-8").encode())


def create_snake_views(conn: psycopg.Connection[Any]) -> None:
    """Schema ``snake_view``: one view per racing table, snake_case columns plus ``xmin``; circuits also
    shows ``ingestion.circuit_keys``'s key, and an INSERT through it writes both tables; results shows
    ``ingestion.result_provenance``'s columns; driver_aliases is
    ``ingestion.driver_aliases`` (the app's ``"DriverAliases"`` are not the ingester's)."""
    conn.execute(f"CREATE SCHEMA {VIEWS}")
    for table in RACING:
        if table in OWN_TABLES:  # the ingester's own, in schema ingestion, snake_case already
            conn.execute(f"CREATE VIEW {VIEWS}.{table} AS SELECT t.*, t.xmin FROM ingestion.{table} t")
            continue
        columns = [
            str(name)
            for (name,) in conn.execute(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                (f'public."{ef_name(table)}"',),
            ).fetchall()
        ]
        select = ", ".join(f't."{c}" AS {snake_name(c)}' for c in columns)
        extra = ""
        if table == "circuits":
            extra = (", (SELECT k.open_f1_circuit_key FROM ingestion.circuit_keys k "
                     'WHERE k.circuit_id = t."Id") AS open_f1_circuit_key')
        if table == "results":  # the provenance, in ingestion.result_provenance (when migrated)
            extra = "".join(
                f", (SELECT p.{c} FROM ingestion.result_provenance p WHERE p.result_id = t.\"Id\") AS {c}"
                for c in PROVENANCE
            )
        conn.execute(
            f'CREATE VIEW {VIEWS}.{table} AS SELECT {select}{extra}, t.xmin FROM public."{ef_name(table)}" t'
        )
        if table == "circuits":
            names = ", ".join(f'"{c}"' for c in columns)
            values = ", ".join(f"NEW.{snake_name(c)}" for c in columns)
            conn.execute(
                f"""CREATE FUNCTION {VIEWS}.insert_circuit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO public."Circuits" ({names}) VALUES ({values});
                    IF NEW.open_f1_circuit_key IS NOT NULL THEN
                        INSERT INTO ingestion.circuit_keys VALUES (NEW.id, NEW.open_f1_circuit_key);
                    END IF;
                    RETURN NEW;
                END $$"""
            )
            conn.execute(
                f"CREATE TRIGGER insert_circuit INSTEAD OF INSERT ON {VIEWS}.circuits "
                f"FOR EACH ROW EXECUTE FUNCTION {VIEWS}.insert_circuit()"
            )
