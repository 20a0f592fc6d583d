"""An OpenF1-compatible HTTP server over raw rows or a snapshot store: the stand-in for OpenF1 in tests
and an offline mirror for people (``ingest serve``).

    from ingestion.server import ServerConfig, load_rows, start_server

    with start_server(load_rows([world / "2024"]), ServerConfig(per_second=50)) as server:
        httpx.get(f"{server.base_url}/meetings", params={"year": 2024})   # 25 rows
        assert server.stats.rate_limited == 0

The filter language is pure (``_query``), so are the limits, tokens and faults (``_control``); the HTTP
plumbing (``_http``) is a standard-library ThreadingHTTPServer sending what ``_answers`` (pure) decides,
with the state its handlers share in ``_state``; ``_serve`` is ``ingest serve``'s shell around it.
"""

from __future__ import annotations

from ingestion.server._control import (
    FAULT_KINDS,
    Drop,
    Fault,
    FaultKind,
    FaultSyntaxError,
    SlidingWindowLimiter,
    TokenBook,
)
from ingestion.server._f1db import F1dbFolder
from ingestion.server._http import (
    LIVE_SESSION_DETAIL,
    NO_RESULTS_BODY,
    RATE_EXCEEDED,
    RequestRecord,
    RunningServer,
    ServerConfig,
    ServerStartError,
    ServerStats,
    start_server,
)
from ingestion.server._query import FieldFilter, Predicate, Query, Row, parse_pairs, parse_query, select
from ingestion.server._serve import open_source, serve
from ingestion.server._source import Dataset, SourceError, StoreBodyError, load_rows, load_store

__all__ = [
    "FAULT_KINDS",
    "LIVE_SESSION_DETAIL",
    "NO_RESULTS_BODY",
    "RATE_EXCEEDED",
    "Dataset",
    "Drop",
    "F1dbFolder",
    "Fault",
    "FaultKind",
    "FaultSyntaxError",
    "FieldFilter",
    "Predicate",
    "Query",
    "RequestRecord",
    "Row",
    "RunningServer",
    "ServerConfig",
    "ServerStartError",
    "ServerStats",
    "SlidingWindowLimiter",
    "SourceError",
    "StoreBodyError",
    "TokenBook",
    "load_rows",
    "load_store",
    "open_source",
    "parse_pairs",
    "parse_query",
    "select",
    "serve",
    "start_server",
]
