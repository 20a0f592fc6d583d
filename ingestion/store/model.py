"""The store's records: a request (what was asked) and an event (what was answered, when).

Both are msgspec Structs and serialise to one JSON line of the log each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import parse_qsl, quote, urlsplit

import msgspec

#: Characters left as they are in canonical query strings (operators are percent-encoded: `%3E=` means `>=`).
_SAFE = "-_.~:+"


def _encode(text: str) -> str:
    return quote(text, safe=_SAFE)


def _parsed_key(key: str) -> str:
    """``date>=`` written as a key is what a URL parser reads as key ``date>`` (the ``=`` separates)."""
    return key[:-1] if key.endswith((">=", "<=")) else key


def _pair(key: str, value: str) -> str:
    if value == "" and any(op in key for op in "<>"):
        return _encode(key)  # a strict comparison written whole in the key: "position<3"
    return f"{_encode(key)}={_encode(value)}"


def short_key(key: str, limit: int = 60) -> str:
    """A batch's long key as ``drivers?meeting_key=1228&...&meeting_key=1252 (25)`` for people reading a
    line (``--json`` and the log keep it whole); a key of ``limit`` characters or fewer as it is."""
    if len(key) <= limit or "&" not in key:
        return key
    head, _, rest = key.partition("&")
    return f"{head}&...&{rest.rsplit('&', 1)[-1]} ({rest.count('&') + 2})"


class Request(msgspec.Struct, frozen=True, order=True):
    """An OpenF1 request: the endpoint and its canonical query string.

    The canonical query sorts parameters by key (then value) and percent-encodes each side the same way,
    so the same request always has the same :attr:`key` whatever order or encoding it was written in.
    Operators live inside the key, as OpenF1 wants them: ``("date_start>=", "2024-06-01")``.
    """

    endpoint: str
    query: str = ""

    @classmethod
    def make(cls, endpoint: str, params: list[tuple[str, str]] | None = None) -> Request:
        """A request for ``endpoint`` with ``params`` as (key, value) pairs.

        Operators sit inside the key as in a URL: ``("date_start>=", "2024-06-01")`` (or its parsed form
        ``("date_start>", "2024-06-01")``) means on or after; ``("position<3", "")`` means strictly below.
        """
        endpoint = endpoint.strip("/")
        if not endpoint or "/" in endpoint or "?" in endpoint:
            raise ValueError(f"not an OpenF1 endpoint name: {endpoint!r}")
        pairs = sorted((_parsed_key(str(k)), str(v)) for k, v in (params or []))
        return cls(endpoint, "&".join(_pair(k, v) for k, v in pairs))

    @classmethod
    def from_url(cls, url: str) -> Request:
        """Parse ``/v1/drivers?session_key=9472``, ``drivers?...`` or a full URL into a request.

        ``date_start>=X`` and ``date_start%3E=X`` mean the same filter and give the same key.
        """
        parts = urlsplit(url)
        endpoint = parts.path.rstrip("/").rsplit("/", 1)[-1]
        return cls.make(endpoint, parse_qsl(parts.query, keep_blank_values=True))

    @property
    def key(self) -> str:
        """``endpoint?query``: the identity of a request in the log."""
        return f"{self.endpoint}?{self.query}" if self.query else self.endpoint

    @property
    def path(self) -> str:
        """The path and query to append to the base URL: ``/drivers?meeting_key=1229``."""
        return f"/{self.key}"

    def params(self) -> list[tuple[str, str]]:
        """The (key, value) pairs, decoded."""
        return parse_qsl(self.query, keep_blank_values=True)


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One answer received and stored: one line of the log."""

    run: str  # the fetch run (or import) it belongs to
    seq: int  # its position within the run, from 0
    endpoint: str
    query: str
    url: str  # the full URL asked (no credentials)
    status: int  # HTTP status: 200, or 404 for OpenF1's "No results found."
    received_at: Annotated[datetime, msgspec.Meta(tz=True)]  # UTC, microseconds
    address: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]  # sha256 hex of the uncompressed body
    size: int  # bytes of the uncompressed body
    content_type: str | None = None
    attempts: int = 1
    elapsed_ms: float = 0.0

    @property
    def request(self) -> Request:
        return Request(self.endpoint, self.query)

    @property
    def key(self) -> str:
        return self.request.key


class Release(msgspec.Struct, frozen=True, kw_only=True):
    """One release of a source that publishes whole archives (f1db) recorded: one line of the log.

    Its files are blobs like any body; the manifest blob (:class:`Manifest`) names them by path. ``kind`` is
    the line's first member (``{"kind":"release",...``): that is how a reader tells it from an
    :class:`Event`, whose lines (every line written before releases existed) have no ``kind``.
    """

    kind: Literal["release"] = "release"
    run: str
    seq: int
    source: str  # "f1db"
    tag: str  # "v2025.24.2"
    #: when the source published it (GitHub's ``published_at``); None for an archive imported by hand
    published_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    #: the commit time the archive's files carry (``git archive`` stamps every file with it)
    committed_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    received_at: Annotated[datetime, msgspec.Meta(tz=True)]  # UTC, microseconds
    url: str  # where the archive came from (no credentials), or the file imported
    manifest: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]  # the manifest blob's address
    size: int  # bytes of the manifest
    files: int  # how many files the release holds (entries of the manifest)
    etag: str | None = None  # the ETag of the release's API answer (a later fetch asks If-None-Match)
    elapsed_ms: float = 0.0

    @property
    def released_at(self) -> datetime:
        """The release's own date: published, else committed, else received."""
        return self.published_at or self.committed_at or self.received_at


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """A release's manifest blob: every file of the archive (path relative to its top folder) -> the
    address of its bytes. Canonical JSON (members in this order, paths sorted), so one release is one
    manifest address whenever and however it was recorded."""

    source: str
    tag: str
    published_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    committed_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    files: dict[str, Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]]


class F1dbRelease(msgspec.Struct, frozen=True, kw_only=True):
    """An f1db release as replay reads it: its log line's facts and its files, path (relative to the
    archive's top folder: ``src/data/drivers/lewis-hamilton.yml``) -> blob address (``Store.read``)."""

    tag: str
    published_at: datetime | None
    committed_at: datetime | None
    received_at: datetime
    run: str
    seq: int
    manifest: str  # the manifest blob's address
    files: dict[str, str]

    @property
    def released_at(self) -> datetime:
        """The release's own date: published, else committed, else received."""
        return self.published_at or self.committed_at or self.received_at


def release_order(release: Release) -> tuple[datetime, datetime, str, int]:
    """Which of two releases is newer: by the release's own date, then when it was received, run, seq.

    By release date first, so an older archive imported after a newer one never becomes "the newest"."""
    return (release.released_at, release.received_at, release.run, release.seq)
