"""The test loop itself: an unreachable database stops the run at once with one line."""

from __future__ import annotations

import os
import subprocess
import sys

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
