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

    @property
    def written(self) -> int:
        return sum(c.written for c in self.tables.values())


def replayed_line(summary: ReplaySummary) -> str:
    """``replayed 148 snapshot(s) as of 2024-12-08T12:00:00Z`` (`` (no results)`` without results): the first
    line of every replay summary (``ingest replay``, ``sync``, ``run``)."""
    suffix = "" if summary.results else " (no results)"
    return f"replayed {summary.snapshots} snapshot(s) as of {format_utc(summary.as_of)}{suffix}"


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
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in summary.seconds.items())
    lines.append(f"time: {stages}; {summary.written} row(s) written")
    return lines
