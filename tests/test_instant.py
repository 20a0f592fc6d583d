"""The one parser of instants typed by people (--as-of, --now, --from/--to, --received-at)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.errors import UsageError
from ingestion.instant import parse_instant, parse_optional

aware = st.datetimes(
    min_value=datetime(1950, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]),
)


@given(aware)
def test_instant_round_trips_any_aware_iso_time_to_the_same_utc_instant(moment: datetime) -> None:
    """Whatever zone an ISO-8601 time is written in, it parses to the same instant, in UTC."""
    parsed = parse_instant(moment.isoformat())
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


def test_instant_reads_a_date_as_midnight_utc_and_z_as_utc() -> None:
    """A date alone is 00:00 UTC; a trailing Z and a naive time are both UTC."""
    assert parse_instant("2024-12-08") == datetime(2024, 12, 8, tzinfo=UTC)
    assert parse_instant("2024-12-08T18:00:00Z") == datetime(2024, 12, 8, 18, tzinfo=UTC)
    assert parse_instant("2024-12-08T18:00") == datetime(2024, 12, 8, 18, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "12/08/2024"])
def test_instant_refuses_what_is_not_iso_8601_naming_the_option(text: str) -> None:
    """Anything else is a one-line usage error (exit 2) that names the option."""
    with pytest.raises(UsageError, match="--as-of") as error:
        parse_instant(text, option="--as-of")
    assert error.value.exit_code == 2
    assert "\n" not in str(error.value)


def test_instant_optional_passes_none_through() -> None:
    """An option left out stays None."""
    assert parse_optional(None, option="--now") is None
