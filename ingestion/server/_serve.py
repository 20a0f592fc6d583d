"""``ingest serve``'s shell: open the rows or the store, announce, answer until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

from ingestion.errors import UsageError
from ingestion.instant import format_utc
from ingestion.server._answers import ServerConfig, ServerStats
from ingestion.server._f1db import F1dbFolder
from ingestion.server._http import start_server
from ingestion.server._source import Dataset, load_rows, load_store
from ingestion.server._time import shift_dataset

__all__ = ["open_source", "serve"]


def open_source(
    rows: Sequence[Path] = (), store: Path | None = None, as_of: datetime | None = None
) -> Dataset:
    """The rows of every ``--rows`` directory, then the ``--store``'s (as of ``as_of``), per endpoint."""
    if not rows and store is None:
        raise UsageError("nothing to serve: give --rows DIR (repeatable), --store DIR and/or --f1db DIR")
    dataset = load_rows(rows) if rows else Dataset()
    if store is not None:
        dataset = dataset.merged(load_store(store, as_of))
    return dataset


def serve(
    rows: Sequence[Path],
    store: Path | None,
    config: ServerConfig,
    *,
    as_of: datetime | None = None,
    now_is: datetime | None = None,
    f1db: Path | None = None,
    announce: Callable[[str], None],
    log: IO[str] | None,
) -> ServerStats:
    """Load the source, serve it until Ctrl-C (or SIGTERM), stop cleanly; the stats of the whole run.

    ``announce`` gets the summary lines (rows per endpoint, limits) and then
    ``serving OpenF1 on http://HOST:PORT/v1``. ``now_is``: serve the rows moved in time so that this
    instant of theirs is now (see :func:`ingestion.server._time.shift_dataset`). ``f1db``: a folder of
    f1db archives, served as GitHub's release endpoints too (``serving f1db on ...``).
    """
    folder = F1dbFolder(f1db) if f1db is not None else None
    only_f1db = folder is not None and not rows and store is None
    dataset = Dataset() if only_f1db else open_source(rows, store, as_of)
    if now_is is not None:
        delta = datetime.now(UTC) - now_is
        dataset = shift_dataset(dataset, delta)
        days = delta.total_seconds() / 86400
        announce(f"rows moved by {days:.2f} days: their {format_utc(now_is)} is now")
    counts = dataset.counts()
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    announce(f"rows: {summary or 'none (every query answers 404)'}")
    server = start_server(dataset, config, log=log, f1db=folder)
    limits = f"limits {config.per_second:g}/s {config.per_minute:g}/min (0 = none)"
    if config.tokens_enabled:
        limits += f"; POST {server.token_url} -> {config.paid_per_second:g}/s {config.paid_per_minute:g}/min"
    if config.faults:
        limits += "; faults " + " ".join(str(f) for f in config.faults)
    if not config.or_repeated:
        limits += "; --no-or: a repeated filter key keeps its last value only (OpenF1 before August 2025)"
    if config.drops:
        limits += "; --drop " + " ".join(str(d) for d in config.drops) + " (those meetings' rows left out)"
    announce(limits)
    if folder is not None:
        tags = ", ".join(release.tag for release in folder.releases()) or "none yet"
        limit = config.f1db_limit
        limit_text = "" if limit is None else f"; 403 rate limit after {limit} API request(s)"
        announce(f"f1db releases: {tags}{limit_text}. Data from f1db (CC BY 4.0)")
        announce(f"serving f1db on {server.f1db_url} (F1DB_URL)")
    announce(f"serving OpenF1 on {server.base_url}")
    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS} if in_main else {}
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return server.stats


#: Ctrl-C and a polite kill both stop the server cleanly (even when the shell started us with SIGINT ignored).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
