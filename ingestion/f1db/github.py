"""Asking GitHub for f1db's releases: the release's JSON (conditional on the stored ETag) and its archive.

GitHub's rules (docs/f1db.md): 60 API requests an hour per address without a token, 5,000 with
``GITHUB_TOKEN``; a conditional request answered 304 does not count with a token. A 403 or 429 with
``x-ratelimit-remaining: 0`` means wait until ``x-ratelimit-reset``: that is one line
(:class:`RateLimited`), never a retry. Every request is asked once: a failure is one line too
(:class:`Unreachable`). How an answer is read is pure (:func:`read_release`, :func:`rate_limit`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import msgspec

from ingestion.errors import IngestionError
from ingestion.instant import format_utc
from ingestion.masking import mask_text

__all__ = [
    "USER_AGENT",
    "GithubAnswer",
    "GithubClient",
    "GithubRelease",
    "RateLimited",
    "Unreachable",
    "rate_limit",
    "read_release",
]

USER_AGENT = "parc-ferme-ingestion (+https://github.com/f1db/f1db)"
#: The largest archive accepted (f1db's are ~4 MB).
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class RateLimited(IngestionError):
    """GitHub's API limit is used up: one line with the time it resets (exit 1)."""

    def __init__(self, status: int, reset: datetime | None, now: datetime, limit: str | None) -> None:
        when = "at an unknown time"
        if reset is not None:
            minutes = max(0, round((reset - now).total_seconds() / 60))
            when = f"at {format_utc(reset)} (in {minutes} min)"
        of = f" of {limit}" if limit else ""
        super().__init__(
            f"f1db: GitHub's API rate limit is used up ({status}, 0{of} requests left); it resets {when}. "
            "Nothing was retried; set GITHUB_TOKEN for 5,000 requests an hour"
        )
        self.reset = reset


class Unreachable(IngestionError):
    """GitHub (or the f1db stand-in) could not be asked, or answered something unusable (exit 1)."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"f1db: {mask_text(url)}: {problem}")
        self.url = url


class GithubRelease(msgspec.Struct, frozen=True, kw_only=True):
    """What f1db fetch reads of GitHub's release JSON."""

    tag_name: str
    published_at: datetime | None = None
    tarball_url: str


class GithubAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """One answer: its status, ETag, body, and the URL finally answered (after redirects)."""

    status: int
    etag: str | None
    body: bytes
    url: str
    elapsed_ms: float


def rate_limit(status: int, headers: httpx.Headers | dict[str, str], now: datetime) -> RateLimited | None:
    """The rate-limit error a 403/429 answer means, or None (pure). A 429, or a 403 saying
    ``x-ratelimit-remaining: 0``, is the limit; ``retry-after`` (GitHub's secondary limit) gives the time
    when ``x-ratelimit-reset`` does not."""
    if status not in (403, 429):
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    remaining = lower.get("x-ratelimit-remaining")
    if status == 403 and remaining != "0" and "retry-after" not in lower:
        return None
    reset: datetime | None = None
    raw_reset = lower.get("x-ratelimit-reset", "")
    raw_after = lower.get("retry-after", "")
    if raw_reset.isdigit():
        reset = datetime.fromtimestamp(int(raw_reset), UTC)
    elif raw_after.isdigit():
        reset = now + (datetime.fromtimestamp(int(raw_after), UTC) - datetime.fromtimestamp(0, UTC))
    return RateLimited(status, reset, now, lower.get("x-ratelimit-limit"))


def read_release(url: str, body: bytes) -> GithubRelease:
    """The release JSON ``body`` (from ``url``), or :class:`Unreachable` naming what is wrong."""
    try:
        return msgspec.json.decode(body, type=GithubRelease)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise Unreachable(url, f"not a GitHub release ({error})") from None


class GithubClient:
    """A synchronous httpx client for GitHub's API: one request per call, never retried."""

    def __init__(self, token: str | None, *, now: datetime | None = None) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/vnd.github+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._now = now
        self._client = httpx.Client(headers=headers, timeout=TIMEOUT, follow_redirects=True)
        self.requests = 0  # HTTP requests sent (a redirect followed counts as one more)

    def get(
        self, url: str, *, etag: str | None = None, archive: bool = False, timeout: float | None = None
    ) -> GithubAnswer:
        """GET ``url`` (with ``If-None-Match: etag``), following redirects. A 200 or 304 is returned; a
        rate limit is :class:`RateLimited`; anything else :class:`Unreachable`."""
        headers = {"If-None-Match": etag} if etag else {}
        if archive:
            headers["Accept"] = "application/octet-stream"
        started = time.perf_counter()
        try:
            limit = TIMEOUT if timeout is None else httpx.Timeout(timeout)
            with self._client.stream("GET", url, headers=headers, timeout=limit) as response:
                self.requests += 1 + len(response.history)
                limited = rate_limit(response.status_code, response.headers, self._now or datetime.now(UTC))
                if limited is not None:
                    raise limited
                if response.status_code not in (200, 304):
                    raise Unreachable(url, f"answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ARCHIVE_BYTES:
                        raise Unreachable(url, f"more than {MAX_ARCHIVE_BYTES} bytes")
                return GithubAnswer(
                    status=response.status_code,
                    etag=response.headers.get("etag"),
                    body=bytes(body),
                    url=str(response.url),
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                )
        except httpx.TimeoutException:
            raise Unreachable(url, "did not answer in time") from None
        except httpx.HTTPError as error:
            raise Unreachable(url, f"cannot be reached ({type(error).__name__}: {error})") from None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GithubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
