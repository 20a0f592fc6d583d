"""What ``ingest serve`` answers, PURE: the bodies OpenF1 sends, the configuration, the request records, and
the answer to a GET (:func:`answer_get`). The socket loop that sends them is ``_http``."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

import msgspec

from ingestion.errors import UsageError
from ingestion.server._control import Drop, Fault
from ingestion.server._query import last_of_each, parse_pairs, parse_query, select
from ingestion.server._source import Dataset

__all__ = [
    "BAD_CREDENTIALS_BODY",
    "BAD_LENGTH_BODY",
    "BAD_TOKEN_BODY",
    "JSON",
    "LIVE_SESSION_BODY",
    "LIVE_SESSION_DETAIL",
    "MAX_BODY_BYTES",
    "MAX_FILTERS",
    "MAX_FILTER_CHARS",
    "NOT_FOUND_BODY",
    "NO_RESULTS_BODY",
    "RATE_EXCEEDED",
    "REPLACING",
    "TEXT",
    "TOO_LARGE_BODY",
    "WELCOME",
    "Answer",
    "RequestRecord",
    "ServerConfig",
    "ServerStats",
    "answer_get",
    "endpoint_of",
]

NO_RESULTS_BODY = b'{"detail":"No results found."}'
LIVE_SESSION_DETAIL = "Session in progress, access is restricted to authenticated users..."
LIVE_SESSION_BODY = msgspec.json.encode({"detail": LIVE_SESSION_DETAIL})
RATE_EXCEEDED = b"Rate exceeded"
BAD_TOKEN_BODY = b'{"detail":"Invalid or expired token."}'
BAD_CREDENTIALS_BODY = b'{"detail":"Incorrect username or password."}'
NOT_FOUND_BODY = b'{"detail":"Not Found"}'
BAD_LENGTH_BODY = b'{"detail":"Invalid Content-Length header."}'
TOO_LARGE_BODY = b'{"detail":"Request body too large."}'
WELCOME = b"Welcome to OpenF1!"

#: Bounds on what a request may carry (beyond them: 400 for a query, 413 for a body, 414 for a request line
#: beyond the standard library's 64 KiB): no real OpenF1 request comes near them.
MAX_BODY_BYTES = 64 * 1024
MAX_FILTERS = 64
MAX_FILTER_CHARS = 256

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


def html_page(status: int, reason: str) -> bytes:
    return (
        f"<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>"
        f"<body><h1>{status} {reason}</h1><p>The server could not complete your request.</p>"
        "<hr><address>openf1 stand-in (ingest serve)</address></body></html>\n"
    ).encode()


#: Bounds of serve's options: one request an hour to a million a second; a token living up to a year; a
#: `slow` fault of up to an hour.
PER_SECOND_BOUNDS = (1 / 3600, 1e6)
PER_MINUTE_BOUNDS = (1 / 60, 6e7)
MAX_TOKEN_TTL = 366 * 86400.0
MAX_SLOW_SECONDS = 3600.0


class ServerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How ``ingest serve`` behaves. Rates of 0 mean no limit; faults apply to GETs, numbered from 1."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port chosen by the system
    per_second: float = 3.0
    per_minute: float = 30.0
    paid_per_second: float = 6.0
    paid_per_minute: float = 60.0
    token_user: str | None = None
    token_password: str | None = None
    token_ttl: float = 3600.0
    faults: tuple[Fault, ...] = ()
    slow_seconds: float = 2.0
    live_block: bool = False  # anonymous GETs get OpenF1's 401 while a served session is live
    #: False: like OpenF1 before August 2025, a repeated filter key keeps only its last value (no OR)
    or_repeated: bool = True
    #: endpoints served without some meetings' rows (``--drop drivers:1250,1251``): gaps, for tests
    drops: tuple[Drop, ...] = ()
    #: ``--f1db-limit``: GitHub API requests answered before every one is a 403 rate limit (None: no limit)
    f1db_limit: int | None = None

    def __post_init__(self) -> None:
        if (self.token_user is None) != (self.token_password is None):
            raise UsageError("--token-user and --token-password go together")
        # Bounds that also refuse NaN: an absurd value (a token living 1e300 s, a rate of 1e-9/s that
        # answers 429 for ever, a `slow` fault of 1e12 s) is a usage error, not a server that never answers.
        if not 0 < self.token_ttl <= MAX_TOKEN_TTL:
            raise UsageError(
                f"--token-ttl must be from 0 to {MAX_TOKEN_TTL:g} seconds, got {self.token_ttl:g}"
            )
        if not 0 <= self.slow_seconds <= MAX_SLOW_SECONDS:
            raise UsageError(
                f"--slow-seconds must be from 0 to {MAX_SLOW_SECONDS:g}, got {self.slow_seconds:g}"
            )
        for name, rate, (low, high) in (
            ("--per-second", self.per_second, PER_SECOND_BOUNDS),
            ("--per-minute", self.per_minute, PER_MINUTE_BOUNDS),
            ("--paid-per-second", self.paid_per_second, PER_SECOND_BOUNDS),
            ("--paid-per-minute", self.paid_per_minute, PER_MINUTE_BOUNDS),
        ):
            if not (rate == 0 or low <= rate <= high):
                raise UsageError(f"{name} must be 0 (no limit) or from {low:.6g} to {high:g}, got {rate:g}")
        if self.f1db_limit is not None and self.f1db_limit < 0:
            raise UsageError(f"--f1db-limit must be 0 or more, got {self.f1db_limit}")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be 0..65535, got {self.port}")

    @property
    def tokens_enabled(self) -> bool:
        return self.token_user is not None


class RequestRecord(msgspec.Struct, frozen=True):
    """One request the server saw. ``status`` 0: the connection was reset without an answer."""

    method: str
    path: str  # path and query, as sent: "/v1/drivers?session_key=9472"
    status: int
    fault: str | None = None  # the injected fault's kind, if any
    tier: str = "free"  # "free" or "paid"; "f1db-api" or "f1db-download" for f1db's paths
    bearer: bool = False  # an f1db request that came with "Authorization: Bearer ..." (GITHUB_TOKEN)


class ServerStats(msgspec.Struct, frozen=True):
    """What the server has seen since it started (or since ``reset_stats``)."""

    records: tuple[RequestRecord, ...] = ()

    @property
    def total(self) -> int:
        """Requests seen, every method."""
        return len(self.records)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request, in arrival order."""
        return [(r.method, r.path) for r in self.records]

    @property
    def gets(self) -> int:
        return sum(1 for r in self.records if r.method == "GET")

    @property
    def by_status(self) -> dict[int, int]:
        return dict(Counter(r.status for r in self.records))

    @property
    def rate_limited(self) -> int:
        """Answers with status 429 (from the limits or from a ``429`` fault)."""
        return sum(1 for r in self.records if r.status == 429)

    @property
    def faults(self) -> int:
        return sum(1 for r in self.records if r.fault is not None)

    @property
    def f1db_api(self) -> int:
        """GitHub API requests answered for f1db (releases, tarball redirects; archive downloads are not)."""
        return sum(1 for r in self.records if r.tier == "f1db-api")

    @property
    def f1db_downloads(self) -> int:
        return sum(1 for r in self.records if r.tier == "f1db-download")


