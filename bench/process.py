"""Whole-process benchmarks (``make bench``): the fixed cost every command pays, and the fetch floor.

Each runs ``python -m ingestion ...`` in a fresh interpreter (process start, imports and exit included) and
times it against a baseline in the same run:

- the cold-season plan, batched vs one request per meeting: requests and the least time OpenF1's free tier
  (3/s, 30/min) allows for them (pure: no network);
- ``ingest --help`` and an empty-store replay (the fixed cost) vs a bare ``python -c pass``;
- a settled re-fetch (a complete store: nothing to ask) vs a bare ``python -c pass``;
- a replay of the committed store into an empty database, and again unchanged, vs a process that only
  ``COPY``s the same final rows in binary into the same tables (process start included for both).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from ingestion.db import connect
from ingestion.fetch.plan import FetchOptions, Season, decode_meetings, decode_sessions, plan
from ingestion.openf1.limiter import least_time
from ingestion.replay import TABLES

WORLD = Path(__file__).resolve().parents[2] / "shared" / "openf1" / "world"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


#: CPU seconds (user + system) of the last timed child process: on a loaded machine the wall time mostly
#: measures waiting for a core, the CPU time what the process itself needed.
_CPU: dict[str, float] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _line(name: str, ours: float, baseline: float, what: str) -> None:
    ratio = baseline / ours if ours > 0 else float("inf")
    cpu = _CPU.pop(name, None)
    if cpu is not None:
        what += f"; ours used {cpu * 1000:.0f} ms of CPU"
    print(
        f"{name:<34} ours {ours * 1000:9.1f} ms   baseline {baseline * 1000:9.1f} ms"
        f"   x{ratio:6.2f}  ({what})"
    )


def _process(
    argv: Sequence[str], env: dict[str, str], repeats: int, before: Callable[[], None] | None = None
) -> float:
    """The best wall time of ``repeats`` runs of ``python argv`` (a fresh interpreter each time)."""
    best = float("inf")
    cpu = float("inf")
    for _ in range(repeats):
        if before is not None:
            before()
        used = _children_cpu()
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], env=env, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, _children_cpu() - used)
    _CPU["last"] = cpu
    return best


def _timed(name: str, argv: Sequence[str], env: dict[str, str], repeats: int) -> float:
    """:func:`_process`, its best CPU time kept for :func:`_line` under ``name``."""
    wall = _process(argv, env, repeats)
    _CPU[name] = _CPU.pop("last")
    return wall


def bench_plan() -> None:
    """Requests and least time of a cold season: one request per meeting vs batches of OR'd meeting keys."""
    seasons = [
        Season(y, decode_meetings((WORLD / str(y) / "meetings.json").read_bytes()),
               decode_sessions((WORLD / str(y) / "sessions.json").read_bytes()))
        for y in (2023, 2024)
    ]
    for years, label in (((2024,), "2024"), ((2024,), "2024 --no-results"), ((2023, 2024), "2023+2024")):
        results = "no-results" not in label
        batched = len(plan({}, seasons, FetchOptions(years=years, results=results), NOW).all)
        single = len(plan({}, seasons, FetchOptions(years=years, results=results, batch=False), NOW).all)
        ours, base = least_time(batched, 3, 30), least_time(single, 3, 30)
        print(
            f"{'cold fetch ' + label:<34} ours {batched:4d} requests {ours:6.1f} s   per meeting "
            f"{single:4d} requests {base:6.1f} s   x{single / batched:6.1f} fewer requests "
            "(least time at 3/s, 30/min)"
        )


def process_env() -> dict[str, str]:
    """The environment of the benchmarked processes, the package compiled once first."""
    # Bytecode as an installed package has it (pip compiles it): compiled once here, and children may use
    # and write it (PYTHONDONTWRITEBYTECODE, set in some shells, made every run compile every module).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENF1_", "PYTHONDONTWRITEBYTECODE"))}
    package = Path(__file__).resolve().parents[1] / "ingestion"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    env["REVALIDATE_DAYS"] = "0"
    return env


