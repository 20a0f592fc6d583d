"""``ingest check``: where OpenF1 is wrong or silent, judged against the sporting regulations. Read-only.

    from ingestion.ops.check import check
    from ingestion.ops.check.read import read_rounds

    with connect(url) as conn:
        report = check(read_rounds(conn, season=2023))
    for finding in report.findings:
        print(finding.kind, finding.request)

Replay copies OpenF1 faithfully (``ingest verify`` proves it), so the database says what OpenF1 says. This
check says where that disagrees with the rules of the sport: each :class:`Finding` names the season, round,
session and driver, what the regulations (or a complete classification) expect, what OpenF1 says, and the
exact OpenF1 request that shows it, ready to paste into a report upstream; with the snapshot store,
also the stored answer that holds what OpenF1 sent (:func:`with_snapshots`). Nothing is ever corrected:
the database keeps what OpenF1 says until OpenF1 (or a later source) says otherwise.

One module per concept: :mod:`.model` (the typed rows it reads and the findings it returns), :mod:`.rules`
(the regulation rules: :func:`check` takes :class:`Round` values and returns a :class:`CheckReport`, pure),
:mod:`.evidence` (each finding's provenance: its OpenF1 request and the stored answer), :mod:`.read` (the one
query layer, reading the racing tables through the replay's table specs,
:func:`ingestion.replay.load.racing_snapshot`, in one read-only snapshot; the shell, imported from there:
this package's face is pure) and :mod:`.render` (the report as lines and JSON). The kinds (:data:`KINDS`):

- points, against :mod:`ingestion.regulations` for the season (of the season's scales that fit the leader's
  laps, the one most non-zero points values agree with; full points on a tie):
  ``points_missing`` (classified in the points with 0 or null points), ``points_off_table`` (a value the
  scale does not give that position), ``points_unclassified`` (points on a row without a position),
  ``points_sum`` (every row plausible, but the session's total is not what the table gives: more than one
  fastest-lap point; only checked when no row of the session has a points finding, so one wrong value is
  one finding);
- classification shape (Qualifying, Sprint Qualifying, Sprint, Race): ``position_duplicate``,
  ``position_gap`` (positions not contiguous from 1, beyond what duplicates and missing entrants explain),
  ``unflagged_unclassified`` (no position and no DNF/DNS/DSQ flag: a "not classified" or a disqualification
  OpenF1 did not flag; both are said);
- completeness: ``session_without_results`` (a completed Qualifying, Sprint Qualifying, Sprint or Race with
  no row while its round has results elsewhere), ``entrant_without_result`` (a regular entrant of the round
  with no row in its Race or Sprint), ``grid_missing`` (a Race or Sprint whose rows have no grid position at
  all: no starting grid, e.g. a sprint weekend without a sprint grid), ``starter_without_grid`` (a car that
  started, not DNS, with no starting_grid row while others have one: a pit-lane start, which starting_grid
  cannot express, or a missing row).
"""

from __future__ import annotations

from ingestion.ops.check.evidence import PUBLIC_BASE_URL, openf1_request, with_snapshots
from ingestion.ops.check.model import (
    FIELDS,
    KINDS,
    CheckReport,
    Disagreement,
    Entrant,
    Finding,
    Round,
    Row,
    Session,
    Snapshot,
)
from ingestion.ops.check.render import (
    disagreement_cells,
    disagreement_lines,
    f1db_evidence,
    finding_cells,
    render_check,
    replay_lines,
    report_json,
    summary_line,
    summary_lines,
)
from ingestion.ops.check.rules import check
from ingestion.ops.check.sources import compare_sources, explain, f1db_codes

__all__ = [
    "FIELDS",
    "KINDS",
    "PUBLIC_BASE_URL",
    "CheckReport",
    "Disagreement",
    "Entrant",
    "Finding",
    "Round",
    "Row",
    "Session",
    "Snapshot",
    "check",
    "compare_sources",
    "disagreement_cells",
    "disagreement_lines",
    "explain",
    "f1db_codes",
    "f1db_evidence",
    "finding_cells",
    "openf1_request",
    "render_check",
    "replay_lines",
    "report_json",
    "summary_line",
    "summary_lines",
    "with_snapshots",
]
