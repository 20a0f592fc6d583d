"""How ``ingest verify`` and ``ingest db audit`` print their reports: tables on a terminal (drawn by rich,
coloured unless ``NO_COLOR``), the plain lines of before elsewhere (a pipe, a cron log: ``grep`` works).

Only formatting: the reports are the Structs :mod:`ingestion.ops.verify` and :mod:`ingestion.ops.audit`
return; ``--json`` prints those as they are.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ingestion.cli.lazy import lazy
from ingestion.cli.render import echo_lines, print_table, wrap_line

if TYPE_CHECKING:
    from rich.console import Console

    from ingestion.ops.audit import AuditReport
    from ingestion.ops.verify import VerifyReport, render_verify
else:  # verify's module (replay, the database) only when verify prints
    render_verify = lazy("ingestion.ops.verify", "render_verify")

__all__ = ["audit_lines", "print_audit", "print_verify"]


def _on_terminal(console: Console | None) -> bool:
    return console is not None or sys.stdout.isatty()


def _console(console: Console | None) -> Console:
    from rich.console import Console as RichConsole

    return console or RichConsole(highlight=False)


def _echo(text: str, console: Console, *, style: str | None = None) -> None:
    for line in wrap_line(text, console.width):  # fitted to the terminal, a word never split
        console.print(line, markup=False, highlight=False, style=style, soft_wrap=True)


def print_verify(report: VerifyReport, *, console: Console | None = None) -> None:
    """Verify's report: on a terminal a table per racing table (the examples of what differs below it)."""
    lines = render_verify(report)
    if not _on_terminal(console):
        echo_lines(lines)
        return
    console = _console(console)
    _echo(lines[0], console)
    rows = []
    for c in report.tables:
        if not c.compared:
            rows.append([c.table, "-", str(c.database), "", "", "", "", "not compared (results off)"])
            continue
        numbers = (c.expected, c.database, c.missing, c.extra, c.different, c.kept)
        status = "[green]ok[/]" if c.differences == 0 else "[bold red]DIFFERENT[/]"  # no colour: NO_COLOR
        rows.append([c.table, *(str(n) for n in numbers), status])
    headers = ["TABLE", "EXPECTED", "DATABASE", "MISSING", "EXTRA", "DIFFERENT", "KEPT", "STATUS"]
    print_table(headers, rows, right=range(1, 7), console=console)
    tail = next(i for i, line in enumerate(lines) if line.startswith("rows: "))
    for line in [*(line for line in lines[2:tail] if line.startswith("    ")), *lines[tail:]]:
        bad = line.startswith(("DIFFERENT", "INCOMPLETE"))
        _echo(line, console, style="bold red" if bad else "green" if line.startswith("OK") else None)


def audit_lines(report: AuditReport) -> tuple[list[str], list[str], list[str]]:
    """The audit as text (pure): the lines before the seasons, the seasons and nulls, and the findings on."""
    head = ["tables: " + ", ".join(f"{t} {n}" for t, n in report.tables.items()), "seasons:"]
    middle = [
        f"  {s.series} {s.year}: {s.rounds} rounds, {s.sessions} sessions "
        f"({s.completed_sessions} completed), {s.entrants} entrants, {s.drivers} drivers, {s.results} results"
        for s in report.seasons
    ] or ["  (none)"]
    middle.append("nulls where a value is expected:")
    middle.extend(
        f"  {n.table + '.' + n.column:<30} {n.nulls:>6} of {n.rows:<6} {n.share:6.1%}" for n in report.nulls
    )
    why = "the last replay ran without results" if report.results_source != "asked" else "--no-results"
    skipped = "" if report.results_checked else f" (result checks skipped: {why})"
    tail = [f"findings: {len(report.problems)} problem(s), {len(report.warnings)} warning(s){skipped}"]
    for f in report.findings:
        mark = "PROBLEM" if f.severity == "problem" else "warning"
        tail.append(f"  {mark} [{f.check}] {f.message}")
        tail.extend(f"      {example}" for example in f.examples)
        if f.count > len(f.examples) and f.examples:
            tail.append(f"      ... and {f.count - len(f.examples)} more")
    if report.regulations is not None:
        total = sum(report.regulations.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in report.regulations.items())
        tail.append(
            f"regulations (ingest check: OpenF1 against the sporting regulations): {total} finding(s)"
            + (f": {kinds}; `ingest check` lists each with its OpenF1 request" if total else "")
        )
    tail.extend(f"note: {note}" for note in report.notes)
    tail.append("audit: OK" if report.ok else "audit: integrity problems found")
    return head, middle, tail


def print_audit(report: AuditReport, *, console: Console | None = None) -> None:
    """The audit: on a terminal the seasons and the nulls as tables, the findings as lines after them."""
    head, middle, tail = audit_lines(report)
    if not _on_terminal(console):
        echo_lines([*head, *middle, *tail])
        return
    console = _console(console)
    _echo(head[0], console)
    seasons = [
        [s.series, str(s.year), *(str(n) for n in (s.rounds, s.sessions, s.completed_sessions, s.entrants,
                                                  s.drivers, s.results))]
        for s in report.seasons
    ]  # fmt: skip
    headers = ["SERIES", "YEAR", "ROUNDS", "SESSIONS", "COMPLETED", "ENTRANTS", "DRIVERS", "RESULTS"]
    print_table(headers, seasons, right=range(1, 8), title="seasons", console=console)
    nulls = [[f"{n.table}.{n.column}", str(n.nulls), str(n.rows), f"{n.share:.1%}"] for n in report.nulls]
    title = "nulls where a value is expected"
    print_table(["COLUMN", "NULLS", "OF", "SHARE"], nulls, right=range(1, 4), title=title, console=console)
    for line in tail:
        bad = line.startswith(("  PROBLEM", "audit: integrity"))
        _echo(line, console, style="bold red" if bad else "yellow" if line.startswith("  warning") else None)
