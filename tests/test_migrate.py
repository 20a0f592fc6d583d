"""Migrations: applied in order, each in its own transaction, once; edited or unknown ones refused."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from ingestion.db import connect, migrate, require_schema, status
from ingestion.db.connection import missing_unique_indexes
from ingestion.db.migrate import Migration, available, unknown
from ingestion.errors import MigrationError, NotMigrated

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def empty(empty_db_url: str) -> Iterator[Conn]:
    """An autocommit connection to a database that was never migrated."""
    with connect(empty_db_url, autocommit=True) as connection:
        yield connection


def _recorded(conn: Conn) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT name FROM ingestion.schema_migrations ORDER BY name")]


def _table_exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
    return row is not None and row[0] is not None


def test_migrate_ships_numbered_sql_in_order() -> None:
    """The package ships its migrations as numbered .sql files, sorted by name."""
    names = [m.name for m in available()]
    assert names[:2] == ["0001_racing_schema.sql", "0002_ingestion_keys.sql"]
    assert names == sorted(names)
    assert all(m.sql.strip() and len(m.checksum) == 64 for m in available())


def test_migrate_applies_pending_in_order(empty: Conn) -> None:
    """On a never-migrated database every migration is applied, in order, and recorded with its checksum."""
    applied = migrate(empty)
    assert applied == [m.name for m in available()]
    rows = empty.execute("SELECT name, checksum FROM ingestion.schema_migrations ORDER BY applied_at, name")
    assert [(str(n), str(c)) for n, c in rows] == [(m.name, m.checksum) for m in available()]
    assert missing_unique_indexes(empty) == []


def test_migrate_each_in_its_own_transaction(empty: Conn) -> None:
    """Each migration commits in a transaction of its own, together with its bookkeeping row."""
    migrate(empty)
    rows = empty.execute("SELECT name, xmin::text FROM ingestion.schema_migrations ORDER BY name").fetchall()
    xids = {str(name): str(xid) for name, xid in rows}
    assert len(set(xids.values())) == len(xids) == len(available())
    # the tables a migration creates were created by the transaction that recorded it
    series = empty.execute("SELECT xmin::text FROM pg_class WHERE oid = 'public.series'::regclass").fetchone()
    assert series == (xids["0001_racing_schema.sql"],)
    runs = empty.execute(
        "SELECT xmin::text FROM pg_class WHERE oid = 'ingestion.replay_runs'::regclass"
    ).fetchone()
    assert runs == (xids["0002_ingestion_keys.sql"],)


def test_migrate_second_run_applies_nothing(conn: Conn) -> None:
    """Running migrate on an up-to-date database applies nothing and changes nothing."""
    query = "SELECT name, checksum, applied_at FROM ingestion.schema_migrations ORDER BY 1"
    before = conn.execute(query).fetchall()
    assert migrate(conn) == []
    assert migrate(conn) == []
    after = conn.execute(query).fetchall()
    assert after == before


def test_migrate_refuses_changed_migration(conn: Conn) -> None:
    """An applied migration whose file changed since (checksum differs) is refused with a clear error."""
    conn.execute(
        "UPDATE ingestion.schema_migrations SET checksum = repeat('0', 64) WHERE name = %s",
        ("0001_racing_schema.sql",),
    )
    with pytest.raises(MigrationError) as caught:
        migrate(conn)
    message = str(caught.value)
    assert "0001_racing_schema.sql" in message
    assert "changed" in message and "checksum" in message
    assert "\n" not in message
    states = {s.name: s for s in status(conn)}
    assert states["0001_racing_schema.sql"].changed
    assert not states["0002_ingestion_keys.sql"].changed


def test_migrate_changed_migration_blocks_pending_ones(empty: Conn) -> None:
    """With an edited applied migration, nothing else is applied either (the check comes first)."""
    first, second = available()[:2]
    migrate(empty, migrations=[first])
    empty.execute("UPDATE ingestion.schema_migrations SET checksum = 'x' WHERE name = %s", (first.name,))
    with pytest.raises(MigrationError):
        migrate(empty, migrations=[first, second])
    assert _recorded(empty) == [first.name]
    assert not _table_exists(empty, "ingestion.replay_runs")


def test_migrate_refuses_unknown_applied_migration(conn: Conn) -> None:
    """A database recording a migration this package does not ship (a newer ingester's) is refused."""
    conn.execute("INSERT INTO ingestion.schema_migrations (name, checksum) VALUES ('9999_future.sql', 'x')")
    assert unknown(conn) == ["9999_future.sql"]
    with pytest.raises(MigrationError, match=r"9999_future\.sql"):
        migrate(conn)


def test_migrate_status_lists_pending_on_never_migrated(empty: Conn) -> None:
    """status on a never-migrated database lists every migration as pending (and creates nothing)."""
    states = status(empty)
    assert [s.name for s in states] == [m.name for m in available()]
    assert all(s.applied_at is None and not s.changed for s in states)
    assert not _table_exists(empty, "ingestion.schema_migrations")


def test_migrate_status_lists_applied_and_pending(empty: Conn) -> None:
    """After applying only the first migration, status shows it applied and the rest pending."""
    first = available()[0]
    assert migrate(empty, migrations=[first]) == [first.name]
    states = status(empty)
    assert states[0].name == first.name and states[0].applied_at is not None and not states[0].changed
    assert all(s.applied_at is None for s in states[1:])
    assert migrate(empty) == [m.name for m in available()[1:]]
    assert all(s.applied_at is not None for s in status(empty))


def test_migrate_require_schema_on_never_migrated(empty: Conn) -> None:
    """require_schema on a never-migrated database raises NotMigrated, naming `ingest db migrate`."""
    with pytest.raises(NotMigrated) as caught:
        require_schema(empty)
    assert "ingest db migrate" in str(caught.value)
    assert "sessions.open_f1_session_key" in str(caught.value)


def test_migrate_require_schema_sees_pending(empty: Conn) -> None:
    """A database migrated only in part (a pending migration) is not ready either."""
    migrate(empty, migrations=available()[:1])
    with pytest.raises(NotMigrated, match=r"pending migrations \(0002_ingestion_keys.sql"):
        require_schema(empty)


def test_migrate_require_schema_sees_missing_unique_index(conn: Conn) -> None:
    """A migrated database that lost an upsert's unique index says which one and to migrate."""
    require_schema(conn)
    conn.execute("DROP INDEX ix_entrants_round_id_driver_id_team_id")
    conn.execute("CREATE UNIQUE INDEX partial ON entrants (round_id, driver_id, team_id) WHERE role = 0")
    with pytest.raises(NotMigrated, match=r"entrants \(round_id, driver_id, team_id\).*ingest db migrate"):
        require_schema(conn)


def test_migrate_failing_migration_rolls_back(empty: Conn) -> None:
    """A failing migration leaves nothing behind; the ones before it stay applied; a fix then applies."""
    good = Migration("0001_good.sql", "CREATE TABLE good (id int);")
    bad = Migration("0002_bad.sql", "CREATE TABLE half (id int);\nCREATE TABLE broken (id nosuchtype);")
    with pytest.raises(MigrationError) as caught:
        migrate(empty, migrations=[good, bad])
    message = str(caught.value)
    assert message.startswith("migration 0002_bad.sql failed and was rolled back:")
    assert "nosuchtype" in message and "\n" not in message
    assert _recorded(empty) == ["0001_good.sql"]
    assert _table_exists(empty, "good")
    assert not _table_exists(empty, "half")
    fixed = Migration("0002_bad.sql", "CREATE TABLE half (id int);")
    assert migrate(empty, migrations=[good, fixed]) == ["0002_bad.sql"]
    assert _table_exists(empty, "half")


def test_migrate_needs_autocommit(db_url: str) -> None:
    """migrate() refuses a connection inside a transaction: it manages one transaction per migration."""
    with connect(db_url) as connection, pytest.raises(ValueError, match="autocommit"):
        migrate(connection)


def test_migrate_rejects_unsorted_migrations(empty: Conn) -> None:
    """Migrations handed in must be sorted and uniquely named (their order is their names' order)."""
    a, b = Migration("0001_a.sql", "SELECT 1"), Migration("0002_b.sql", "SELECT 1")
    with pytest.raises(ValueError, match="sorted"):
        migrate(empty, migrations=[b, a])
    with pytest.raises(ValueError, match="uniquely"):
        migrate(empty, migrations=[a, a])
