"""verify's and audit's reports: tables on a terminal (coloured, never with NO_COLOR), the plain lines of
before when piped, the Structs as they are with --json (tested with the commands)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from ingestion.cli.reports import audit_lines, print_audit, print_verify
from ingestion.ops.audit import AuditReport, Finding, NullShare, SeasonSummary
from ingestion.ops.verify import ColumnDiff, RowIssue, TableCheck, VerifyReport, render_verify

COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9]m")  # a foreground colour (bold alone is not a colour)

DIFFERENT = RowIssue(id="r-1", label="2024 Abu Dhabi, Race, NOR",
                     columns=(ColumnDiff(column="position", database=2, expected=1),))  # fmt: skip
VERIFY = VerifyReport(
    as_of=datetime(2024, 12, 8, 18, tzinfo=UTC), results=True, source="replay run 6", snapshots=148,
    strict=False,
    tables=(
        TableCheck(table="rounds", compared=True, expected=24, database=24),
        TableCheck(table="results", compared=True, expected=479, database=479, different=1,
                   different_examples=(DIFFERENT,)),
    ),
    counts={"rounds": 24, "results": 479}, rounds_per_season={2024: 24}, sessions_per_type={"Race": 24},
    latest_completed=None, ok=False, exit_code=1,
)  # fmt: skip
AUDIT = AuditReport(
    results_checked=True,
    findings=(Finding(check="orphans", severity="problem", message="1 result without entrant", count=1,
                      examples=("result r-9",)),
              Finding(check="numbers", severity="warning", message="2 drivers share #2", count=2)),
    nulls=(NullShare(table="sessions", column="end_time_utc", rows=120, nulls=3),),
    seasons=(SeasonSummary(series="F1", year=2024, rounds=24, grands_prix=24, testing=0, sessions=120,
                           completed_sessions=118,
                           entrants=480, drivers=24, results=479),),
    tables={"rounds": 24, "results": 479},
)  # fmt: skip


def _terminal(*, colour: bool = True) -> Console:
    system = "standard" if colour else None
    return Console(file=io.StringIO(), width=100, force_terminal=True, color_system=system)


def test_verify_on_a_terminal_is_a_table_with_the_examples_below(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    console = _terminal()
    print_verify(VERIFY, console=console)
    written = console.file.getvalue()  # type: ignore[attr-defined]
    assert COLOUR.search(written)  # DIFFERENT in red
    lines = [line.rstrip() for line in re.sub(r"\x1b\[[0-9;]*m", "", written).splitlines()]
    assert lines[0].startswith("verify as of 2024-12-08T18:00:00Z (replay run 6); 148 request(s)")
    assert lines[1].split() == ["TABLE", "EXPECTED", "DATABASE", "MISSING", "EXTRA", "DIFFERENT", "KEPT",
                                "STATUS"]  # fmt: skip
    assert lines[2].split() == ["rounds", "24", "24", "0", "0", "0", "0", "ok"]
    assert lines[3].split() == ["results", "479", "479", "0", "0", "1", "0", "DIFFERENT"]
    example = "    different: 2024 Abu Dhabi, Race, NOR (id r-1): position 2 in the database, 1 expected"
    assert example in lines
    assert lines[-1] == "DIFFERENT: 1 row(s) do not match the snapshots; `ingest replay` rewrites them"
    assert all(len(line) <= 100 for line in lines)


def test_verify_and_audit_never_coloured_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console = Console(file=io.StringIO(), width=100, force_terminal=True)  # reads NO_COLOR, as the CLI's
    print_verify(VERIFY, console=console)
    print_audit(AUDIT, console=console)
    written = console.file.getvalue()  # type: ignore[attr-defined]
    assert "DIFFERENT" in written and "PROBLEM" in written and not COLOUR.search(written)


def test_verify_and_audit_piped_print_their_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    print_verify(VERIFY)
    assert capsys.readouterr().out.splitlines() == render_verify(VERIFY)
    print_audit(AUDIT)
    out = capsys.readouterr().out
    head, middle, tail = audit_lines(AUDIT)
    assert out.splitlines() == [*head, *middle, *tail]
    assert "\x1b" not in out
    season = "  F1 2024: 24 rounds, 120 sessions (118 completed), 480 entrants, 24 drivers, 479 results"
    assert season in middle
    assert tail[-1] == "audit: integrity problems found"


def test_audit_on_a_terminal_shows_seasons_and_nulls_as_tables() -> None:
    console = _terminal(colour=False)
    print_audit(AUDIT, console=console)
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert lines[0] == "tables: rounds 24, results 479"
    at = lines.index("seasons")
    headers = ["SERIES", "YEAR", "ROUNDS", "SESSIONS", "COMPLETED", "ENTRANTS", "DRIVERS", "RESULTS"]
    assert lines[at + 1].split() == headers
    assert lines[at + 2].split() == ["F1", "2024", "24", "120", "118", "480", "24", "479"]
    at = lines.index("nulls where a value is expected")
    assert lines[at + 1].split() == ["COLUMN", "NULLS", "OF", "SHARE"]
    assert lines[at + 2].split() == ["sessions.end_time_utc", "3", "120", "2.5%"]
    assert "  PROBLEM [orphans] 1 result without entrant" in lines and "      result r-9" in lines
    assert lines[-1] == "audit: integrity problems found"
