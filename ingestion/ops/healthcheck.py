"""``ingest healthcheck`` (also ``python -m ingestion.healthcheck``): is everything a sync needs in place?

One :class:`Check` per line: the database answers; its migrations are applied (none pending, none changed)
and the unique indexes every re-sync upserts on exist; the snapshot store is readable and writable; OpenF1
answers (skipped offline). A check never raises: whatever goes wrong becomes a failed check with a short
message and, where one exists, the exact command that fixes it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec

from ingestion.config import Settings
from ingestion.db import connect, database_url, embedded, status
from ingestion.db.connection import (
    ef_label,
    has_unique_index,
    missing_unique_indexes,
    required_indexes,
)
from ingestion.db.naming import SNAKE, Naming, detect, resolve
from ingestion.errors import IngestionError
from ingestion.f1db.github import GithubClient, RateLimited, Unreachable, read_release
from ingestion.fetch import known_gaps, render_gap
from ingestion.fetch.f1db import etag_for, release_url
from ingestion.instant import format_utc
from ingestion.masking import mask_text, mask_url, public_url, url_secrets
from ingestion.openf1.body import body_kind
from ingestion.openf1.client import unresolvable
from ingestion.store import Store, release_order
from ingestion.watch.cadence import OVERDUE_MARGIN, f1db_overdue
from ingestion.watch.plan import iso, store_f1db_plan
from ingestion.watch.state import STATE_FILE, StateUnreadable, read_state

__all__ = [
    "OPENF1_TIMEOUT",
    "Check",
    "Status",
    "exit_code",
    "f1db_cadence_check",
    "format_check",
    "healthcheck",
]

Conn = Any

Status = Literal["ok", "fail", "skip", "warn"]

#: Seconds to wait for OpenF1 (connect and read).
OPENF1_TIMEOUT = 5.0
#: Seconds to wait for the database to accept the connection.
DATABASE_TIMEOUT = 5
MIGRATE = "ingest db migrate"
APP_FIX = "dotnet ef database update (in the app's repository)"
#: What the database line says about the naming found in the catalog.
NAMINGS: dict[str | None, str] = {
    "snake": "naming snake (the ingester's own schema)",
    "ef": "naming ef (the app's EF Core database)",
    None: "no racing schema yet (`ingest db migrate` creates ours; the app's migrations create its own)",
}
NETWORK_FIX = "check the network and OPENF1_BASE_URL (ingest healthcheck --offline skips this check)"


class Check(msgspec.Struct, frozen=True):
    """One line of the healthcheck: ``fix`` is a command to run when it failed (if one fixes it)."""

    name: str
    status: Status
    message: str
    fix: str | None = None

    @property
    def passed(self) -> bool:
        return self.status != "fail"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return mask_text(f"{type(exc).__name__}: {line}" if line else type(exc).__name__)


def _guard(name: str, run: Callable[[], Check]) -> Check:
    """Run one check; an unexpected exception becomes a failed check (a check never raises)."""
    try:
        return run()
    except Exception as exc:  # a healthcheck reports every failure as a line, whatever its type
        return Check(name, "fail", _first_line(exc))


def _index_fix(missing: Sequence[str], embedded: bool, naming: Naming = SNAKE) -> str:
    """The psql command that re-creates the required unique indexes named in ``missing`` as the migration
    does (an invalid leftover of the same name is dropped first), on ``$DATABASE_URL`` or, when the
    embedded server is in use, on the URL ``ingest db url`` prints (it has no password). On the app's
    database (``ef``) the index is named and quoted as its EF Core migrations name it."""
    statements = []
    for table, label, columns in required_indexes(naming):
        if naming.kind == "ef" and ef_label(naming, table, columns) in missing:
            statements.append(_ef_index(naming, table, columns, drop=True))
        elif label in missing:
            name = f"ix_{table}_{'_'.join(columns)}"
            statements.append(f"DROP INDEX IF EXISTS {name}; CREATE UNIQUE INDEX {name} ON {table} "
                              f"({', '.join(columns)});")
    target = "$(ingest db url)" if embedded else "$DATABASE_URL"
    return f"psql \"{target}\" -c '{' '.join(statements)}'" if naming.kind == "ef" else (
        f'psql "{target}" -c "{" ".join(statements)}"'
    )


def _ef_index(naming: Naming, table: str, columns: Sequence[str], *, drop: bool = False) -> str:
    """The statement that adds a unique index to the app's table, named as EF Core names indexes
    (``drop``: an invalid leftover of that name is dropped first)."""
    ef_cols = [naming.column(table, c) for c in columns]
    name = f"IX_{naming.table(table)}_{'_'.join(ef_cols)}"
    quoted = ", ".join(f'"{c}"' for c in ef_cols)
    create = f'CREATE UNIQUE INDEX "{name}" ON "{naming.table(table)}" ({quoted});'
    return f'DROP INDEX IF EXISTS "{name}"; {create}' if drop else create


#: The index the app's database lacks that the pipeline's instructions ask for (a warning: replay does
#: not need it, it keeps one entrant per (round, driver, team) all the same).
EF_ENTRANTS_KEY = ("entrants", ("round_id", "driver_id", "team_id"))


def _ef_checks(conn: Conn, naming: Naming) -> list[Check]:
    """On the app's database: its EF Core migrations applied; the entrants index the pipeline asks for."""
    def app() -> Check:
        history = '"__EFMigrationsHistory"'
        found = conn.execute(
            """SELECT to_regclass('public."__EFMigrationsHistory"') IS NOT NULL"""
        ).fetchone()
        if not (found and found[0]):
            return Check("app", "ok", f"the app's tables, made without EF migrations (no {history})")
        row = conn.execute('SELECT count(*) FROM public."__EFMigrationsHistory"').fetchone()
        applied = int(str(row[0])) if row else 0
        if not applied:
            return Check(
                "app", "fail", '"__EFMigrationsHistory" is empty: the app\'s migrations were not applied',
                APP_FIX,
            )
        return Check("app", "ok", f"the app's EF Core schema: {applied} migration(s) in {history}")

    def entrants() -> Check:
        table, columns = EF_ENTRANTS_KEY
        label = ef_label(naming, table, columns)
        if has_unique_index(conn, naming, table, columns):
            return Check("entrants", "ok", f"unique index on {label} present")
        return Check(
            "entrants", "warn",
            f"no unique index on {label} (the pipeline's instructions ask for it; replay does not need it)",
            _ef_index(naming, table, columns),
        )

    return [_guard("app", app), _guard("entrants", entrants)]


