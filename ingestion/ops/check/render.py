"""``ingest check``'s report as plain lines, table cells and JSON-ready builtins (pure)."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence

import msgspec

from ingestion.instant import format_utc
from ingestion.ops.check.model import FIELDS, KINDS, CheckReport, Disagreement, Finding, Snapshot
from ingestion.store import short_key

__all__ = [
    "disagreement_cells", "disagreement_lines", "f1db_evidence", "finding_cells", "render_check",
    "report_json", "summary_line", "summary_lines",
]


def _wrap(text: str, indent: str, width: int | None) -> list[str]:
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    ) or [text]


def _scope(report: CheckReport) -> str:
    if not report.seasons:
        return "(no round in the database)"
    seasons = ", ".join(str(y) for y in report.seasons)
    return f"{seasons}: {report.rounds} rounds, {report.sessions} classified sessions"


def render_check(report: CheckReport, width: int | None = None) -> list[str]:
    """The report as plain lines, of ``width`` at most if given (a request, a URL, is never split):
    findings grouped by kind, each with its request and the snapshot that holds it (a batch's key
    shortened: ``--json`` has it whole); the summary last."""
    lines: list[str] = []
    for kind, count in report.counts().items():
        lines += _wrap(f"{kind}: {KINDS[kind]} ({count})", "  ", width)
        for f in (f for f in report.findings if f.kind == kind):
            lines += _evidence_lines(f, [("expected", f.expected), ("OpenF1", f.openf1)], width)
    lines += disagreement_lines(report, width)
    for gap in report.gaps:
        lines += _wrap(f"gap: {gap}", "  ", width)
    for line in replay_lines(report):
        lines += _wrap(line, "    ", width)
    lines += summary_lines(report, width)
    return lines


_DETAIL = " " * 16


def _evidence_lines(
    item: Finding | Disagreement, said: Sequence[tuple[str, str]], width: int | None
) -> list[str]:
    """One finding or disagreement: where and who, what each side says, the OpenF1 request (never split)
    and the stored answer that holds it."""
    who = f" #{item.driver_number} {item.driver}" if item.driver else ""
    key = f" {item.session_key}" if item.session_key is not None else ""
    lines = _wrap(f"  {item.season} R{item.round} {item.round_name}, {item.session}{key}{who}", "    ", width)
    for label, value in said:
        lines += _wrap(f"      {label:<10}{value}", _DETAIL, width)
    lines.append(f"      request   {item.request}")
    if item.snapshot is not None:
        lines += _wrap(f"      snapshot  {_snapshot_text(item.snapshot)}", _DETAIL, width)
    return lines


def _snapshot_text(snapshot: Snapshot) -> str:
    when = format_utc(snapshot.received_at)
    return f"{short_key(snapshot.request)} received {when}"


def f1db_evidence(d: Disagreement) -> str:
    """``src/data/seasons/2023/races/02-saudi-arabia/race-results.yml @ v2025.24.2, row 2``."""
    row = f", row {d.f1db_row}" if d.f1db_row is not None else ", no row" if d.field == "row" else ""
    return f"{d.f1db_file} @ {d.release}{row}"


def _who(d: Disagreement) -> str:
    return f"#{d.driver_number} {d.driver}" if d.driver_number is not None else "-"


def disagreement_lines(report: CheckReport, width: int | None = None) -> list[str]:
    """Where OpenF1 and f1db disagree, grouped by field, each with both sides' evidence (the stored
    answer's key shortened: ``--json`` has it whole)."""
    if report.release is None:
        return []
    lines = _wrap(
        f"OpenF1 against f1db {report.release} (f1db follows the FIA: presumed right): "
        f"{len(report.disagreements)} disagreement(s)", "  ", width,
    )
    for name, count in report.disagreement_counts().items():
        lines += _wrap(f"{name}: {FIELDS[name]} ({count})", "  ", width)
        for d in (d for d in report.disagreements if d.field == name):
            lines += _evidence_lines(d, [("OpenF1", d.openf1), ("f1db", d.f1db)], width)
            lines.append(f"      file      {d.f1db_file}")
            lines.append(f"{_DETAIL}{f1db_evidence(d).removeprefix(d.f1db_file).lstrip()}")
    if report.explained:
        counted = ", ".join(f"{kind} {n}" for kind, n in Counter(f.kind for f in report.explained).items())
        lines += _wrap(
            f"f1db explains {len(report.explained)} regulation finding(s) (pit-lane starts, cars it "
            f"classifies NC): {counted}", "  ", width,
        )
    return lines


def disagreement_cells(d: Disagreement) -> list[str]:
    """One disagreement as table cells: round, session, driver, OpenF1, f1db, request, f1db file."""
    key = f" {d.session_key}" if d.session_key is not None else ""
    return [
        f"{d.season} R{d.round} {d.round_name}", f"{d.session}{key}", _who(d), d.openf1, d.f1db, d.request,
        f1db_evidence(d).removeprefix("src/data/seasons/"),
    ]


def summary_lines(report: CheckReport, width: int | None = None) -> list[str]:
    """:func:`summary_line` in lines of ``width`` at most."""
    return _wrap(summary_line(report), "  ", width)


def replay_lines(report: CheckReport) -> list[str]:
    """The last replay's findings: upstream oddities whose last good rows it kept (none: no line)."""
    if not report.replay_findings:
        return []
    head = f"replay_held: the last replay kept the last good rows ({len(report.replay_findings)})"
    return [head, *(f"  {finding}" for finding in report.replay_findings)]


def summary_line(report: CheckReport) -> str:
    """``check 2023: 23 rounds, 56 classified sessions: 23 finding(s): points_missing 10, ...``."""
    compared = ""
    if report.release is not None:
        fields = ", ".join(f"{name} {n}" for name, n in report.disagreement_counts().items())
        compared = f"; {len(report.disagreements)} disagreement(s) with f1db {report.release}" + (
            f": {fields}" if fields else ""
        )
    if not report.findings and not report.replay_findings:
        return f"check {_scope(report)}: no finding{compared}"
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts().items())
    if report.replay_findings:
        counts = ", ".join(part for part in (counts, f"replay_held {len(report.replay_findings)}") if part)
    total = len(report.findings) + len(report.replay_findings)
    return f"check {_scope(report)}: {total} finding(s): {counts}{compared}"


def finding_cells(finding: Finding) -> list[str]:
    """One finding as table cells: round, session, driver, expected, OpenF1, request, snapshot."""
    key = f" {finding.session_key}" if finding.session_key is not None else ""
    who = f"#{finding.driver_number} {finding.driver}" if finding.driver else "-"
    snapshot = short_key(finding.snapshot.request) if finding.snapshot is not None else "-"
    return [
        f"{finding.season} R{finding.round} {finding.round_name}", f"{finding.session}{key}", who,
        finding.expected, finding.openf1, finding.request, snapshot,
    ]


def report_json(report: CheckReport) -> dict[str, object]:
    """The report as JSON-ready builtins: ok, seasons, rounds, sessions, counts per kind, findings."""
    return {
        "ok": report.ok,
        "seasons": list(report.seasons),
        "rounds": report.rounds,
        "sessions": report.sessions,
        "counts": report.counts(),
        "findings": msgspec.to_builtins(report.findings),
        "gaps": list(report.gaps),
        "replay_findings": list(report.replay_findings),
        "release": report.release,
        "disagreement_counts": report.disagreement_counts(),
        "disagreements": msgspec.to_builtins(report.disagreements),
        "explained": msgspec.to_builtins(report.explained),
    }
