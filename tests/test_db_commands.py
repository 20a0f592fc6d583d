"""The ``ingest db`` commands as library calls (ingestion/db/commands.py): the CLI only parses and prints.
Each takes the settings (``DATABASE_SCHEMA`` included) and returns a typed outcome."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_audit import racing_counts
from test_clean_racing import Conn, Diary, Seed, seeded  # noqa: F401 (the fixture)

from ingestion.config import load_settings
from ingestion.db.clean import CleanReport, UserDataReferencesRacing
from ingestion.db.commands import clean_racing_database, database_status, migrate_database

CLI = Path(__file__).resolve().parents[1] / "ingestion" / "cli"


def test_db_commands_status_says_the_naming_and_why(db_url: str, tmp_path: Path) -> None:
    """On our migrated database: naming snake from the catalog; forced by the setting, it says so."""
    found = database_status(load_settings({"DATABASE_URL": db_url}, tmp_path))
    assert found.naming == "snake" and found.source == "the ingester's own schema"
    assert found.pending == 0 and found.applied == len(found.migrations) > 0
    assert found.json()["applied"] == found.applied and "source" not in found.json()
    forced = database_status(load_settings({"DATABASE_URL": db_url, "DATABASE_SCHEMA": "snake"}, tmp_path))
    assert forced.source == "DATABASE_SCHEMA=snake; the catalog shows snake"
    assert migrate_database(load_settings({"DATABASE_URL": db_url}, tmp_path)).applied == []


def test_db_commands_clean_racing_asks_and_stops_on_no(
    conn: Conn, seeded: Seed, db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    """Clean-racing's flow: the preview first, then the question; "no" deletes nothing (aborted); a dry run
    never asks; with user data referencing racing rows it refuses before asking."""
    settings = load_settings({"DATABASE_URL": db_url}, tmp_path)
    seen: list[int] = []

    def preview(_database: str, report: CleanReport) -> None:
        seen.append(report.total)

    def no(_database: str, _report: CleanReport) -> bool:
        return False

    run = clean_racing_database(settings, dry_run=False, on_preview=preview, confirm=no)
    assert run.aborted and seen == [sum(seeded.counts.values())]
    assert racing_counts(conn) == seeded.counts
    dry = clean_racing_database(settings, dry_run=True, confirm=no)
    assert dry.report.dry_run and not dry.aborted and dry.json()["total"] == dry.report.total
    Diary(conn, "snake").add(seeded, 9465)
    asked: list[bool] = []

    def yes(_database: str, _report: CleanReport) -> bool:
        asked.append(True)
        return True

    with pytest.raises(UserDataReferencesRacing):
        clean_racing_database(settings, dry_run=False, confirm=yes)
    assert asked == [] and racing_counts(conn) == seeded.counts


def test_db_commands_cli_opens_no_connection() -> None:
    """The database commands of the CLI (cli/db.py, cli/ops.py) call the library: none connects, resolves
    a naming or builds a JSON object by hand."""
    for name in ("db.py", "ops.py"):
        text = (CLI / name).read_text(encoding="utf-8")
        assert not re.search(r"\bconnect\(|\bresolve\(|msgspec\.to_builtins", text), name
