"""Shared fixtures: a throwaway PostgreSQL database per test run (never a mock), and the real OpenF1 data.

The server is whichever one the project uses: ``DATABASE_URL`` when set, else the embedded PostgreSQL.
The run migrates one template database; every test that needs an empty database gets a fresh copy of it
(``CREATE DATABASE ... TEMPLATE``), and everything created is dropped at the end. Tests never touch a
database they did not create.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import psycopg
import pytest
from naming_support import VIEWS, build_app_database, create_snake_views

from ingestion.config import PROJECT_ROOT, load_settings
from ingestion.db import connect, database_url, migrate
from ingestion.db.connection import database_name, with_database
from ingestion.errors import IngestionError
from ingestion.masking import mask_text

pytest_plugins = ["server_fixtures", "campaign"]

#: Tests never reach the internet: every command a test runs (in this process or a child, which inherits
#: the environment) uses OpenF1 alone, and f1db (GitHub by default) only where a test points F1DB_URL at
#: the project's own stand-in (``openf1_server(f1db=DIR)``) and sets SOURCES itself. Port 9 (discard)
#: has no listener here: a test that forgot to would fail at once, not call GitHub.
os.environ["SOURCES"] = "openf1"
os.environ["F1DB_URL"] = "http://127.0.0.1:9/repos/f1db/f1db"
os.environ.pop("GITHUB_TOKEN", None)

SHARED = PROJECT_ROOT.parent / "shared"
OPENF1 = SHARED / "openf1"
WORLD = OPENF1 / "world"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not OPENF1.is_dir():
        pytest.fail(f"the shared OpenF1 data is missing: expected {OPENF1}")
    return SHARED


@pytest.fixture(scope="session")
def world_dir(shared_dir: Path) -> Path:
    """``../shared/openf1/world``: real OpenF1 rows for 2023 and 2024, one file per endpoint."""
    return shared_dir / "openf1" / "world"


#: Set by the run's first process (the xdist controller, or the only process) to the server URL it checked,
#: so that pytest-xdist workers reuse it instead of each resolving (and maybe starting) a server again.
_SERVER_URL_ENV = "PF_TEST_SERVER_URL"


def _resolve_server_url() -> str:
    """The server in use, reachable: ``DATABASE_URL`` from the environment only (a developer's ``.env`` is
    not consulted), else the embedded PostgreSQL, started if needed. Raises the project's one-line error."""
    environ = {k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "EMBEDDED_PGDATA")}
    # The checkout's .pgdata (the one `make up`/`make down` manage), not one relative to the temporary
    # directory below: that started a new embedded server per run, in a deleted directory, never stopped.
    environ.setdefault("EMBEDDED_PGDATA", str(PROJECT_ROOT / ".pgdata"))
    with tempfile.TemporaryDirectory(prefix="no-dotenv-") as no_dotenv:
        settings = load_settings(environ=environ, cwd=Path(no_dotenv))
        url = database_url(settings)
    with connect(url, autocommit=True, connect_timeout=5) as probe:
        probe.execute("SELECT 1")
    return url


def _check_server_or_exit() -> None:
    """Stop the whole run at once, with one line, when the database cannot be reached (instead of one error
    per test); otherwise publish its URL to the workers."""
    if os.environ.get(_SERVER_URL_ENV):
        return
    try:
        url = _resolve_server_url()
    except IngestionError as error:
        message = f"the test database is unreachable, no test was run: {mask_text(str(error))}"
        pytest.exit(message, returncode=2)
    os.environ[_SERVER_URL_ENV] = url


def _needs_database(item: pytest.Item) -> bool:
    return "pg_server_url" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # Under pytest-xdist the controller collects nothing: check before the workers start, so that they find
    # the URL (and the embedded server is started once, not raced by every worker).
    config = session.config
    if not hasattr(config, "workerinput") and config.pluginmanager.has_plugin("dsession"):
        _check_server_or_exit()


def pytest_collection_finish(session: pytest.Session) -> None:
    # A plain run checks only when a selected test needs the database (not ``pytest tests/test_limiter.py``).
    if not hasattr(session.config, "workerinput") and any(_needs_database(i) for i in session.items):
        _check_server_or_exit()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """A URL to the server in use (its maintenance database), checked once for the whole run."""
    url = os.environ.get(_SERVER_URL_ENV)
    if url:
        return url
    try:
        url = _resolve_server_url()
    except IngestionError as error:
        pytest.exit(f"the test database is unreachable: {mask_text(str(error))}", returncode=2)
    os.environ[_SERVER_URL_ENV] = url
    return url


