"""kill -9 of replay: the database is all-or-nothing (the campaign: 0 half-written databases in 40 killed
runs).

Each case starts from a database holding an earlier replay (the real 2023 season), runs ``python -m
ingestion replay`` of a store holding 2023 and 2024 (real rows of ../shared/openf1/world) and kills it with
SIGKILL: odd seeds once its load transaction has written (``backend_xid`` set), plus a random delay; even
seeds at a random moment after it connected, mostly while it reads, decodes and normalises. Once the server
has noticed, every racing table must be exactly as before or exactly as after a complete replay (compared
by a digest of every row); the summary files each case under where it was killed and which state it left.
Half the cases then replay again and must reach "after".
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from campaign import cases
from test_replay_support import AS_OF, world_store

from ingestion.db import connect
from ingestion.db.connection import database_name, with_database
from ingestion.replay import TABLE_NAMES
from ingestion.replay.run import run_replay
from ingestion.store import Store

AFTER = AS_OF  # everything stored is visible


def digest(url: str) -> dict[str, str]:
    """Every racing table's row count and md5 of its rows (ids are deterministic: comparable across DBs)."""
    out = {}
    with connect(url) as conn:
        for table in TABLE_NAMES:
            row = conn.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                f"FROM {table} t"
            ).fetchone()
            assert row is not None
            out[table] = str(row[0])
    return out


class World:
    def __init__(self, admin: str, template: str, store: Path, before: dict[str, str], after: dict[str, str]):
        self.admin, self.template, self.store, self.before, self.after = admin, template, store, before, after
        self.made: list[str] = []

    def fresh(self) -> str:
        """A new database holding the 'before' state (a copy of the template)."""
        name = f"{self.template}_{len(self.made) + 1}"
        with connect(self.admin, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return with_database(self.admin, name)


@pytest.fixture(scope="module")
def world(
    db_factory: object, pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("killed-replay")
    store = world_store(root / "store", (2023, 2024)).root
    template_url = db_factory()  # type: ignore[operator]
    run_replay(template_url, world_store(root / "store-2023", (2023,)), AFTER, results=True)
    before = digest(template_url)
    reference = db_factory()  # type: ignore[operator]
    run_replay(reference, Store(store), AFTER, results=True)
    after = digest(reference)
    assert before != after and all(v != "0:" for v in after.values() if v)
    # a template of its own, so the fixture databases stay free of connections
    template = f"pf_killed_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{template}" TEMPLATE "{database_name(template_url)}"')
    made = World(pg_server_url, template, store, before, after)
    try:
        yield made
    finally:
        with connect(pg_server_url, autocommit=True) as admin:
            for name in [*made.made, template]:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backend(admin_url: str, db_url: str) -> tuple[int, bool] | None:
    """(pid, has written) of the replay's backend on ``db_url``'s database, or None."""
    with connect(admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY backend_xid IS NULL",
            (database_name(db_url),),
        ).fetchone()
    return None if row is None else (int(str(row[0])), bool(row[1]))


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def replay_process(db_url: str, store: Path, *, capture: bool = False) -> subprocess.Popen[str]:
    """``ingest replay`` of ``store`` into ``db_url`` as of AFTER, its output kept (``capture``) or not."""
    ours = ("DATABASE_URL", "OPENF1_", "EMBEDDED_", "SNAPSHOT_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(DATABASE_URL=db_url, SNAPSHOT_DIR=str(store))
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "ingestion", "replay", "--as-of", AFTER.isoformat()],
        env=env, stdout=output, stderr=output, stdin=subprocess.DEVNULL, text=True,
    )


def pick_a_moment(
    rng: random.Random, child: subprocess.Popen[str], server_url: str, url: str, *, inside: bool
) -> tuple[int, bool] | None:
    """Wait for the replay ``child`` to reach its load transaction (``inside``) or just to connect, then a
    random while more; its backend then (pid, in a transaction), or None once it has ended."""
    if inside:
        wait_until(
            lambda: ((b := backend(server_url, url)) is not None and b[1]) or child.poll() is not None,
            120,
            "the load transaction",
        )
        time.sleep(rng.uniform(0, 0.3))
    else:
        wait_until(lambda: backend(server_url, url) is not None or child.poll() is not None, 120,
                   "the replay to connect")
        time.sleep(rng.uniform(0, 1.0))
    return backend(server_url, url)

@pytest.mark.reliability("kill -9 of replay")
@pytest.mark.parametrize("seed", cases(full=24, sample=2))
def test_replay_killed_leaves_the_database_all_or_nothing(
    seed: int, world: World, pg_server_url: str, record_property: pytest.RecordProperty
) -> None:
    rng = random.Random(seed)
    url = world.fresh()
    inside_wanted = seed % 2 == 1
    child = replay_process(url, world.store)
    inside = False
    try:
        state = pick_a_moment(rng, child, pg_server_url, url, inside=inside_wanted)
        inside = state is not None and state[1]
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    # the server aborts the transaction once it notices the client is gone
    wait_until(lambda: backend(pg_server_url, url) is None, 60, "the killed replay's backend to end")
    found = digest(url)
    ended = "before" if found == world.before else "after" if found == world.after else "half-written"
    where = "inside the transaction" if inside else "outside the transaction"
    record_property("reliability_subkind", f"{where}, database as {ended}")
    assert ended != "half-written"
    if seed % 4 < 2:  # the next replay finishes the job
        run_replay(url, Store(world.store), AFTER, results=True)
        assert digest(url) == world.after


@pytest.mark.reliability("server-side connection kills")
@pytest.mark.parametrize("seed", cases(full=12, sample=1))
def test_replay_backend_terminated_is_one_line_and_all_or_nothing(
    seed: int, world: World, pg_server_url: str, record_property: pytest.RecordProperty
) -> None:
    """``pg_terminate_backend`` of a running replay's connection (odd seeds: once its load transaction has
    written): the replay ends in one line, exit 1 (or finishes first, exit 0), and the database is as
    before or as after."""
    rng = random.Random(1000 + seed)
    url = world.fresh()
    child = replay_process(url, world.store, capture=True)
    try:
        state = pick_a_moment(rng, child, pg_server_url, url, inside=seed % 2 == 1)
        if state is not None:
            with connect(pg_server_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (state[0],))
        _out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "Traceback" not in err, err
    if child.returncode == 0:
        record_property("reliability_subkind", "replay finished first")
    else:
        lines = err.strip().splitlines()
        assert child.returncode == 1 and len(lines) == 1, err
        assert "lost its connection" in lines[0] and "run the same command again" in lines[0], lines[0]
        where = "inside the transaction" if state is not None and state[1] else "outside the transaction"
        record_property("reliability_subkind", f"replay terminated {where}")
    assert digest(url) in (world.before, world.after), "half-written database"
