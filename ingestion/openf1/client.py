"""The OpenF1 HTTP client: one async httpx client, paced by a :class:`~ingestion.openf1.limiter.Limiter`,
retrying what can be retried and telling apart everything OpenF1 answers.

How an answer is read is a pure function, :func:`ingestion.openf1.body.classify` (status and body in, a
:class:`~ingestion.openf1.body.Verdict` out; the one body contract of the project):

- 200 with a JSON array (of objects): rows, a snapshot to store;
- 404 (or 200) with ``{"detail": "No results found."}``: a valid empty answer (stored with status 404);
- 429: wait (``Retry-After`` when present, else exponential backoff with jitter, capped) and ask again;
- 5xx, timeouts, connection resets, a body that does not decode (a corrupt gzip stream), and a 200 whose
  body is neither a JSON array nor the detail (an HTML page, a truncated body): retried with backoff a
  bounded number of times, then the request fails;
- 401 "Session in progress": OpenF1 blocks anonymous access around live sessions: the answer is
  ``blocked`` and the caller stops asking;
- any other 4xx: failed at once, never retried.

Query strings are never rebuilt by httpx: the URL is the base URL plus :attr:`Request.path` as written,
so operators (``date_start%3E=...``) go as meant.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

import httpx
import msgspec

from ingestion.errors import IngestionError
from ingestion.instant import as_utc
from ingestion.masking import mask_text, public_url, url_secrets
from ingestion.openf1.body import RETRYABLE_STATUS, Verdict, classify
from ingestion.openf1.limiter import Limiter, Sleep, Ticket
from ingestion.openf1.retry import Retrying, RetryPolicy
from ingestion.openf1.token import Token, TokenError, parse_token, token_url
from ingestion.store.model import Request

USER_AGENT = "parc-ferme-ingestion (+https://openf1.org)"


#: Messages of the resolver's failures (``socket.gaierror``) as httpx passes them on.
_UNRESOLVABLE = (
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname provided",
    "No address associated with hostname",
    "getaddrinfo failed",
)
#: A host name that does not resolve is asked again this many times at most, briefly: it is a typo in
#: OPENF1_BASE_URL or a machine without network far more often than a resolver's hiccup.
DNS_ATTEMPTS = 3
DNS_BACKOFF_CAP = 2.0


class CannotResolve(IngestionError):
    """The OpenF1 host name does not resolve (after a short bounded retry): stops the whole fetch."""

    def __init__(self, host: str) -> None:
        super().__init__(f"cannot resolve {host}: check the network or OPENF1_BASE_URL")
        self.host = host


def unresolvable(error: BaseException) -> bool:
    """Whether ``error`` (from httpx) is a failure to resolve the host name."""
    return isinstance(error, httpx.ConnectError) and any(text in str(error) for text in _UNRESOLVABLE)


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (as_utc(when) - now).total_seconds())


Outcome = Literal["rows", "empty", "failed", "blocked"]


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """The end of asking for one request: what came back and what it took."""

    request: Request
    url: str
    outcome: Outcome
    status: int | None  # the last HTTP status (None after a network error)
    body: bytes = b""
    content_type: str | None = None
    received_at: datetime | None = None
    attempts: int = 0  # HTTP requests sent for it
    throttled: int = 0  # 429s among them
    retries: int = 0  # attempts after the first
    waited: float = 0.0  # seconds waiting for the rate limit
    backoff: float = 0.0  # seconds sleeping between retries
    elapsed_ms: float = 0.0  # of the last attempt
    reason: str = ""  # why it failed or was blocked

    @property
    def stored_status(self) -> int:
        """The status to store: 404 for every empty answer (OpenF1's "No results found."), else 200."""
        return 404 if self.outcome == "empty" else (self.status or 200)


NoteKind = Literal["wait", "throttled", "retry", "token"]


class Note(msgspec.Struct, frozen=True):
    """Something worth showing while it happens: a wait for the limit, a 429, a retry, a token renewal."""

    kind: NoteKind
    seconds: float = 0.0
    reason: str = ""


class ClientStats(msgspec.Struct, kw_only=True):
    http_requests: int = 0  # every request sent, token requests included
    token_requests: int = 0


class OpenF1Client:
    """Asks OpenF1 (or a stand-in) one request at a time, paced and retried. Use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        limiter: Limiter,
        policy: RetryPolicy | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        on_note: Callable[[Note], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: The base URL as it may be logged, stored or printed: no userinfo, no query secret.
        self.public_base_url = public_url(self.base_url)
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self._credentials = credentials
        self._token: Token | None = None
        self._sleep = sleep or asyncio.sleep
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()
        self._on_note = on_note
        self.stats = ClientStats()
        self._http = httpx.AsyncClient(
            transport=transport,
            # TLS certificates are loaded only when they can be used: a plain http:// base URL (the
            # stand-in server, a local mirror) never opens a TLS connection, and loading them costs ~50 ms.
            verify=self.base_url.startswith("https://"),
            timeout=httpx.Timeout(self.policy.timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> OpenF1Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def url(self, request: Request) -> str:
        """The full URL of ``request``: base URL + its canonical path and query, verbatim."""
        return self.base_url + request.path

    def public(self, request: Request) -> str:
        """:meth:`url` as it may be logged or stored (every answer carries this one): secrets removed."""
        return public_url(self.public_base_url + request.path)

    def _note(self, kind: NoteKind, seconds: float = 0.0, reason: str = "") -> None:
        if self._on_note is not None:
            self._on_note(Note(kind, seconds, self.mask(reason)))

    def mask(self, text: str) -> str:
        """``text`` with the password, the token and the base URL's secrets (userinfo, query) masked."""
        secrets = [self._token.value if self._token else None, *url_secrets(self.base_url)]
        if self._credentials:
            secrets.append(self._credentials[1])
        return mask_text(text.replace(self.base_url, self.public_base_url), *secrets)

    async def _pause(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def _acquire(self) -> Ticket:
        return await self.limiter.acquire(lambda s: self._note("wait", s))

    async def _renew_token(self) -> None:
        """``POST /token`` with the credentials (paced like any request); raises :class:`TokenError`."""
        assert self._credentials is not None
        username, password = self._credentials
        url = token_url(self.base_url)
        shown = token_url(self.public_base_url)
        self._note("token", reason=f"asking {shown} for a token")
        last = ""
        tries = Retrying(self.policy, self._rng.random)
        while True:
            ticket = await self._acquire()
            self.stats.http_requests += 1
            self.stats.token_requests += 1
            try:
                try:
                    response = await self._http.post(url, data={"username": username, "password": password})
                finally:
                    self.limiter.complete(ticket)
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    value, expires_in = parse_token(response.content)
                    self._token = Token(value, expires_in, self._clock())
                    return
                if response.status_code in (401, 403):
                    raise TokenError(
                        f"POST {shown} refused the credentials (HTTP {response.status_code}): "
                        "check OPENF1_USERNAME and OPENF1_PASSWORD"
                    )
                if response.status_code not in RETRYABLE_STATUS and response.status_code != 429:
                    raise TokenError(  # 404, 405, 501...: nothing there judged the credentials
                        f"POST {shown} is not a token endpoint (HTTP {response.status_code}): the server at "
                        "OPENF1_BASE_URL gives no tokens; unset OPENF1_USERNAME and OPENF1_PASSWORD (free "
                        "tier) or check OPENF1_BASE_URL"
                    )
                last = f"HTTP {response.status_code}"
            delay = tries.after_failure()  # a 429 too: a token is asked once in a while, never throttled
            if delay is None:
                raise TokenError(self.mask(f"POST {shown} failed {tries.failures} times ({last})"))
            await self._pause(delay)

    async def _headers(self) -> dict[str, str]:
        if self._credentials is None:
            return {}
        if self._token is None or self._token.due(self._clock()):
            await self._renew_token()
        assert self._token is not None
        return self._token.header

    async def get(self, request: Request) -> Answer:
        """Ask for ``request`` until it is answered, fails for good, or is blocked by a live session."""
        url = self.url(request)
        tries = Retrying(self.policy, self._rng.random)
        attempts = dns_failures = 0
        waited = backoff = 0.0
        renewed_after_401 = False

        def answer(outcome: Outcome, status: int | None, reason: str = "", **extra: object) -> Answer:
            return Answer(
                request=request,
                url=self.public(request),
                outcome=outcome,
                status=status,
                attempts=attempts,
                throttled=tries.throttled,
                retries=max(0, attempts - 1),
                waited=waited,
                backoff=backoff,
                reason=self.mask(reason),
                **extra,  # type: ignore[arg-type]
            )

        while True:
            headers = await self._headers()
            ticket = await self._acquire()
            waited += ticket.waited
            attempts += 1
            self.stats.http_requests += 1
            started = self._clock()
            status: int | None = None
            after: float | None = None
            try:
                try:
                    response = await self._http.get(url, headers=headers)
                finally:
                    self.limiter.complete(ticket)
            except httpx.TimeoutException as error:
                verdict = Verdict("retry", f"timeout ({type(error).__name__})")
            except httpx.HTTPError as error:  # resets, refused connections, a body that does not decode
                if unresolvable(error):
                    dns_failures += 1
                    host = httpx.URL(url).host
                    if dns_failures >= DNS_ATTEMPTS:
                        raise CannotResolve(host) from None
                    delay = min(self.policy.backoff(dns_failures, self._rng.random()), DNS_BACKOFF_CAP)
                    self._note("retry", delay, f"cannot resolve {host}")
                    backoff += delay
                    await self._pause(delay)
                    continue
                verdict = Verdict("retry", f"{type(error).__name__}: {error}".rstrip(": "))
            else:
                status = response.status_code
                body = response.content
                verdict = classify(status, body)
                if verdict.kind in ("rows", "empty"):
                    return answer(
                        verdict.kind,
                        status,
                        body=body,
                        content_type=response.headers.get("content-type"),
                        received_at=self._wall(),
                        elapsed_ms=(self._clock() - started) * 1000.0,
                    )
                after = retry_after(response.headers.get("retry-after"), self._wall())
            kind = verdict.kind
            if kind == "blocked":
                return answer("blocked", status, verdict.reason)
            if kind == "unauthorized":
                if self._credentials is not None and not renewed_after_401:
                    renewed_after_401 = True
                    self._token = None  # asks for a new one before the next attempt
                    continue
                return answer("failed", status, verdict.reason)
            if kind == "failed":
                return answer("failed", status, verdict.reason)
            if kind == "throttled":
                wait = tries.after_throttle(after)
                if wait is None:
                    return answer("failed", status, f"still 429 after {tries.throttled} tries")
                self._note("throttled", wait, verdict.reason)
            else:  # retry
                wait = tries.after_failure(after)
                if wait is None:
                    reason = f"{verdict.reason} (gave up after {tries.failures} tries)"
                    return answer("failed", status, reason)
                self._note("retry", wait, verdict.reason)
            backoff += wait
            await self._pause(wait)


__all__ = [
    "Answer",
    "CannotResolve",
    "ClientStats",
    "Note",
    "OpenF1Client",
    "RetryPolicy",
    "TokenError",
    "retry_after",
    "unresolvable",
]
