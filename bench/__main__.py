"""``python -m bench`` (``make bench``): speed and memory, as ratios against baselines run alongside.

Each benchmark times the project's way and a plain baseline on the same input in the same process, takes
the best of several repeats, and prints ``baseline / ours`` (above 1: ours is faster). Nothing here is a
pass/fail assertion: read the ratios. Input: the committed fixture snapshots (real OpenF1 data of 2023 and
2024) and the database in use (DATABASE_URL or the embedded server), in a throwaway database.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import psycopg
import zstandard
from psycopg import sql

from bench.f1db import bench_f1db
from bench.process import bench_plan, bench_processes, process_env
from ingestion.config import PROJECT_ROOT, load_settings
from ingestion.db import connect, database_url, migrate
from ingestion.db.connection import with_database
from ingestion.replay import TABLES, Replayed, normalize
from ingestion.replay.decode import decode_endpoint
from ingestion.replay.decoded import Snapshot
from ingestion.replay.load import load
from ingestion.replay.run import snapshots_of
from ingestion.store import Store

#: Replay everything stored: the bench's clock is read once, here in the shell.
AS_OF = datetime.now(UTC)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """The shortest wall time of ``repeats`` calls of ``fn`` (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def line(name: str, ours: float, baseline: float, what: str) -> None:
    ratio = baseline / ours if ours > 0 else float("inf")
    print(
        f"{name:<34} ours {ours * 1000:9.1f} ms   baseline {baseline * 1000:9.1f} ms"
        f"   x{ratio:6.2f}  ({what})"
    )


def bench_decode(snapshots: Sequence[Snapshot], repeats: int) -> None:
    """Typed msgspec decoding of every snapshot vs ``json.loads`` into dicts."""

    def ours() -> None:
        for s in snapshots:
            decode_endpoint(s.event.endpoint, s.body, status=s.event.status)

    def baseline() -> None:
        for s in snapshots:
            json.loads(s.body)

    line("decode snapshots", best_of(repeats, ours), best_of(repeats, baseline), "json.loads into dicts")


def bench_compress(snapshots: Sequence[Snapshot], repeats: int) -> None:
    """zstd level 3 (the store's codec) vs gzip level 6, on the snapshot bodies: speed and size."""
    bodies = [s.body for s in snapshots]
    compressor = zstandard.ZstdCompressor(level=3)
    ours = best_of(repeats, lambda: [compressor.compress(b) for b in bodies])
    base = best_of(repeats, lambda: [gzip.compress(b, 6) for b in bodies])
    line("compress bodies", ours, base, "gzip level 6")
    raw = sum(len(b) for b in bodies)
    z = sum(len(compressor.compress(b)) for b in bodies)
    g = sum(len(gzip.compress(b, 6)) for b in bodies)
    print(f"{'  stored size':<34} zstd {z:,} B  gzip {g:,} B  raw {raw:,} B   gzip/zstd x{g / z:5.2f}")


def bench_normalize_memory(snapshots: Sequence[Snapshot]) -> Replayed:
    """Peak memory of normalising both seasons, as a multiple of the raw JSON it reads."""
    tracemalloc.start()
    replayed = normalize(snapshots, AS_OF, results=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    raw = sum(len(s.body) for s in snapshots)
    print(
        f"{'normalize peak memory':<34} {peak / 1e6:8.1f} MB for {raw / 1e6:.1f} MB of JSON"
        f"   x{peak / raw:6.2f} of input"
    )
    return replayed


@contextmanager
def throwaway_database() -> Iterator[Callable[[], str]]:
    server = database_url(load_settings())
    names: list[str] = []
    with connect(server, autocommit=True) as admin:

        def new() -> str:
            name = f"pf_bench_{uuid.uuid4().hex[:10]}"
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            names.append(name)
            url = with_database(server, name)
            with connect(url, autocommit=True) as conn:
                migrate(conn)
            return url

        try:
            yield new
        finally:
            for name in names:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def naive_load(conn: psycopg.Connection[tuple[object, ...]], replayed: Replayed) -> None:
    """The baseline: one ``INSERT ... ON CONFLICT (id) DO UPDATE`` per row, with executemany, per table."""
    with conn.transaction():
        for spec in TABLES:
            rows = replayed.racing.table(spec.name)
            if not rows:
                continue
            cols = spec.columns
            query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}").format(
                sql.Identifier(spec.name),
                sql.SQL(", ").join(map(sql.Identifier, cols)),
                sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                sql.SQL(", ").join(
                    sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in cols[1:]
                ),
            )
            with conn.cursor() as cur:
                cur.executemany(query, [msgspec.structs.astuple(r) for r in rows])


def bench_load(replayed: Replayed, repeats: int) -> None:
    """Loading both seasons: into an empty database and again unchanged, vs the naive executemany upsert."""
    with throwaway_database() as new_db:
        fresh: list[float] = []
        again: list[float] = []
        naive_fresh: list[float] = []
        naive_again: list[float] = []
        for _ in range(repeats):
            with connect(new_db()) as conn:
                start = time.perf_counter()
                load(conn, replayed, results=True)
                fresh.append(time.perf_counter() - start)
                start = time.perf_counter()
                load(conn, replayed, results=True)
                again.append(time.perf_counter() - start)
            with connect(new_db()) as conn:
                start = time.perf_counter()
                naive_load(conn, replayed)
                naive_fresh.append(time.perf_counter() - start)
                start = time.perf_counter()
                naive_load(conn, replayed)
                naive_again.append(time.perf_counter() - start)
    rows = sum(replayed.racing.counts().values())
    line(f"load {rows:,} rows, empty database", min(fresh), min(naive_fresh), "executemany row upserts")
    line("load again, nothing changed", min(again), min(naive_again), "executemany row upserts")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--store", type=Path, default=PROJECT_ROOT / "snapshots", help="snapshot store to read"
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (best is kept)")
    parser.add_argument("--no-db", action="store_true", help="skip the database benchmarks")
    parser.add_argument("--only-f1db", action="store_true", help="only the f1db replay benchmarks")
    args = parser.parse_args(argv)
    if args.only_f1db:
        with throwaway_database() as new_db, tempfile.TemporaryDirectory() as scratch:
            bench_f1db(args.store, new_db, process_env(), max(1, args.repeats // 2), Path(scratch))
        return 0
    snapshots = snapshots_of(Store(args.store), AS_OF, results=True)
    raw = sum(len(s.body) for s in snapshots)
    print(f"input: {len(snapshots)} snapshots, {raw / 1e6:.1f} MB of JSON from {args.store}")
    print("ratio = baseline / ours: above 1, ours is faster (or smaller)")
    bench_decode(snapshots, args.repeats)
    bench_compress(snapshots, args.repeats)
    replayed = bench_normalize_memory(snapshots)
    bench_plan()
    if not args.no_db:
        bench_load(replayed, max(1, args.repeats // 2))
        with throwaway_database() as new_db:
            bench_processes(args.store, "", new_db, args.repeats)
        with throwaway_database() as new_db, tempfile.TemporaryDirectory() as scratch:
            bench_f1db(args.store, new_db, process_env(), max(1, args.repeats // 2), Path(scratch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