def bench_processes(store: Path, server_url: str, new_db: Callable[[], str], repeats: int) -> None:
    env = process_env()
    bare = _process(["-c", "pass"], env, repeats)
    name = "ingest --help (whole process)"
    _line(name, _timed(name, ["-m", "ingestion", "--help"], env, repeats), bare, "bare python -c pass")
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty"
        empty.mkdir()
        db = new_db()
        run_env = {**env, "DATABASE_URL": db}
        name = "replay an empty store (fixed cost)"
        argv = ["-m", "ingestion", "replay", "--store", str(empty), "--allow-empty"]
        wall = _timed(name, argv, run_env, repeats)
        _line(name, wall, bare, "bare python -c pass")
        copy = Path(scratch) / "store"
        shutil.copytree(store, copy)
        fetch_env = {**env, "OPENF1_BASE_URL": "http://127.0.0.1:9/v1"}  # nothing may be asked
        name = "settled re-fetch 2023+2024"
        # OpenF1's settled seasons: nothing to ask (f1db's release check is a network request by design)
        argv = [
            "-m", "ingestion", "fetch", "--source", "openf1", "--year", "2023", "--year", "2024",
            "--store", str(copy),
        ]
        _line(name, _timed(name, argv, fetch_env, repeats), bare, "bare python -c pass")
        bench_replay_vs_copy(store, new_db, env, repeats, Path(scratch))


def bench_replay_vs_copy(store: Path, new_db: Callable[[], str], env: dict[str, str], repeats: int,
                         scratch: Path, label: str = "committed store",
                         before_cold: Callable[[], None] | None = None) -> str:
    """Replay of ``store`` as a whole process (into an empty database, then unchanged) vs a process COPYing
    its final rows in binary; ``before_cold`` runs before each cold replay (e.g. deleting a cache). Returns
    the database the last replay wrote."""
    dbs: list[str] = []

    def fresh() -> None:
        dbs.append(new_db())

    def run_replay() -> float:
        best = cpu = float("inf")
        for _ in range(repeats):
            fresh()
            if before_cold is not None:
                before_cold()
            used = _children_cpu()
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ingestion", "replay", "--store", str(store)],
                           env={**env, "DATABASE_URL": dbs[-1]}, check=True, stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - start)
            cpu = min(cpu, _children_cpu() - used)
        _CPU[f"replay {label}, cold"] = cpu
        return best

    cold = run_replay()
    again = _timed(f"replay {label}, unchanged", ["-m", "ingestion", "replay", "--store", str(store)],
                   {**env, "DATABASE_URL": dbs[-1]}, repeats)
    # the final rows, in PostgreSQL's binary COPY format, one file per table
    with connect(dbs[-1]) as conn:
        for spec in TABLES:
            with (scratch / f"{spec.name}.bin").open("wb") as out, conn.cursor().copy(
                sql.SQL("COPY {} ({}) TO STDOUT (FORMAT binary)").format(
                    sql.Identifier(spec.name), sql.SQL(", ").join(map(sql.Identifier, spec.columns)))
            ) as copy:
                for chunk in copy:
                    out.write(chunk)
    columns = {spec.name: list(spec.columns) for spec in TABLES}
    script = (
        "import sys, psycopg\nfrom psycopg import sql\n"
        f"columns = {columns!r}\n"
        "with psycopg.connect(sys.argv[1]) as conn:\n"
        "    for table, cols in columns.items():\n"
        "        q = sql.SQL('COPY {} ({}) FROM STDIN (FORMAT binary)').format(sql.Identifier(table),"
        " sql.SQL(', ').join(map(sql.Identifier, cols)))\n"
        "        with conn.cursor().copy(q) as copy:\n"
        f"            copy.write(open({str(scratch)!r} + '/' + table + '.bin', 'rb').read())\n"
    )
    best = float("inf")
    last = dbs[-1]
    for _ in range(repeats):
        fresh()
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", script, dbs[-1]], env=env, check=True)
        best = min(best, time.perf_counter() - start)
    _line(f"replay {label}, cold", cold, best, "process COPYing the final rows, binary")
    _line(f"replay {label}, unchanged", again, best, "process COPYing the final rows, binary")
    return last
