"""What a replay did, and its text (pure): per-table counts, the stages a replay goes through (for a progress
display), the summary ``ingest replay``, ``sync`` and ``run`` print."""

from __future__ import annotations

from datetime import datetime

import msgspec

from ingestion.instant import format_utc
from ingestion.replay.breaker import describe
from ingestion.replay.rows import ReplayWarning

__all__ = [
    "COUNTS_HEADER",
    "LoadSummary",
    "ReplayStep",
    "ReplaySummary",
    "TableCounts",
    "counts_columns",
    "render_summary",
    "replayed_line",
    "time_line",
]


class TableCounts(msgspec.Struct, frozen=True, kw_only=True):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.removed


class LoadSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Per racing table: rows inserted, updated, unchanged, removed; and the replay_runs row's id."""

    tables: dict[str, TableCounts]
    run_id: int | None = None
    #: rows removed from settled seasons beyond the breaker's limit, by year and table (``--allow-removals``)
    allowed_removals: dict[int, dict[str, int]] = {}
    #: upstream oddities found against the stored rows, whose last good rows were kept (:mod:`.findings`)
    findings: list[ReplayWarning] = []

    @property
    def written(self) -> int:
        return sum(c.written for c in self.tables.values())


class ReplayStep(msgspec.Struct, frozen=True, kw_only=True):
    """Where a replay is: ``index`` of ``stages`` stages done, the one now running (``name``) and what it
    has to work on (``count`` ``unit``), for a progress display."""

    index: int
    stages: int = 4
    name: str
    count: int | None = None
    unit: str = ""


class ReplaySummary(msgspec.Struct, frozen=True, kw_only=True):
    """What a replay did: per table counts, warnings by kind, seconds per stage."""

    as_of: datetime
    results: bool
    snapshots: int
    rows: dict[str, int]  # rows replay produced, per table
    tables: dict[str, TableCounts]  # what loading did with them
    warnings: dict[str, int]  # warnings by kind
    seconds: dict[str, float]  # read, decode, normalize, load
    run_id: int | None = None
    #: answers that cannot be true, each naming the answer and what its unit kept (no row was removed for
    #: them: the earlier answer's rows stay)
    kept: list[str] = msgspec.field(default_factory=list)
    #: rows of settled seasons removed beyond the breaker's limit because of ``--allow-removals``
    allowed_removals: dict[int, dict[str, int]] = {}
    #: upstream oddities whose last good rows were kept (:mod:`.findings`), one line each: exit 1
    findings: list[str] = []
    #: the tag of the f1db release replayed (None: none)
    f1db: str | None = None

    @property
    def written(self) -> int:
        return sum(c.written for c in self.tables.values())


def replayed_line(summary: ReplaySummary) -> str:
    """``replayed 148 snapshot(s) + f1db v2025.24.2 as of 2026-12-06T19:46:28Z``: the first line of every
    replay summary (``ingest replay``, ``sync``, ``run``), naming the f1db release replayed. Without results
    it ends `` (no results)`` where that fits in 80 columns (with a release it does not: the results row
    of the table below says ``--no-results``)."""
    release = f" + f1db {summary.f1db}" if summary.f1db else ""
    line = f"replayed {summary.snapshots} snapshot(s){release} as of {format_utc(summary.as_of)}"
    if not summary.results and len(line) + len(" (no results)") <= SUMMARY_WIDTH:
        line += " (no results)"
    return line


#: The columns every line of a replay's summary fits in.
SUMMARY_WIDTH = 80


#: The header of the count columns of a replay's table (``ingest replay``, ``sync``): :func:`counts_columns`.
COUNTS_HEADER = f"{'inserted':>10}{'updated':>9}{'unchanged':>11}{'removed':>9}"


def counts_columns(counts: TableCounts) -> str:
    """One table's inserted, updated, unchanged and removed rows, in the columns of :data:`COUNTS_HEADER`."""
    return f"{counts.inserted:>10}{counts.updated:>9}{counts.unchanged:>11}{counts.removed:>9}"


#: How many findings the summary shows, one line each.
FINDINGS_SHOWN = 10


def render_summary(summary: ReplaySummary) -> list[str]:
    """The summary as the lines ``ingest replay`` prints: counts per table, warnings by kind, timings."""
    lines = [
        replayed_line(summary),
        f"  {'table':<16}{'rows':>7}{COUNTS_HEADER}",
    ]
    for name, counts in summary.tables.items():
        if name == "results" and not summary.results:
            lines.append(f"  {name:<16} kept (not touched: --no-results)")
            continue
        lines.append(f"  {name:<16}{summary.rows.get(name, 0):>7}{counts_columns(counts)}")
    if summary.warnings:
        lines.append("warnings:")
        lines.extend(f"  {kind:<28}{count:>6}" for kind, count in summary.warnings.items())
    else:
        lines.append("warnings: none")
    lines.extend(f"kept: {message}" for message in summary.kept)
    if summary.findings:
        lines.append(f"findings (upstream oddities: the last good rows kept): {len(summary.findings)}")
        lines.extend(f"  {finding}" for finding in summary.findings[:FINDINGS_SHOWN])
        if len(summary.findings) > FINDINGS_SHOWN:
            lines.append(f"  ... and {len(summary.findings) - FINDINGS_SHOWN} more (--json has them all)")
    if summary.allowed_removals:
        lines.append(f"removals allowed (--allow-removals): {describe(summary.allowed_removals)}")
    lines.append(time_line(summary))
    return lines


def time_line(summary: ReplaySummary) -> str:
    """``time: read 0.08, decode 0.15, normalize 6.70, load 5.54 s; 138077 row(s) written``; the stages'
    sum alone when that would not fit in 80 columns."""
    stages = ", ".join(f"{k} {_seconds(v)}" for k, v in summary.seconds.items())
    line = f"time: {stages} s; {summary.written} row(s) written"
    if len(line) <= SUMMARY_WIDTH:
        return line
    return f"time: {_seconds(sum(summary.seconds.values()))} s in all; {summary.written} row(s) written"


def _seconds(value: float) -> str:
    """``0.08``, ``6.70``, ``16.7``, ``123``: at most 4 characters below 1000 s (the time line fits 80
    columns)."""
    if value < 9.995:
        return f"{value:.2f}"
    if value < 99.95:
        return f"{value:.1f}"
    return f"{value:.0f}"
