"""The identity of a replay's inputs (``ingestion.replay.inputs``, pure) and the summary's lines: the window
of ``as_of`` giving the same comparisons, the key naming every input, a whole-history summary in 80
columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from ingestion.replay.inputs import MARGIN, as_of_window, inputs_key, openf1_instants, with_layout
from ingestion.replay.summary import SUMMARY_WIDTH, ReplaySummary, TableCounts, render_summary
from ingestion.store.model import Event, F1dbRelease

_BASE = datetime(2024, 1, 1, tzinfo=UTC)
_HOURS = st.integers(min_value=0, max_value=24 * 400)


def _at(hours: int) -> datetime:
    return _BASE + timedelta(hours=hours)


@given(
    instants=st.lists(_HOURS, max_size=20),
    as_of=_HOURS,
    other=_HOURS,
    shift=st.integers(min_value=-47, max_value=47),
)
def test_every_as_of_in_the_window_compares_alike_with_every_shifted_instant(
    instants: list[int], as_of: int, other: int, shift: int
) -> None:
    """Inside the window, every instant shifted by less than the margin (here up to 47 h of 48) is before,
    at or after ``as_of`` exactly as it is for the ``as_of`` the window was made for; no window when an
    instant lies within the margin of ``as_of``."""
    assert timedelta(hours=48) == MARGIN
    times = [_at(h) for h in instants]
    window = as_of_window(times, _at(as_of))
    near = any(abs(h - as_of) <= 48 for h in instants)
    assert (window is None) == near
    if window is None:
        return
    start, end = window
    inside = (start is None or start < _at(other)) and (end is None or _at(other) < end)
    if not inside:
        return
    for t in times:
        moved = t + timedelta(hours=shift)
        assert (moved <= _at(as_of)) == (moved <= _at(other))
        assert (moved < _at(as_of)) == (moved < _at(other))


def _event(seq: int, address: str = "a" * 64) -> Event:
    return Event(
        run="r", seq=seq, endpoint="sessions", query="year=2024", url="u", status=200,
        received_at=_BASE, address=address, size=1,
    )


def test_the_inputs_key_names_the_code_the_snapshots_the_release_and_results() -> None:
    """Any other code, answer, release or ``results`` gives another key; the same inputs the same one."""
    release = F1dbRelease(
        tag="v2025.24.2", published_at=None, committed_at=_BASE, received_at=_BASE, run="r", seq=0,
        manifest="m" * 64, files={"a": "b"},
    )
    base = inputs_key("code", [_event(0)], release, results=True)
    assert base == inputs_key("code", [_event(0)], release, results=True)
    others = {
        inputs_key("other code", [_event(0)], release, results=True),
        inputs_key("code", [_event(0, "b" * 64)], release, results=True),
        inputs_key("code", [_event(0), _event(1)], release, results=True),
        inputs_key("code", [_event(0)], msgspec.structs.replace(release, manifest="n" * 64), results=True),
        inputs_key("code", [_event(0)], None, results=True),
        inputs_key("code", [_event(0)], release, results=False),
        with_layout(base, one_entrant_per_driver=True),
    }
    assert base not in others and len(others) == 7
    assert with_layout(base, one_entrant_per_driver=False) != with_layout(base, one_entrant_per_driver=True)


def test_openf1_instants_are_the_meetings_and_sessions_times() -> None:
    """Starts and ends of the meetings' and sessions' rows (in UTC); other endpoints hold none; a row whose
    time cannot be read gives no instants at all (then no window)."""
    sessions = b'[{"date_start":"2024-03-02T15:00:00+00:00","date_end":"2024-03-02T17:00:00+03:00"}]'
    assert openf1_instants([("sessions", sessions), ("drivers", b'[{"date_start": 3}]')]) == [
        datetime(2024, 3, 2, 15, tzinfo=UTC),
        datetime(2024, 3, 2, 14, tzinfo=UTC),
    ]
    assert openf1_instants([("meetings", b'[{"date_start": "yesterday"}]')]) is None


def test_a_whole_history_summary_fits_80_columns() -> None:
    """A cold replay of every season (f1db's tag on the first line), with or without results, long stage
    times and a million rows written: every line fits in 80 columns, the first names the release."""
    tables = {
        name: TableCounts(inserted=n) for name, n in {
            "series": 1, "seasons": 76, "circuits": 77, "rounds": 1151, "sessions": 4469, "drivers": 912,
            "teams": 184, "entrants": 27941, "results": 1_002_349, "driver_aliases": 917,
        }.items()
    }
    for results in (True, False):
        for seconds in ({"read": 0.08, "decode": 0.15, "normalize": 6.7, "load": 5.54},
                        {"read": 12.3, "decode": 45.6, "normalize": 78.9, "load": 99.94},
                        {"read": 1234.5, "decode": 0.0, "normalize": 0.0, "load": 0.1}):
            summary = ReplaySummary(
                as_of=datetime(2026, 12, 6, 19, 46, 28, tzinfo=UTC), results=results, snapshots=12345,
                rows={n: c.inserted for n, c in tables.items()}, tables=tables,
                warnings={"driver_name_mismatch": 15}, seconds=seconds, f1db="v2025.24.12",
            )
            lines = render_summary(summary)
            assert "f1db v2025.24.12" in lines[0]
            assert all(len(line) <= SUMMARY_WIDTH for line in lines), [ln for ln in lines if len(ln) > 80]
            assert lines[-1].endswith(f"{summary.written} row(s) written")
    summary = msgspec.structs.replace(summary, f1db=None, snapshots=148)
    assert render_summary(summary)[0] == "replayed 148 snapshot(s) as of 2026-12-06T19:46:28Z (no results)"
