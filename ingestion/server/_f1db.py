"""``ingest serve --f1db DIR``: GitHub's release endpoints for f1db, answered from a folder of archives.

    GET {prefix}/releases/latest          the newest tag's release JSON (tag_name, published_at, tarball_url)
    GET {prefix}/releases/tags/TAG        that tag's release JSON (404 when the folder has no such archive)
    GET {prefix}/tarball/TAG              302 to the archive's download URL (as GitHub's API does)
    GET /archive/refs/tags/TAG.tar.gz     the archive's bytes (a download: not an API request)

``prefix`` is anything (``/repos/f1db/f1db`` as on GitHub). Archives are the folder's
``f1db-YYYY.R.P.tar.gz`` (or ``vYYYY.R.P.tar.gz``) files, read again whenever the folder changes, so an
archive dropped in is served at once. Every answer has an ETag; ``If-None-Match`` with it is a 304.
``limit``: after that many API requests, every API request is GitHub's 403 with
``x-ratelimit-remaining: 0`` (0: from the first one). The answers are pure given the folder's state.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from ingestion.errors import UsageError
from ingestion.f1db.record import tag_from_name
from ingestion.instant import format_utc
from ingestion.server._answers import JSON, Answer

__all__ = ["API_PREFIX", "F1dbFolder", "ServedRelease", "answer_f1db", "is_api_path"]

#: Where GitHub keeps f1db's API, and so where ``ingest serve`` announces it (any prefix is answered).
API_PREFIX = "/repos/f1db/f1db"
GZIP = "application/gzip"
_LATEST = re.compile(r"(?P<prefix>.*)/releases/latest/?")
_TAG = re.compile(r"(?P<prefix>.*)/releases/tags/(?P<tag>[^/]+)/?")
_TARBALL = re.compile(r"(?P<prefix>.*)/tarball/(?:refs/tags/)?(?P<tag>[^/]+)/?")
_DOWNLOAD = re.compile(r".*/archive/refs/tags/(?P<tag>[^/]+)\.tar\.gz")
_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
NOT_FOUND = b'{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}'
RATE_LIMITED = (
    b'{"message":"API rate limit exceeded (ingest serve --f1db-limit). Authenticated requests get a higher '
    b'rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}'
)


class ServedRelease(msgspec.Struct, frozen=True, kw_only=True):
    tag: str
    path: Path
    published_at: datetime | None  # the commit time the archive's files carry


def _version(tag: str) -> tuple[int, ...]:
    match = _VERSION.fullmatch(tag)
    return tuple(int(part) for part in match.groups()) if match else (0,)


def _commit_time(path: Path) -> datetime | None:
    """The time ``git archive`` stamped on the archive's first entry (its commit's time): reads one block."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            member = tar.next()
            return datetime.fromtimestamp(member.mtime, UTC) if member and member.mtime > 0 else None
    except (tarfile.TarError, OSError, EOFError):
        return None


class F1dbFolder:
    """The archives of one folder, rescanned when its listing changes (thread-safe)."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"--f1db: not a folder: {folder}")
        self.folder = folder
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._releases: list[ServedRelease] = []

    def releases(self) -> list[ServedRelease]:
        """The archives the folder holds, oldest tag first (by version: vYYYY.R.P)."""
        with self._lock:
            entries = []
            for path in sorted(self.folder.iterdir()):
                if path.name.endswith((".tar.gz", ".tgz")) and path.is_file():
                    st = path.stat()
                    entries.append((path.name, st.st_size, st.st_mtime_ns))
            stamp = tuple(entries)
            if stamp != self._stamp:
                found: dict[str, ServedRelease] = {}
                for name, _, _ in entries:
                    try:
                        tag = tag_from_name(name)
                    except UsageError:
                        continue  # not named like a release: not served
                    path = self.folder / name
                    found[tag] = ServedRelease(tag=tag, path=path, published_at=_commit_time(path))
                self._releases = sorted(found.values(), key=lambda r: _version(r.tag))
                self._stamp = stamp
            return list(self._releases)

    def find(self, tag: str) -> ServedRelease | None:
        return next((r for r in self.releases() if r.tag == tag), None)


def is_api_path(path: str) -> bool:
    """Whether ``path`` is one of GitHub's API endpoints served here (counted against the limit)."""
    return any(p.fullmatch(path) for p in (_LATEST, _TAG, _TARBALL)) and _DOWNLOAD.fullmatch(path) is None


def _etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'


def _conditional(answer: Answer, if_none_match: str | None) -> Answer:
    """``answer`` with its ETag; a 304 (no body) when the client already has it."""
    etag = _etag(answer.body)
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Answer(304, b"", answer.content_type, headers={"ETag": etag})
    return Answer(answer.status, answer.body, answer.content_type, headers={**answer.headers, "ETag": etag})


def _release_json(release: ServedRelease, origin: str, prefix: str) -> bytes:
    when = None if release.published_at is None else format_utc(release.published_at)
    return msgspec.json.encode(
        {
            "url": f"{origin}{prefix}/releases/tags/{release.tag}",
            "tag_name": release.tag,
            "name": release.tag,
            "draft": False,
            "prerelease": False,
            "created_at": when,
            "published_at": when,
            "tarball_url": f"{origin}{prefix}/tarball/{release.tag}",
        }
    )


def answer_f1db(
    folder: F1dbFolder,
    path: str,
    *,
    origin: str,
    if_none_match: str | None,
    api_requests: int,
    limit: int | None,
    now: datetime,
) -> Answer | None:
    """The answer to ``GET path`` (no query) from ``folder``, or None when ``path`` is not f1db's.

    ``origin`` is ``http://host:port`` as the client asked it (the URLs in the answers use it);
    ``api_requests`` counts the API requests before this one (``limit`` of them are answered)."""
    download = _DOWNLOAD.fullmatch(path)
    if download is not None:
        release = folder.find(download.group("tag"))
        if release is None:
            return Answer(404, NOT_FOUND)
        return _conditional(Answer(200, release.path.read_bytes(), GZIP), if_none_match)
    if not is_api_path(path):
        return None
    reset = int((now + timedelta(hours=1)).timestamp())
    if limit is not None and api_requests >= limit:
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset),
        }
        return Answer(403, RATE_LIMITED, JSON, headers=headers)
    left = {} if limit is None else {"x-ratelimit-limit": str(limit)}
    if limit is not None:
        left["x-ratelimit-remaining"] = str(limit - api_requests - 1)
        left["x-ratelimit-reset"] = str(reset)
    latest, tagged, tarball = _LATEST.fullmatch(path), _TAG.fullmatch(path), _TARBALL.fullmatch(path)
    if latest is not None:
        releases = folder.releases()
        if not releases:
            return Answer(404, NOT_FOUND, JSON, headers=left)
        body = _release_json(releases[-1], origin, latest.group("prefix"))
        return _conditional(Answer(200, body, JSON, headers=left), if_none_match)
    if tagged is not None:
        release = folder.find(tagged.group("tag"))
        if release is None:
            return Answer(404, NOT_FOUND, JSON, headers=left)
        body = _release_json(release, origin, tagged.group("prefix"))
        return _conditional(Answer(200, body, JSON, headers=left), if_none_match)
    assert tarball is not None
    release = folder.find(tarball.group("tag"))
    if release is None:
        return Answer(404, NOT_FOUND, JSON, headers=left)
    location = f"{origin}/archive/refs/tags/{release.tag}.tar.gz"
    return Answer(302, b"", JSON, headers={**left, "Location": location})
