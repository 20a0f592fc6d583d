"""The test loop itself: an unreachable database stops the run at once with one line; one fast retry
policy; property tests keep hypothesis' health checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ingestion.config import PROJECT_ROOT


def _pytest(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PF_TEST_SERVER_URL"}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_suite_unreachable_database_stops_with_one_line() -> None:
    result = _pytest("tests/test_migrate.py", database_url="postgresql://postgres:s3cret@127.0.0.1:1/postgres")
    assert result.returncode == 2
    lines = [line for line in result.stdout.splitlines() if "unreachable" in line]
    assert len(lines) == 1, result.stdout
    assert "no test was run" in lines[0]
    assert "s3cret" not in result.stdout + result.stderr
    assert " passed" not in result.stdout and " error" not in result.stdout


def test_suite_pure_tests_run_without_a_database() -> None:
    result = _pytest("tests/test_limiter.py", database_url="postgresql://postgres@127.0.0.1:1/postgres")
    assert result.returncode == 0, result.stdout
    assert "unreachable" not in result.stdout


TESTS = PROJECT_ROOT / "tests"


def _test_sources() -> dict[str, str]:
    """The test files but this one (which names the patterns it looks for)."""
    here = Path(__file__).name
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TESTS.glob("*.py")) if p.name != here}


def test_suite_one_fast_retry_policy() -> None:
    """The tests' fast retry policy is defined once (server_fixtures.FAST); tests count tries with it."""
    defined = [name for name, text in _test_sources().items() if re.search(r"^FAST\w*\s*=", text, re.M)]
    assert defined == ["server_fixtures.py"]


def test_suite_property_tests_keep_hypothesis_health_checks() -> None:
    """No property test turns every health check off (``suppress_health_check=list(HealthCheck)``)."""
    everything = re.compile(r"suppress_health_check\s*=\s*(list\(HealthCheck\)|HealthCheck\.all\(\))")
    assert [name for name, text in _test_sources().items() if everything.search(text)] == []