def _database_checks(settings: Settings) -> list[Check]:
    if not settings.database_url and not embedded.is_running(settings.pgdata_dir):
        # checking must not change what is checked: the embedded server is not started here
        return [
            Check(
                "database", "fail", f"the embedded PostgreSQL is not running (data in {settings.pgdata_dir})",
                "ingest db up   (or set DATABASE_URL to use another server)",
            ),
            Check("migrations", "fail", "not checked: the database is unreachable"),
        ]
    try:
        url = database_url(settings)  # DATABASE_URL, or the embedded server already running
        conn = connect(url, autocommit=True, connect_timeout=DATABASE_TIMEOUT)
    except Exception as exc:  # IngestionError carries a one-line message; anything else, its first line
        message = exc.message if isinstance(exc, IngestionError) else _first_line(exc)
        return [
            Check("database", "fail", mask_text(message)),
            Check("migrations", "fail", "not checked: the database is unreachable"),
        ]
    with conn:
        naming = resolve(conn, settings.database_schema)
        found = detect(conn)

        def reachable() -> Check:
            row = conn.execute("SHOW server_version").fetchone()
            version = str(row[0]).split()[0] if row else "?"
            return Check("database", "ok", f"PostgreSQL {version} at {mask_url(url)}; {NAMINGS[found]}")

        def migrations() -> Check:
            if naming.kind == "ef" and found != "ef":
                return Check(
                    "migrations", "fail", "DATABASE_SCHEMA=ef but the app's tables are missing", APP_FIX
                )
            states = status(conn, naming=naming)
            pending = [s.name for s in states if s.applied_at is None]
            changed = [s.name for s in states if s.changed]
            if changed:
                return Check(
                    "migrations", "fail",
                    f"applied migration(s) changed since: {', '.join(changed)} (restore the file(s); "
                    "add a new migration instead)",
                )
            if pending:
                return Check("migrations", "fail", f"{len(pending)} pending: {', '.join(pending)}", MIGRATE)
            missing = missing_unique_indexes(conn, naming)
            if missing:
                # Every migration is applied, so `ingest db migrate` would do nothing: the index was dropped.
                return Check(
                    "migrations", "fail",
                    f"missing unique index(es): {'; '.join(missing)} (dropped after migrating)",
                    _index_fix(missing, embedded=not settings.database_url, naming=naming),
                )
            scope = "schema ingestion only: " if naming.kind == "ef" else ""
            return Check(
                "migrations", "ok",
                f"{scope}{len(states)} applied, none pending; required unique indexes present",
            )

        checks = [_guard("database", reachable), _guard("migrations", migrations)]
        if naming.kind == "ef" and found == "ef":
            checks.extend(_ef_checks(conn, naming))
        return checks


