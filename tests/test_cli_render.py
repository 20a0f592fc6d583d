"""How the CLI shows sizes: decimal units for people, exact bytes stay in --json."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.cli.render import human_size, print_table


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (99_949, "99.9 kB"), (99_950, "100 kB"),
        (199_720, "200 kB"), (999_499, "999 kB"), (999_500, "1.0 MB"), (2_899_321, "2.9 MB"),
        (10**12, "1.0 TB"),
    ],
)  # fmt: skip
def test_human_size_examples(size: int, text: str) -> None:
    assert human_size(size) == text


@given(st.integers(min_value=0, max_value=10**17))
def test_human_size_is_short_and_within_five_percent(size: int) -> None:
    text = human_size(size)
    number, unit = text.split(" ")
    assert len(number) <= 4  # never "1000 kB": the next unit instead
    scale = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}[unit]
    assert abs(float(number) * scale - size) <= max(0.05 * size, 0.5)


def test_print_table_on_a_terminal_is_drawn_by_rich_and_fits(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO(), force_terminal=True, color_system=None)
    rows = [["replay", "6", "replay --as-of 2026-11-30T12:00:00Z", "5979 row(s) written", "0", "2.9 s"]]
    print_table(["KIND", "RUN", "ASKED", "RESULT", "EXIT", "TOOK"], rows, right=[4, 5], console=console)
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    assert text.splitlines()[0].split() == ["KIND", "RUN", "ASKED", "RESULT", "EXIT", "TOOK"]
    assert "5979 row(s) written" in text


def test_print_table_off_a_terminal_is_plain_aligned_text(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(["TABLE", "ROWS"], [["rounds", "48"], ["results", "4612"]], right=[1])
    assert capsys.readouterr().out.splitlines() == ["TABLE    ROWS", "rounds     48", "results  4612"]