#: How many released databases are dropped together, per test process (each drop on its own connection,
#: all in flight at once). PostgreSQL 15's ``DROP DATABASE`` requests an immediate checkpoint and waits for
#: it; drops in flight together share one, where one drop after each test made a checkpoint per test
#: (thousands in a few runs: every dirty buffer written again and again, and full pages in the WAL after
#: each, slowing the whole machine's disk run after run).
DROPS_AT_ONCE = 12

#: How many fresh databases of a naming each test process keeps made ahead, in the background: a test then
#: rarely waits for ``CREATE DATABASE ... TEMPLATE`` (0.1-0.2 s each, ~700 a run, mostly the server's I/O).
MADE_AHEAD = 2

#: This process's :class:`Databases`, once a test asked for one (for :func:`pytest_runtest_call`).
_DATABASES: list[Databases] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The databases a test's body made itself (``db_factory()`` in a hypothesis example) are dropped in
    the background as soon as the body ends, not all at the end of the run. Those made while setting up
    (``db_url``, module fixtures) are left to whoever made them."""
    databases = _DATABASES[0] if _DATABASES else None
    mark = databases.mark() if databases is not None else 0
    yield
    if databases is not None:
        databases.release_since(mark)


class DbFactory(Protocol):
    def __call__(self, naming: str = "snake") -> str: ...


class Databases:
    """Fresh, migrated, uniquely named databases (``CREATE DATABASE ... TEMPLATE``): call it for one.

    ``naming="snake"`` (default): our schema, from ``ingest db migrate``. ``naming="ef"``: the app's own
    database (its EF Core schema from ``app_schema_ef.sql``, user tables included), then ``ingest db
    migrate`` (schema ingestion only), plus the tests' ``snake_view`` schema. One template per naming.

    A database handed out by ``db_url``, or made by a test's own body (a hypothesis example's), is released
    when its test ends and dropped in the background with the next batch of :data:`DROPS_AT_ONCE`, so that
    the slow part of ``DROP DATABASE`` overlaps with the next tests instead of piling up at the end of the
    run; whatever is left (a module's or the session's databases) is dropped when the run ends. A batch's
    drops are in flight together: PostgreSQL 15's ``DROP DATABASE`` waits for a checkpoint, and drops in
    flight together share one (16 drops: ~35 s one by one, under a second together, on this machine under
    load).
    """

    def __init__(self, server_url: str, admin: psycopg.Connection[tuple[object, ...]], run: str) -> None:
        self.server_url = server_url
        self.admin = admin
        self.run = run
        self.created: list[str] = []
        self.made: list[str] = []  # every non-template database, in order (marks index it)
        self.to_drop: list[str] = []  # released, dropped with the next batch (DROPS_AT_ONCE)
        self.templates: dict[str, str] = {}
        self.counter = itertools.count(1)
        self.dropper = concurrent.futures.ThreadPoolExecutor(
            max_workers=DROPS_AT_ONCE, thread_name_prefix="dropdb"
        )
        # the next databases of each naming, being made in the background (one maker, its own connection)
        self.maker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="createdb")
        self.maker_conn: psycopg.Connection[tuple[object, ...]] | None = None
        self.ahead: dict[str, collections.deque[concurrent.futures.Future[str]]] = collections.defaultdict(
            collections.deque
        )

    def template(self, naming: str) -> str:
        if naming not in self.templates:
            name = f"{self.run}_template" if naming == "snake" else f"{self.run}_template_{naming}"
            self.admin.execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            with connect(with_database(self.server_url, name), autocommit=True) as conn:
                if naming == "ef":
                    build_app_database(conn)
                migrate(conn)
                if naming == "ef":
                    create_snake_views(conn)
            self.templates[naming] = name
        return self.templates[naming]

    def __call__(self, naming: str = "snake") -> str:
        """A fresh database of ``naming``: one made ahead when there is one (the test does not wait for
        ``CREATE DATABASE``, mostly the server's I/O), and the next ones started."""
        source = self.template(naming)
        queue = self.ahead[naming]
        while len(queue) <= MADE_AHEAD:
            name = f"{self.run}_{next(self.counter)}"
            self.created.append(name)  # dropped at the end even if never handed out
            queue.append(self.maker.submit(self._create, name, source))
        name = queue.popleft().result()
        self.made.append(name)
        return with_database(self.server_url, name)

    def copy(self, source_url: str) -> str:
        """A new database made as a copy of ``source_url``'s (``CREATE DATABASE ... TEMPLATE``: a file copy,
        so the same rows, the same row versions (``xmin``), the same replay records), released and dropped
        like every other. Nothing may be connected to the source while it is copied: a test that needs a
        database as a replay leaves it copies one replay's instead of replaying again."""
        name = f"{self.run}_{next(self.counter)}"
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{database_name(source_url)}"')
        self.created.append(name)
        self.made.append(name)
        return with_database(self.server_url, name)

    def _create(self, name: str, source: str) -> str:
        """``CREATE DATABASE name TEMPLATE source`` (in the maker's thread, on its own connection)."""
        for attempt in (1, 2):
            if self.maker_conn is None or self.maker_conn.closed:
                self.maker_conn = connect(self.server_url, autocommit=True)
            try:
                self.maker_conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
                return name
            except psycopg.OperationalError:  # the connection was cut (a test killing backends): once more
                self.maker_conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def release(self, url: str) -> None:
        """Drop the database at ``url`` soon, in the background (with the next batch)."""
        name = database_name(url)
        self.created.remove(name)
        self._drop_later(name)

    def _drop_later(self, name: str) -> None:
        self.to_drop.append(name)
        if len(self.to_drop) >= DROPS_AT_ONCE:
            self._drop_batch()

    def _drop_batch(self) -> None:
        """Drop every database waiting, all at once (they share the checkpoint each drop waits for)."""
        batch, self.to_drop = self.to_drop, []
        for name in batch:
            self.dropper.submit(self._drop, name)

    def mark(self) -> int:
        """A point in this run's databases, for :meth:`release_since`."""
        return len(self.made)

    def release_since(self, mark: int) -> None:
        """Drop soon every database made after ``mark`` and not yet released."""
        for name in self.made[mark:]:
            if name in self.created:
                self.created.remove(name)
                self._drop_later(name)

    def _drop(self, name: str) -> None:
        with connect(self.server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop everything left (the databases made ahead and never handed out too), several at once, and
        wait."""
        self.maker.shutdown(wait=True, cancel_futures=True)
        if self.maker_conn is not None:
            self.maker_conn.close()
        self.to_drop.extend(self.created)
        self.created.clear()
        self._drop_batch()
        self.dropper.shutdown(wait=True)


@pytest.fixture(scope="session")
def db_factory(pg_server_url: str) -> Iterator[Databases]:
    """Make fresh, migrated, uniquely named databases; all are dropped by the end of the run."""
    run = f"pf_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with connect(pg_server_url, autocommit=True) as admin:
        databases = Databases(pg_server_url, admin, run)
        _DATABASES.append(databases)
        try:
            databases.template("snake")
            yield databases
        finally:
            _DATABASES.remove(databases)
            databases.close()


@pytest.fixture
def schema_naming(request: pytest.FixtureRequest) -> str:
    """The naming of this test's database: ``snake`` unless the test runs on both (``BOTH_NAMINGS``)."""
    return str(getattr(request, "param", "snake"))


@pytest.fixture
def db_url(db_factory: Databases, schema_naming: str) -> Iterator[str]:
    """A fresh migrated database for this test alone (our schema, or the app's: ``schema_naming``),
    dropped in the background once the test ends."""
    url = db_factory(schema_naming)
    yield url
    db_factory.release(url)


@pytest.fixture
def conn(db_url: str, schema_naming: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to this test's fresh database. On the app's database its search_path
    starts with the ``snake_view`` views, so the test's own SQL reads the snake_case names."""
    with connect(db_url, autocommit=True) as connection:
        if schema_naming == "ef":
            connection.execute(f"SET search_path = {VIEWS}, public")
        yield connection


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"pf_test_{os.getpid()}_{uuid.uuid4().hex[:8]}_empty"
    with connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(pg_server_url, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