class Answer(msgspec.Struct):
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # more headers: ETag, Location...


def query_problem(query: str) -> str | None:
    """Why ``query`` is absurd (too many filters, a key or value too long to be real), or None."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if len(pairs) > MAX_FILTERS:
        return f"{len(pairs)} filters (at most {MAX_FILTERS})"
    for key, value in pairs:
        if len(key) > MAX_FILTER_CHARS or len(value) > MAX_FILTER_CHARS:
            return f"a filter longer than {MAX_FILTER_CHARS} characters"
    return None


def answer_get(
    dataset: Dataset,
    endpoint: str | None,
    query: str,
    *,
    or_repeated: bool = True,
    drops: tuple[Drop, ...] = (),
) -> Answer:
    """The answer to ``GET /v1/<endpoint>?<query>`` from ``dataset`` (pure: no socket, no clock).

    ``or_repeated=False`` answers like OpenF1 before August 2025: a repeated key keeps its last value only.
    ``drops`` leave some meetings' rows of an endpoint out (as if OpenF1 had lost them).
    """
    if endpoint is None:
        return Answer(404, NOT_FOUND_BODY)
    if endpoint == "":
        return Answer(200, WELCOME, TEXT) if not query else Answer(404, NO_RESULTS_BODY)
    problem = query_problem(query)
    if problem is not None:
        return Answer(400, msgspec.json.encode({"detail": f"Invalid query: {problem}."}))
    rows = dataset.rows(endpoint)
    if rows is None:
        return Answer(404, NO_RESULTS_BODY)
    parsed = parse_query(query) if or_repeated else parse_pairs(last_of_each(query))
    found = select(rows, parsed)
    for drop in drops:
        if drop.endpoint == endpoint:
            found = [row for row in found if not drop.drops(row)]
    if not found:
        return Answer(404, NO_RESULTS_BODY)
    return Answer(200, msgspec.json.encode(found))


REPLACING: dict[str, Answer] = {
    "429": Answer(429, RATE_EXCEEDED, TEXT),
    "500": Answer(500, html_page(500, "Internal Server Error"), HTML),
    "502": Answer(502, html_page(502, "Bad Gateway"), HTML),
    "503": Answer(503, html_page(503, "Service Temporarily Unavailable"), HTML),
    "504": Answer(504, html_page(504, "Gateway Time-out"), HTML),
    "401": Answer(401, LIVE_SESSION_BODY),
    "html": Answer(200, html_page(200, "OK").replace(b"could not complete", b"is a web page for"), HTML),
    "empty": Answer(200, NO_RESULTS_BODY),  # a false "No results found." (seen from OpenF1 under load)
    "deep": Answer(200, b"[" * 1000 + b"]" * 1000),  # hostile: every JSON decoder's recursion limit
}


def endpoint_of(path: str) -> str | None:
    """``/v1/drivers`` -> "drivers"; ``/`` -> "" (the welcome text); anything else -> None."""
    trimmed = path.strip("/").lower()
    if trimmed == "":
        return ""
    head, _, rest = trimmed.partition("/")
    if head != "v1" or not rest or "/" in rest:
        return None
    return rest
