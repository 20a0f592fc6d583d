"""``ingest check``'s report as plain lines, table cells and JSON-ready builtins (pure)."""

from __future__ import annotations

import msgspec

from ingestion.ops.check.model import KINDS, CheckReport, Finding

__all__ = ["finding_cells", "render_check", "report_json", "summary_line"]


def _scope(report: CheckReport) -> str:
    if not report.seasons:
        return "(no round in the database)"
    seasons = ", ".join(str(y) for y in report.seasons)
    return f"{seasons}: {report.rounds} rounds, {report.sessions} classified sessions"


def render_check(report: CheckReport) -> list[str]:
    """The report as plain lines: findings grouped by kind, each with its request; a summary line last."""
    lines: list[str] = []
    for kind, count in report.counts().items():
        lines.append(f"{kind}: {KINDS[kind]} ({count})")
        for f in (f for f in report.findings if f.kind == kind):
            who = f" #{f.driver_number} {f.driver}" if f.driver else ""
            key = f" {f.session_key}" if f.session_key is not None else ""
            lines.append(f"  {f.season} R{f.round} {f.round_name}, {f.session}{key}{who}")
            lines.append(f"      expected  {f.expected}")
            lines.append(f"      OpenF1    {f.openf1}")
            lines.append(f"      request   {f.request}")
            if f.snapshot is not None:
                when = f.snapshot.received_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                lines.append(f"      snapshot  {f.snapshot.request} received {when}")
    lines.append(summary_line(report))
    return lines


def summary_line(report: CheckReport) -> str:
    """``check 2023: 23 rounds, 56 classified sessions: 23 finding(s): points_missing 10, ...``."""
    if report.ok:
        return f"check {_scope(report)}: no finding"
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts().items())
    return f"check {_scope(report)}: {len(report.findings)} finding(s): {counts}"


def finding_cells(finding: Finding) -> list[str]:
    """One finding as table cells: round, session, driver, expected, OpenF1, request, snapshot."""
    key = f" {finding.session_key}" if finding.session_key is not None else ""
    who = f"#{finding.driver_number} {finding.driver}" if finding.driver else "-"
    snapshot = finding.snapshot.request if finding.snapshot is not None else "-"
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
    }