def _store_fix(root: Path) -> str:
    return f"make {root} writable by this user (ls -ld {root}), or set SNAPSHOT_DIR to a writable folder"


def _snapshot_check(settings: Settings) -> Check:
    root = settings.snapshot_dir
    try:
        return _snapshot_probe(settings)
    except OSError as exc:  # a read-only file system, a file where a folder should be...
        where = exc.filename or root
        return Check("snapshots", "fail", f"cannot use {where}: {exc.strerror or _first_line(exc)}",
                     _store_fix(root))


def _snapshot_probe(settings: Settings) -> Check:
    root = settings.snapshot_dir
    store = Store(root)
    try:
        store.tmp_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or _first_line(exc)
        return Check("snapshots", "fail", f"cannot create {store.tmp_dir}: {reason}", _store_fix(root))
    probe = store.tmp_dir / f"healthcheck-{os.getpid()}-{secrets.token_hex(4)}.probe"
    payload = secrets.token_bytes(16)
    try:
        with probe.open("xb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if probe.read_bytes() != payload:
            return Check("snapshots", "fail", f"{probe} reads back different bytes than were written")
    except OSError as exc:
        reason = exc.strerror or _first_line(exc)
        return Check("snapshots", "fail", f"cannot write in {store.tmp_dir}: {reason}", _store_fix(root))
    finally:
        probe.unlink(missing_ok=True)
    events = store.events(strict=False)
    runs = len({e.run for e in events})
    counted = f"{len(events)} events in {runs} runs"
    issues = store.log_issues()
    if issues:
        first = issues[0]
        where = f"{first.path.name} line {first.problem.line} ({first.problem.kind})"
        torn_only = all(issue.problem.kind == "torn-line" for issue in issues)
        return Check(
            "snapshots", "warn" if torn_only else "fail",
            f"{root}: {len(issues)} log line(s) yield no event, first {where}; {counted}",
            fix="ingest snapshots fsck --repair",
        )
    return Check("snapshots", "ok", f"{root} readable and writable; {counted}")


def _openf1_check(settings: Settings, timeout: float) -> Check:
    url = f"{settings.openf1_base_url}/sessions"
    shown = public_url(settings.openf1_base_url)  # no userinfo, no query secret: this line is printed
    try:
        response = httpx.get(
            url,
            params={"session_key": "latest"},
            timeout=timeout,
            headers={"User-Agent": "parc-ferme-ingestion healthcheck"},
        )
    except httpx.TimeoutException:
        return Check("openf1", "fail", f"{shown} did not answer within {timeout:g} s", NETWORK_FIX)
    except httpx.HTTPError as exc:
        if unresolvable(exc):
            host = httpx.URL(url).host
            return Check("openf1", "fail", f"cannot resolve {host}", NETWORK_FIX)
        reason = mask_text(_first_line(exc), *url_secrets(settings.openf1_base_url))
        return Check("openf1", "fail", f"cannot reach {shown} ({reason})", NETWORK_FIX)
    code = response.status_code
    ms = response.elapsed.total_seconds() * 1000
    if 200 <= code < 300:
        return Check("openf1", "ok", f"{shown} answered HTTP {code} in {ms:.0f} ms")
    if code == 404 and body_kind(response.content)[0] == "empty":  # OpenF1's "No results found."
        none_yet = '(no session yet: "No results found.")'
        return Check("openf1", "ok", f"{shown} answered in {ms:.0f} ms {none_yet}")
    if code == 404:
        return Check(
            "openf1", "fail", f"{shown} answered HTTP 404 (no such page): not an OpenF1 API there",
            "check OPENF1_BASE_URL (OpenF1's is https://api.openf1.org/v1)",
        )
    hint, fix = "", NETWORK_FIX
    if code == 401:
        hint = ": anonymous access is restricted during live sessions"
        fix = "set OPENF1_USERNAME and OPENF1_PASSWORD (paid tier), or run it again after the session"
    elif code == 429:
        hint, fix = ": rate limited", "wait a minute and run it again"
    return Check("openf1", "fail", f"{shown} answered HTTP {code}{hint}", fix)


def f1db_check(settings: Settings, *, offline: bool, now: datetime | None = None) -> Check:
    """How old the newest f1db release in the store is (by its own date), and, unless ``offline``, whether
    GitHub (F1DB_URL) answers and whether its latest release is in the store. One conditional request
    (If-None-Match: a 304 does not count against a token's limit)."""
    now = now or datetime.now(UTC)
    store = Store(settings.snapshot_dir)
    releases = store.releases("f1db", strict=False)
    newest = max(releases, key=release_order) if releases else None
    if newest is None:
        held = "no f1db release in the store yet"
    else:
        days = (now - newest.released_at).total_seconds() / 86400
        held = f"newest release {newest.tag} of {newest.released_at:%Y-%m-%d} ({days:.0f} days old)"
    fetch_fix = "ingest fetch --source f1db"
    if offline:
        status: Status = "ok" if newest is not None else "warn"
        return Check("f1db", status, f"{held}; GitHub not asked (--offline)", fetch_fix)
    url = release_url(settings, None)
    shown = public_url(url)
    try:
        with GithubClient(settings.github_token, now=now) as github:
            answer = github.get(url, etag=etag_for(store, url), timeout=OPENF1_TIMEOUT)
    except RateLimited as error:
        return Check("f1db", "fail", f"{held}; {error}", "wait for the reset, or set GITHUB_TOKEN")
    except Unreachable as error:
        return Check("f1db", "fail", f"{held}; {error}", "check the network and F1DB_URL")
    if answer.status == 304:
        return Check("f1db", "ok", f"{held}; {shown} answered 304 (unchanged) in {answer.elapsed_ms:.0f} ms")
    latest = read_release(shown, answer.body).tag_name
    if newest is not None and any(r.tag == latest for r in releases):
        return Check("f1db", "ok", f"{held}; {shown} answered in {answer.elapsed_ms:.0f} ms, latest {latest}")
    return Check("f1db", "warn", f"{held}; GitHub's latest release {latest} is not in the store", fetch_fix)


def watch_check(settings: Settings, now: datetime | None = None) -> Check:
    """The last successful ``ingest watch`` pass on this store: ``skip`` when no watcher ever ran here,
    ``fail`` when it is older than the watcher promised (2 x its longest sleep), or when its state file is
    there but unreadable (truncated, garbage: no pass can be vouched for)."""
    try:
        state = read_state(settings.snapshot_dir)
    except StateUnreadable as exc:
        return Check(
            "watch", "fail", f"{STATE_FILE} is unreadable ({exc.why}): no watch pass can be vouched for",
            f"remove {exc.path} and run ingest watch --once",
        )
    if state is None:
        return Check("watch", "skip", f"no watcher has run on this store (no {STATE_FILE})")
    now = now or datetime.now(UTC)
    expected = timedelta(seconds=state.expected_within_s)
    errors = f"; {state.failures} failed pass(es) since, last: {state.last_error}" if state.failures else ""
    if state.last_success is None:
        return Check("watch", "fail", f"no successful watch pass yet{errors}", "ingest watch --once")
    age = now - state.last_success
    minutes = age.total_seconds() / 60
    message = f"last successful pass {format_utc(state.last_success)} ({minutes:.0f} min ago)"
    if age > expected:
        limit = expected.total_seconds() / 60
        return Check("watch", "fail", f"{message}, older than {limit:.0f} min{errors}", "ingest watch --once")
    return Check("watch", "ok", message + errors)


def f1db_cadence_check(settings: Settings, now: datetime | None = None) -> Check:
    """Whether the watcher asks f1db as its cadence wants (docs/watch.md, "f1db"): ``fail`` when a step
    (a race's +3 h, a daily correction ask...) has waited more than :data:`OVERDUE_MARGIN` for an ask, with
    when f1db was last asked and what was due; ``ok`` naming the last ask and the next step. Read from the
    store and ``watch.json`` only: nothing is asked."""
    now = now or datetime.now(UTC)
    try:
        state = read_state(settings.snapshot_dir)
    except StateUnreadable as exc:  # the watch check says so
        return Check("f1db-watch", "skip", f"not checked: {STATE_FILE} is unreadable ({exc.why})")
    plan = store_f1db_plan(Store(settings.snapshot_dir), state, now)
    if plan.asked is None:
        return Check("f1db-watch", "fail", "f1db never asked by the watcher on this store",
                     "ingest watch --once")
    asked = f"f1db last asked {iso(plan.asked)} ({(now - plan.asked).total_seconds() / 3600:.1f} h ago)"
    late = f1db_overdue(plan, OVERDUE_MARGIN)
    if late is not None:
        hours = (now - late.at).total_seconds() / 3600
        return Check(
            "f1db-watch", "fail",
            f"{asked}; due since {iso(late.at)} ({hours:.1f} h, more than "
            f"{OVERDUE_MARGIN.total_seconds() / 3600:.0f} h late): {late.why}",
            "ingest watch --once (is the watcher running?)",
        )
    after = f"next step {iso(plan.upcoming[0].at)}: {plan.upcoming[0].why}" if plan.upcoming else "no step"
    due = f"; due now: {plan.due.why}" if plan.due is not None else ""
    return Check("f1db-watch", "ok", f"{asked}{due}; {after}")


def gaps_check(settings: Settings, now: datetime | None = None) -> Check:
    """The store's known gaps (answers that cannot be true, :func:`ingestion.fetch.known_gaps`): ``warn``
    naming each (what, since when, next ask), ``ok`` when there is none. A gap changes no data: replay keeps
    the earlier rows, and fetch asks it again on its back-off."""
    try:
        gaps = known_gaps(Store(settings.snapshot_dir), now or datetime.now(UTC),
                          revalidate_days=settings.revalidate_days)
    except IngestionError as exc:  # a store that cannot be read: the snapshots check says why
        return Check("gaps", "skip", f"not checked: {_first_line(exc)}")
    if not gaps:
        return Check("gaps", "ok", "no known gap (every answer that must have rows has them)")
    shown = "; ".join(render_gap(gap) for gap in gaps)
    return Check("gaps", "warn", f"{len(gaps)} known gap(s): {shown}",
                 fix="nothing to do: `ingest fetch` asks each again at its next ask")


def healthcheck(settings: Settings, *, offline: bool, openf1_timeout: float = OPENF1_TIMEOUT) -> list[Check]:
    """Run every check, in order: database, migrations, snapshots, gaps (only when the store has a known
    gap), watch (only when a watcher ran on this store), f1db watch (a watcher ran and f1db is a source: f1db
    asked on its cadence), openf1 (``skip`` when ``offline``), f1db (when it
    is a source or the store holds a release: the newest release's age; GitHub asked unless ``offline``)."""
    checks = _database_checks(settings)
    checks.append(_guard("snapshots", lambda: _snapshot_check(settings)))
    gaps = _guard("gaps", lambda: gaps_check(settings))
    if gaps.status in ("warn", "fail"):
        checks.append(gaps)
    if (settings.snapshot_dir / STATE_FILE).exists():
        checks.append(_guard("watch", lambda: watch_check(settings)))
        if "f1db" in settings.sources:  # a watcher asks f1db on its cadence
            checks.append(_guard("f1db-watch", lambda: f1db_cadence_check(settings)))
    if offline:
        checks.append(Check("openf1", "skip", "skipped (--offline)"))
    else:
        checks.append(_guard("openf1", lambda: _openf1_check(settings, openf1_timeout)))
    if "f1db" in settings.sources or Store(settings.snapshot_dir).releases("f1db", strict=False):
        checks.append(_guard("f1db", lambda: f1db_check(settings, offline=offline)))
    return checks


def exit_code(checks: Sequence[Check]) -> int:
    """0 when every check that ran passed, else 1."""
    return 0 if all(c.passed for c in checks) else 1


MARKS: dict[bool, dict[Status, str]] = {
    True: {"ok": "OK  ", "fail": "FAIL", "skip": "SKIP", "warn": "WARN"},
    False: {"ok": "✓", "fail": "✗", "skip": "-", "warn": "!"},
}


def format_check(check: Check, *, ascii_only: bool) -> list[str]:
    """The line(s) printed for ``check``: a mark, the name, the message; a ``fix:`` line when failed."""
    lines = [f"{MARKS[ascii_only][check.status]} {check.name:<10} {check.message}"]
    if check.status in ("fail", "warn") and check.fix:
        lines.append(f"{'':{len(MARKS[ascii_only]['ok'])}} {'':<10} fix: {check.fix}")
    return lines
