"""``ingest fetch --source f1db``: ask GitHub for f1db's latest release (or a pinned tag) and record it.

Data from f1db (CC BY 4.0). One request when nothing changed (a conditional ``GET releases/latest``
answered 304, or a tag the store holds: nothing written), two for a new release (the release, then its
archive). A pinned tag the store holds asks nothing at all (tags never change). See docs/f1db.md.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from ingestion.config import Settings
from ingestion.f1db.record import SOURCE, check_tag, known_tags, record_release
from ingestion.masking import public_url
from ingestion.store import Store
from ingestion.store._files import write_atomic

if TYPE_CHECKING:
    from ingestion.f1db.github import GithubClient

__all__ = ["ETAGS_FILE", "F1dbFetch", "etag_for", "fetch_f1db", "release_url"]

#: The ETag of each release URL's last 200, so the next fetch asks If-None-Match (a cache, not data).
ETAGS_FILE = "cache/f1db-etags.json"

Outcome = Literal["new", "unchanged", "known", "dry-run"]
_etags = msgspec.json.Decoder(dict[str, str])


class F1dbFetch(msgspec.Struct, frozen=True, kw_only=True):
    """What an f1db fetch did. ``outcome``: ``new`` (a release recorded), ``unchanged`` (304: nothing
    changed since the stored ETag), ``known`` (the tag is in the store already: nothing downloaded)."""

    source: str = SOURCE
    outcome: Outcome
    tag: str | None
    requests: int  # API requests asked (the release JSON, the archive)
    new_blobs: int = 0
    files: int = 0
    run: str | None = None
    url: str
    published_at: datetime | None = None

    @property
    def exit_code(self) -> int:
        return 0

    def render(self) -> str:
        asked = f"{self.requests} request(s)"
        if self.outcome == "new":
            return (
                f"f1db: recorded {self.tag} ({self.files} files, {self.new_blobs} new blob(s)), "
                f"run {self.run}; {asked}. Data from f1db (CC BY 4.0)"
            )
        if self.outcome == "unchanged":
            return f"f1db: the latest release is unchanged (304), nothing written; {asked}"
        if self.outcome == "dry-run":
            return f"f1db: would ask {self.url} (dry run: nothing asked)"
        return f"f1db: {self.tag} is already in the store, nothing written; {asked}"


def release_url(settings: Settings, tag: str | None) -> str:
    """``{F1DB_URL}/releases/latest``, or ``{F1DB_URL}/releases/tags/TAG`` for a pinned tag."""
    base = settings.f1db_url.rstrip("/")
    return f"{base}/releases/tags/{tag}" if tag else f"{base}/releases/latest"


def _load_etags(root: Path) -> dict[str, str]:
    try:
        return dict(_etags.decode((root / ETAGS_FILE).read_bytes()))
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return {}


def _save_etag(root: Path, url: str, etag: str | None) -> None:
    if etag is None or not root.is_dir():
        return
    etags = _load_etags(root)
    if etags.get(url) == etag:
        return
    etags[url] = etag
    with contextlib.suppress(OSError):  # only a cache: a store that cannot be written keeps none
        path = root / ETAGS_FILE
        write_atomic(
            path, msgspec.json.encode(dict(sorted(etags.items()))), tmp_dir=path.parent, prefix=".e."
        )


def etag_for(store: Store, url: str) -> str | None:
    """The ETag to send for ``url``: the last 200's (cache), else the newest release line's that came from
    it (a fresh clone has no cache); none while the store holds no release (a 304 must never stand for a
    release the store lacks)."""
    if not store.releases(SOURCE, strict=False):
        return None
    cached = _load_etags(store.root).get(url)
    if cached is not None or not url.endswith("/releases/latest"):
        return cached
    return next((r.etag for r in reversed(store.releases(SOURCE)) if r.etag is not None), None)


def fetch_f1db(
    settings: Settings,
    *,
    tag: str | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    lock_wait: float | None = None,
    client: GithubClient | None = None,
    received_at: datetime | None = None,
) -> F1dbFetch:
    """Record f1db's latest release (or ``tag``) into ``settings.snapshot_dir`` unless the store holds it.

    Raises :class:`~ingestion.f1db.github.RateLimited` (GitHub's limit used up: one line with the reset
    time), :class:`~ingestion.f1db.github.Unreachable` (any other failure: one line), the store's errors,
    and :class:`~ingestion.f1db.archive.ArchiveError` for an archive that is not one. ``now`` is only for
    messages (a rate limit's reset); the release is stamped ``received_at`` (default: the real time).
    """
    store = Store(settings.snapshot_dir)
    url = release_url(settings, check_tag(tag) if tag is not None else None)
    shown = public_url(url)
    if tag is not None and tag in known_tags(store):
        return F1dbFetch(outcome="known", tag=tag, requests=0, url=shown)
    if dry_run:
        return F1dbFetch(outcome="dry-run", tag=tag, requests=0, url=shown)
    from ingestion.f1db.github import GithubClient, read_release  # httpx only when f1db is asked

    with contextlib.ExitStack() as stack:
        github = client or stack.enter_context(GithubClient(settings.github_token, now=now))
        asked = 1
        answer = github.get(url, etag=etag_for(store, url))
        if answer.status == 304:
            return F1dbFetch(outcome="unchanged", tag=None, requests=asked, url=shown)
        release = read_release(shown, answer.body)
        if release.tag_name in known_tags(store):
            _save_etag(store.root, url, answer.etag)
            return F1dbFetch(outcome="known", tag=release.tag_name, requests=asked, url=shown)
        archive = github.get(release.tarball_url, archive=True)
        asked += 1
        recorded = record_release(
            store,
            archive.body,
            tag=release.tag_name,
            url=public_url(release.tarball_url),
            received_at=received_at or datetime.now(UTC),  # the real time (a watcher's clock: its own)
            published_at=release.published_at,
            etag=answer.etag,
            elapsed_ms=answer.elapsed_ms + archive.elapsed_ms,
            timeout=lock_wait,
        )
        _save_etag(store.root, url, answer.etag)
        return F1dbFetch(
            outcome="new" if recorded.release is not None else "known",
            tag=release.tag_name,
            requests=asked,
            new_blobs=recorded.new_blobs,
            files=recorded.files,
            run=None if recorded.release is None else recorded.release.run,
            url=shown,
            published_at=release.published_at,
        )
    raise AssertionError("unreachable")  # pragma: no cover
