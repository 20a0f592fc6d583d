"""The reliability campaign as a suite: the ``reliability`` marker, its size, and its figures.

Every attack of the campaign is a test marked ``@pytest.mark.reliability("kind")``. ``make test`` runs a
fast sample of each kind (a few seeds); ``make reliability`` (``RELIABILITY=full``) runs the whole campaign.
Size a parametrised attack with :func:`cases`::

    @pytest.mark.reliability("kill -9 of replay")
    @pytest.mark.parametrize("seed", cases(full=24, sample=2))
    def test_replay_killed_is_all_or_nothing(seed: int) -> None: ...

A test that makes many attempts in one go (5,000 requests from 200 clients) says how many with
``record_property("reliability_cases", 5000)``; otherwise a test is one case.
``record_property("reliability_subkind", "inside the transaction")`` files the case under a finer heading
of its kind (known only once it ran).

At the end of a run that included reliability tests, pytest prints one line per kind: cases tried and
survived (the figures RELIABILITY.md publishes).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

#: ``RELIABILITY=full`` (set by ``make reliability``) runs the whole campaign; anything else, the sample.
FULL = os.environ.get("RELIABILITY", "").lower() == "full"

_KIND = "reliability_kind"


def cases(*, full: int, sample: int) -> range:
    """Seeds ``0..n-1``: ``full`` of them in the whole campaign, ``sample`` in ``make test``."""
    return range(full if FULL else sample)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    marker = item.get_closest_marker("reliability")
    if marker is not None:
        kind = str(marker.args[0]) if marker.args else item.module.__name__ if item.module else item.name
        outcome.get_result().user_properties.append((_KIND, kind))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tried: dict[str, int] = {}
    survived: dict[str, int] = {}
    for status in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(status, []):
            kinds = [v for k, v in getattr(report, "user_properties", []) if k == _KIND]
            if not kinds or (report.when != "call" and not report.failed):
                continue
            kind = str(kinds[0])
            subkinds = [str(v) for k, v in report.user_properties if k == "reliability_subkind"]
            if subkinds:
                kind = f"{kind} ({subkinds[-1]})"
            counted = [int(v) for k, v in report.user_properties if k == "reliability_cases"]
            n = sum(counted) if counted else 1
            tried[kind] = tried.get(kind, 0) + n
            survived[kind] = survived.get(kind, 0) + (n if status == "passed" else 0)
    if not tried:
        return
    size = "whole campaign" if FULL else "sample (RELIABILITY=full for the whole campaign)"
    terminalreporter.section(f"reliability: {size}")
    for kind in sorted(tried):
        terminalreporter.write_line(f"{kind:<72} {tried[kind]:>6} tried {survived[kind]:>6} survived")
