"""Fixtures that start the project's own OpenF1-compatible server on a free port of 127.0.0.1.

``openf1_server(...)`` is a factory: each call starts a server (stopped when the test ends) over rows
directories and/or a snapshot store, with the limits, faults and token wanted::

    def test_fetch_paces_itself(openf1_server, world_dir):
        server = openf1_server(rows=[world_dir / "2024"], per_second=50, per_minute=600)
        ...  # point the client at server.base_url
        assert server.stats.rate_limited == 0

``world_2024_server`` is one server over the real 2024 rows, shared by the whole run, with limits high
enough never to answer 429: use it for reads, call ``reset_stats()`` first if you count requests, and do
not install faults on it (use the factory for that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from ingestion.config import Settings
from ingestion.openf1.retry import RetryPolicy
from ingestion.server import (
    Dataset,
    Drop,
    F1dbFolder,
    Fault,
    RunningServer,
    ServerConfig,
    load_rows,
    load_store,
    start_server,
)

_DATASETS: dict[tuple[str, ...], Dataset] = {}

#: THE retry policy of the tests: real retries (4 tries, 6 while throttled) with millisecond backoffs, so
#: a test of failures never sleeps long. Tests count tries as ``FAST.attempts``, never a literal.
FAST = RetryPolicy(attempts=4, throttled_attempts=6, base=0.001, cap=0.005, timeout=5.0)


def client_settings(
    server: RunningServer,
    store: Path,
    *,
    database_url: str | None = None,
    per_second: float = 1000.0,
    per_minute: int = 100_000,
    credentials: tuple[str, str] | None = None,
    sources: tuple[str, ...] = ("openf1",),
    github_token: str | None = None,
) -> Settings:
    """Settings of a client of ``server`` writing the store ``store`` (the embedded server's data beside it,
    never started when ``database_url`` is given), pacing at ``per_second``/``per_minute``. OpenF1 alone
    unless ``sources`` says otherwise; f1db is asked of ``server`` too (``--f1db``), never of GitHub."""
    return Settings(
        database_url=database_url,
        openf1_base_url=server.base_url,
        snapshot_dir=store,
        pgdata_dir=store.parent / "pgdata",
        openf1_username=credentials[0] if credentials else None,
        openf1_password=credentials[1] if credentials else None,
        rate_per_second=per_second,
        rate_per_minute=per_minute,
        f1db_url=server.f1db_url,
        github_token=github_token,
        sources=sources,
    )


def _rows(directories: Sequence[Path]) -> Dataset:
    """Rows of these directories, read once per test run (datasets are never mutated by the server)."""
    key = tuple(str(Path(d).resolve()) for d in directories)
    if key not in _DATASETS:
        _DATASETS[key] = load_rows([Path(d) for d in directories])
    return _DATASETS[key]


class ServerFactory(Protocol):
    def __call__(
        self,
        rows: Sequence[Path] = (),
        *,
        store: Path | None = None,
        per_second: float = 1000.0,
        per_minute: float = 100_000.0,
        paid_per_second: float = 6.0,
        paid_per_minute: float = 60.0,
        faults: Sequence[Fault | str] = (),
        token: tuple[str, str] | None = None,
        token_ttl: float = 3600.0,
        slow_seconds: float = 2.0,
        clock: Callable[[], float] | None = None,
        dataset: Dataset | None = None,
        or_repeated: bool = True,
        drops: Sequence[str] = (),
        f1db: Path | None = None,
        f1db_limit: int | None = None,
    ) -> RunningServer: ...


@pytest.fixture
def openf1_server() -> Iterator[ServerFactory]:
    """Start OpenF1 stand-ins on free ports; every one is stopped when the test ends.

    Defaults are generous (1000/s, 100000/min) so only tests about limits see a 429; pass ``faults`` as
    ``Fault`` values or ``"KIND:EVERY"`` strings, ``token=("user", "password")`` to enable ``POST /token``,
    ``clock`` (monotonic seconds) to drive limits and token expiry by hand, ``or_repeated=False`` for a server
that keeps only the last value of a repeated key (OpenF1 before August 2025, ``ingest serve --no-or``),
    ``drops=["drivers:1250,1251"]`` to serve an endpoint without some meetings' rows (``--drop``),
    ``f1db=DIR`` to answer GitHub's f1db release endpoints from a folder of archives too (``f1db_limit``:
    then 403s).
    """
    started: list[RunningServer] = []

    def factory(
        rows: Sequence[Path] = (),
        *,
        store: Path | None = None,
        per_second: float = 1000.0,
        per_minute: float = 100_000.0,
        paid_per_second: float = 6.0,
        paid_per_minute: float = 60.0,
        faults: Sequence[Fault | str] = (),
        token: tuple[str, str] | None = None,
        token_ttl: float = 3600.0,
        slow_seconds: float = 2.0,
        clock: Callable[[], float] | None = None,
        dataset: Dataset | None = None,
        or_repeated: bool = True,
        drops: Sequence[str] = (),
        f1db: Path | None = None,
        f1db_limit: int | None = None,
    ) -> RunningServer:
        data = dataset if dataset is not None else Dataset()
        if rows:
            data = data.merged(_rows(rows))
        if store is not None:
            data = data.merged(load_store(store))
        config = ServerConfig(
            per_second=per_second,
            per_minute=per_minute,
            paid_per_second=paid_per_second,
            paid_per_minute=paid_per_minute,
            token_user=token[0] if token else None,
            token_password=token[1] if token else None,
            token_ttl=token_ttl,
            faults=tuple(f if isinstance(f, Fault) else Fault.parse(f) for f in faults),
            slow_seconds=slow_seconds,
            or_repeated=or_repeated,
            drops=tuple(Drop.parse(d) for d in drops),
            f1db_limit=f1db_limit,
        )
        folder = F1dbFolder(f1db) if f1db is not None else None
        server = (
            start_server(data, config, clock=clock, f1db=folder)
            if clock
            else start_server(data, config, f1db=folder)
        )
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def world_2024_server(world_dir: Path) -> Iterator[RunningServer]:
    """One server over the real 2024 rows for the whole run; limits too high to ever answer 429."""
    config = ServerConfig(per_second=0, per_minute=0)  # 0: no limit
    with start_server(_rows([world_dir / "2024"]), config) as server:
        yield server
