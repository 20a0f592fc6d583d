"""What ``ingest snapshots ...`` does, as library functions: ls, show, fsck, gc, import_file, stats.

Each takes a :class:`Store` and returns Structs (or text, for ``show``); the CLI only prints them.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import msgspec
import zstandard

from ingestion.errors import UsageError
from ingestion.instant import parse_instant as parse_time
from ingestion.openf1.body import body_kind
from ingestion.store._disk import Store, write_durably
from ingestion.store._log import aware_utc, checked_line, parse_log
from ingestion.store._seal import SEAL_FILE, encode_seal, line_hash, rebuild_line
from ingestion.store.address import is_address
from ingestion.store.check import rows_mismatch
from ingestion.store.coverage import Unit, covering, units_of
from ingestion.store.errors import (
    BlobCorrupt,
    BlobMismatch,
    BlobMissing,
    ImportRejected,
    LogIncomplete,
    ManifestUnreadable,
    NotFound,
    StoreError,
)
from ingestion.store.model import Event, Release, Request, release_order

__all__ = [
    "FileChanges",
    "GcReport",
    "LsRow",
    "Problem",
    "ProblemKind",
    "ReleaseRow",
    "SealReport",
    "SetAside",
    "SnapshotDiff",
    "Stats",
    "fsck",
    "gc",
    "import_file",
    "ls",
    "ls_releases",
    "parse_time",
    "repair",
    "seal",
    "show",
    "snapshot_diff",
    "stats",
    "suspicious_orphans",
]

ProblemKind = Literal[
    "corrupt-blob",
    "missing-blob",
    "size-mismatch",
    "wrong-rows",
    "stray-file",
    "unparsable-line",
    "torn-line",
    "damaged-line",
    "damaged-seal",
    "unreferenced-blobs",
    "bad-manifest",
]


class LsRow(msgspec.Struct, frozen=True, kw_only=True):
    """One request and its latest answer."""

    key: str
    endpoint: str
    status: int
    received_at: datetime
    size: int
    address: str
    run: str
    #: what the request covers: "meeting_key 1229", "meeting_key x25 (1228..1252)", "year 2024"
    covers: str = ""
    #: of those units, how many this answer is still the latest for (0: superseded by later answers)
    latest_for: int = 0
    units: int = 1


def covers_text(units: tuple[Unit, ...]) -> str:
    """``meeting_key 1229``; ``meeting_key x25 (1228..1252)``; the query for a unit of its own."""
    if not units:
        return ""
    first = units[0]
    if not first.field:
        return first.value or "(everything)"
    if len(units) == 1:
        return f"{first.field} {first.value}"
    return f"{first.field} x{len(units)} ({first.value}..{units[-1].value})"


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing fsck found wrong, with the file it is in."""

    kind: ProblemKind
    path: Path
    detail: str

    @property
    def message(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


class SetAside(msgspec.Struct, frozen=True, kw_only=True):
    """The lines of one log file that ``fsck --repair`` rebuilt or moved out of the log, and where their
    damaged bytes went."""

    log: Path
    lines: list[int]  # 1-based line numbers in the file as it was
    kinds: list[str]
    to: Path  # the file in quarantine/ holding their bytes, exactly as they were
    #: of ``lines``, those rebuilt in place (a single damaged byte undone: the line's checksum or sealed hash
    #: matches again and its blob answers it); the others were set aside
    rebuilt: list[int] = []


class SealReport(msgspec.Struct, frozen=True, kw_only=True):
    """What ``snapshots seal`` did: the log files it sealed now (name: lines), and the seal file."""

    sealed: dict[str, int]
    path: Path


class GcReport(msgspec.Struct, frozen=True, kw_only=True):
    dry_run: bool
    blobs_removed: int  # unreferenced blobs removed (or that would be, with dry_run)
    tmp_removed: int  # stale temporary files removed
    bytes_freed: int  # bytes on disk of both


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    blobs: int
    events: int
    requests: int
    raw_bytes: int  # uncompressed bodies, each stored blob once
    stored_bytes: int  # blob files on disk
    ratio: float  # raw_bytes / stored_bytes (0 for an empty store)
    releases: int = 0  # f1db releases recorded (their files are blobs too)


class ReleaseRow(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded release (f1db), for ``snapshots ls``: in force as of the time asked or not."""

    source: str
    tag: str
    released_at: datetime
    received_at: datetime
    files: int
    manifest: str
    run: str
    url: str
    in_force: bool  # the release replay reads as of the time asked


class FileChanges(msgspec.Struct, frozen=True, kw_only=True):
    """The files of one release that differ from the release in force before it (paths sorted)."""

    source: str
    before: str | None  # the tag in force before (None: none)
    after: str
    received_at: datetime
    added: list[str]
    removed: list[str]
    changed: list[str]


class SnapshotDiff(msgspec.Struct, frozen=True, kw_only=True):
    """What the store learnt between two instants: per f1db release that came into force, its changed
    files; and the OpenF1 requests whose latest answer changed (by key)."""

    before: datetime
    after: datetime
    releases: list[FileChanges]
    requests: list[str]


def _cutoff(as_of: datetime | None) -> datetime | None:
    return None if as_of is None else aware_utc(as_of, "as_of")


def ls(store: Store, *, endpoint: str | None = None, as_of: datetime | None = None) -> list[LsRow]:
    """Every request (of ``endpoint`` if given) with its latest event at or before ``as_of``, by key, with
    what it covers and for how many of those (endpoint, meeting or year) units it is still the latest answer
    (replay reads by coverage: a later batch or per-meeting answer supersedes it there)."""
    wanted = endpoint.strip("/").rsplit("/", 1)[-1] if endpoint else None
    latest = store.latest(_cutoff(as_of))
    wins: dict[str, int] = {}
    for event in covering(latest.values()).values():
        wins[event.key] = wins.get(event.key, 0) + 1
    rows = []
    for key, event in sorted(latest.items()):
        if wanted is not None and event.endpoint != wanted:
            continue
        units = units_of(event.endpoint, event.query)
        rows.append(
            LsRow(
                key=key,
                endpoint=event.endpoint,
                status=event.status,
                received_at=event.received_at,
                size=event.size,
                address=event.address,
                run=event.run,
                covers=covers_text(units),
                latest_for=wins.get(key, 0),
                units=len(units),
            )
        )
    return rows


def ls_releases(store: Store, *, as_of: datetime | None = None) -> list[ReleaseRow]:
    """Every f1db release received at or before ``as_of``, oldest first by release date; the one replay
    reads as of ``as_of`` is marked ``in_force``."""
    known = store.releases("f1db", as_of=as_of)
    current = max(known, key=release_order) if known else None
    return [
        ReleaseRow(
            source=r.source,
            tag=r.tag,
            released_at=r.released_at,
            received_at=r.received_at,
            files=r.files,
            manifest=r.manifest,
            run=r.run,
            url=r.url,
            in_force=r is current,
        )
        for r in sorted(known, key=release_order)
    ]


def snapshot_diff(store: Store, before: datetime, after: datetime) -> SnapshotDiff:
    """Between ``before`` and ``after``: each f1db release that came into force (in the order received),
    with the files added, removed and changed against the release in force before it; and the OpenF1
    request keys whose latest answer is another body at ``after`` than at ``before``."""
    t1, t2 = aware_utc(before, "--from"), aware_utc(after, "--to")
    if t2 < t1:
        raise UsageError("--to is before --from")
    changes: list[FileChanges] = []
    previous = store.f1db_release(t1)
    for line in store.releases("f1db"):
        if not t1 < line.received_at <= t2:
            continue
        current = store.f1db_release(line.received_at)
        if current is None or (previous is not None and current.manifest == previous.manifest):
            continue
        old = previous.files if previous is not None else {}
        new = current.files
        changes.append(
            FileChanges(
                source="f1db",
                before=previous.tag if previous is not None else None,
                after=current.tag,
                received_at=line.received_at,
                added=sorted(set(new) - set(old)),
                removed=sorted(set(old) - set(new)),
                changed=sorted(p for p in set(new) & set(old) if new[p] != old[p]),
            )
        )
        previous = current
    first, last = store.latest(t1), store.latest(t2)
    requests = sorted(k for k, e in last.items() if k not in first or first[k].address != e.address)
    return SnapshotDiff(before=t1, after=t2, releases=changes, requests=requests)


def _pretty(body: bytes) -> str:
    try:
        return msgspec.json.format(body, indent=2).decode("utf-8")
    except (msgspec.DecodeError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")


def show(store: Store, target: str, *, as_of: datetime | None = None) -> str:
    """The body of ``target``, pretty-printed: a blob address, a request (key or URL) at ``as_of``, or an
    f1db release: ``f1db`` (the one in force), ``f1db:TAG`` (its manifest) or ``f1db:TAG:PATH`` (a file)."""
    if target == "f1db" or target.startswith("f1db:"):
        return _show_release(store, target, as_of)
    if is_address(target):
        if not store.has(target):
            raise NotFound(f"blob {target}")
        return _pretty(store.read(target))
    try:
        request = Request.from_url(target)
    except ValueError as error:
        raise UsageError(f"not a request or blob address: {target!r} ({error})") from None
    event = store.latest(_cutoff(as_of)).get(request.key)
    if event is None:
        when = "" if as_of is None else f" as of {as_of.isoformat()}"
        raise NotFound(f"request {request.key}{when}")
    return _pretty(store.read(event.address))


class ReleaseBlobs(msgspec.Struct, frozen=True, kw_only=True):
    """The blobs the store's releases use (manifests and their files), and the releases whose manifest
    could not be read (with why)."""

    addresses: set[str]
    unreadable: list[tuple[Release, str]]


def release_blobs(store: Store, releases: list[Release]) -> ReleaseBlobs:
    """Every blob ``releases`` refer to: each manifest, and every file its manifest names."""
    addresses: set[str] = set()
    unreadable: list[tuple[Release, str]] = []
    for release in releases:
        addresses.add(release.manifest)
        try:
            manifest = store.manifest(release)
        except (BlobMissing, BlobCorrupt, BlobMismatch) as error:
            unreadable.append((release, str(error)))
            continue
        addresses.update(manifest.files.values())
    return ReleaseBlobs(addresses=addresses, unreadable=unreadable)


def _empty_logs(store: Store) -> int:
    """Log files with no line at all: a run killed before its first line (a release's run writes every
    file of the release before its one line)."""
    return sum(1 for path in store.log_files() if path.stat().st_size == 0)


def _show_release(store: Store, target: str, as_of: datetime | None) -> str:
    _, _, rest = target.partition(":")
    tag, _, path = rest.partition(":")
    known = store.releases("f1db", as_of=as_of)
    if tag:
        known = [r for r in known if r.tag == tag]
    if not known:
        raise NotFound(f"f1db release {tag}" if tag else "f1db release (none recorded)")
    line = max(known, key=release_order)
    if not path:
        return _pretty(store.read(line.manifest))
    address = store.manifest(line).files.get(path)
    if address is None:
        raise NotFound(f"{path} in f1db {line.tag}")
    return store.read(address).decode("utf-8", "replace")


def suspicious_orphans(
    store: Store, events: list[Event], issues: int, releases: ReleaseBlobs | None = None
) -> str | None:
    """Why the blobs no event refers to look like answers whose events were lost, or None.

    A writer opens its run's log file before it stores its first blob and appends each event right after
    its blob, so a run killed at any instant leaves at most one blob without an event, next to its own log
    file. More orphans than log files, orphans with no log at all, or orphans while a log line is torn or
    damaged mean the log is truncated or missing: gc must not delete them (see :func:`gc`). A release's
    run writes all its files before its one line: a run killed then leaves any number of orphans beside
    its empty log file, so an empty log file lifts the count (not the other checks).
    """
    referenced = {event.address for event in events}
    if releases is not None:
        referenced |= releases.addresses
    orphans = [a for a in store.addresses() if a not in referenced]
    if not orphans:
        return None
    files = len(store.log_files())
    if files == 0:
        why = "there is no log file at all"
    elif issues:
        why = f"{issues} log line(s) are torn, damaged or unparsable"
    elif len(orphans) > files and not _empty_logs(store):
        why = f"a killed run leaves at most one per log file, and there are {files} log file(s)"
    else:
        return None
    return f"{len(orphans)} blob(s) no event refers to while {why}"


def fsck(store: Store) -> list[Problem]:
    """Re-hash every blob, check each event's blob exists and answers it (size, rows of the request asked),
    that every log line parses and passes its checksum, and that no blobs lie unreferenced while the log
    looks truncated or missing.

    Returns the problems (empty when all is well). A few unreferenced blobs (one per killed run) and files in
    ``tmp/`` are not problems: gc removes them.
    """
    problems: list[Problem] = [
        Problem(
            kind=issue.problem.kind,
            path=issue.path,
            detail=f"line {issue.problem.line}: {issue.problem.detail}",
        )
        for issue in store.log_issues()
    ]
    events = store.events(strict=False)
    sizes: dict[str, int] = {}
    for path, address in store.blob_files():
        if address is None:
            problems.append(Problem(kind="stray-file", path=path, detail="not named by a blob address"))
            continue
        try:
            sizes[address] = len(store.read(address))
        except BlobCorrupt as error:
            detail = f"expected sha256 {error.expected}, got {error.got}"
            problems.append(Problem(kind="corrupt-blob", path=path, detail=detail))
    reported: set[str] = set()
    for event in events:
        where = f"event {event.run}#{event.seq} ({event.key})"
        if event.address in sizes:
            if sizes[event.address] != event.size:
                problems.append(
                    Problem(
                        kind="size-mismatch",
                        path=store.blob_path(event.address),
                        detail=f"{where} says {event.size} bytes, the blob has {sizes[event.address]}",
                    )
                )
                continue
            wrong = rows_mismatch(event, store.read(event.address))
            if wrong is not None:
                problems.append(
                    Problem(
                        kind="wrong-rows", path=store.blob_path(event.address), detail=f"{where}: {wrong}"
                    )
                )
        elif event.address not in reported and not store.has(event.address):
            reported.add(event.address)
            missing = store.blob_path(event.address)
            problems.append(Problem(kind="missing-blob", path=missing, detail=f"{where} refers to it"))
    used = release_blobs(store, store.releases(strict=False))
    problems.extend(_release_problems(store, sizes, used, reported))
    orphans = suspicious_orphans(store, events, len(store.log_issues()), used)
    if orphans is not None:
        problems.append(Problem(kind="unreferenced-blobs", path=store.objects_dir, detail=orphans))
    return problems


def _release_problems(
    store: Store, sizes: dict[str, int], used: ReleaseBlobs, reported: set[str]
) -> list[Problem]:
    """A release's manifest missing, or not the manifest its line records; a file it names missing (a
    corrupt blob is reported once, by the blob check)."""
    problems: list[Problem] = []
    for release, why in used.unreadable:
        where = f"release {release.source} {release.tag} (event {release.run}#{release.seq})"
        path = store.blob_path(release.manifest)
        if release.manifest in sizes:
            problems.append(Problem(kind="bad-manifest", path=path, detail=f"{where}: {why}"))
        elif release.manifest not in reported and not store.has(release.manifest):
            reported.add(release.manifest)
            problems.append(Problem(kind="missing-blob", path=path, detail=f"{where}'s manifest"))
    for release in store.releases(strict=False):
        if any(r is release for r, _ in used.unreadable):
            continue
        for name, address in sorted(store.manifest(release).files.items()):
            if address not in sizes and address not in reported and not store.has(address):
                reported.add(address)
                where = f"release {release.source} {release.tag} (event {release.run}#{release.seq})"
                detail = f"{where} file {name}"
                problems.append(Problem(kind="missing-blob", path=store.blob_path(address), detail=detail))
    return problems


def _rebuilt(store: Store, raw: bytes, sealed: str | None) -> bytes | None:
    """The damaged line ``raw`` with its one damaged byte undone, or None: the line's sealed hash
    (``sealed``) or its checksum must match again, and the rebuilt event's blob must answer it."""
    def good(candidate: bytes) -> bool:
        return line_hash(candidate) == sealed if sealed is not None else checked_line(candidate)

    line = rebuild_line(raw, good)
    if line is None:
        return None
    parsed = parse_log(line + b"\n", seal=None if sealed is None else [sealed])
    if len(parsed.events) != 1:
        return None
    try:
        store.read_event(parsed.events[0])
    except StoreError:
        return None
    return line


def repair(store: Store, *, timeout: float | None = None) -> list[SetAside]:
    """Rebuild or set aside every torn, damaged or unparsable log line, holding the writer lock.

    A damaged line whose one damaged byte can be undone (its checksum, or its hash in the seal, matches again
    and the event's blob answers it) is rebuilt in place. Any other such line's bytes go, exactly as they
    were, to ``quarantine/<log file>.<UTC time>`` and the log file is replaced (atomically) by its other
    lines, byte for byte: no complete event is ever lost. The damaged bytes of rebuilt lines go to
    quarantine too (the record). A sealed file's seal entries follow its lines (the old seal is kept in
    quarantine). After it, fsck no longer reports those lines; blobs only they referred to are left for the
    next fetch (the requests are asked again) and gc. A damaged seal is not repaired (restore it).
    """
    if not store.log_dir.is_dir():
        return []
    done: list[SetAside] = []
    with store.locked("fsck --repair", timeout):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        seal = store.seal()
        seals = dict(seal.files) if seal.problem is None else {}
        for path in store.log_files():
            data = path.read_bytes()
            hashes = seals.get(path.name)
            parsed = parse_log(data, seal=hashes)
            short = hashes is not None and parsed.lines < len(hashes)
            if not parsed.problems and not short:
                continue
            kept = bytearray()
            removed = bytearray()
            rebuilt: list[int] = []
            dropped: set[int] = set()
            position = 0
            for problem in sorted(parsed.problems, key=lambda p: p.offset):
                newline = data.find(b"\n", problem.offset)
                end = len(data) if newline < 0 else newline + 1
                kept += data[position : problem.offset]
                removed += data[problem.offset : end]
                position = end
                index = problem.line - 1
                sealed = hashes[index] if hashes is not None and index < len(hashes) else None
                line = None
                if problem.kind == "damaged-line" and newline >= 0:
                    line = _rebuilt(store, data[problem.offset : newline], sealed)
                if line is not None:
                    kept += line + b"\n"
                    rebuilt.append(problem.line)
                else:
                    dropped.add(index)
            kept += data[position:]
            target = store.root / "quarantine" / f"{path.name}.{stamp}"
            if removed:
                write_durably(target, bytes(removed))
            write_durably(path, bytes(kept))
            if hashes is not None:
                seals[path.name] = [h for i, h in enumerate(hashes[: parsed.lines]) if i not in dropped]
            done.append(
                SetAside(
                    log=path,
                    lines=[p.line for p in parsed.problems],
                    kinds=[p.kind for p in parsed.problems],
                    to=target,
                    rebuilt=rebuilt,
                )
            )
        present = {path.name for path in store.log_files()}
        for name in [name for name in seals if name not in present]:  # a sealed file gone: its lines are lost
            del seals[name]
        if seal.problem is None and seals != seal.files:
            write_durably(store.root / "quarantine" / f"{SEAL_FILE}.{stamp}", store.seal_path.read_bytes())
            write_durably(store.seal_path, encode_seal(seals))
    return done


def seal(store: Store, *, timeout: float | None = None) -> SealReport:
    """Seal the log files from before checksums (:mod:`ingestion.store._seal`): write ``sealed.json`` with
    the hash of each of their lines, holding the writer lock. A file already sealed keeps its entry; a file
    with a problem is not sealed (repair it first); files whose lines carry checksums need no seal."""
    with store.locked("snapshots seal", timeout):
        current = store.seal()
        if current.problem is not None:
            raise UsageError(f"the seal {store.seal_path} is damaged ({current.problem}): restore it first")
        files = dict(current.files)
        added: dict[str, int] = {}
        for path in store.log_files():
            if path.name in files:
                continue
            data = path.read_bytes()
            parsed = parse_log(data)
            if parsed.checksummed or parsed.problems or not parsed.lines:
                continue
            files[path.name] = [line_hash(raw) for raw in data[: parsed.consumed].split(b"\n")[:-1]]
            added[path.name] = parsed.lines
        if added:
            write_durably(store.seal_path, encode_seal(files))
    return SealReport(sealed=added, path=store.seal_path)


def gc(store: Store, *, dry_run: bool = False, force: bool = False, timeout: float | None = None) -> GcReport:
    """Remove blobs no event refers to, and stale temporary files, holding the writer lock.

    Refuses while a log line is unparsable (:class:`LogCorrupt`), and while the orphans look like answers
    whose events were lost: the log truncated, damaged or missing (:class:`LogIncomplete`; see
    :func:`suspicious_orphans`). ``force`` removes them anyway.
    """
    if not store.root.is_dir():  # nothing to collect: do not create a store to find that out
        return GcReport(dry_run=dry_run, blobs_removed=0, tmp_removed=0, bytes_freed=0)
    with store.locked("gc", timeout):
        events = store.events() if not force else store.events(strict=False)
        used = release_blobs(store, store.releases(strict=not force))
        if not force:
            for release, why in used.unreadable:
                raise ManifestUnreadable(store.root, f"{release.source} {release.tag}", why)
            suspicious = suspicious_orphans(store, events, len(store.log_issues()), used)
            if suspicious is not None:
                raise LogIncomplete(store.root, suspicious)
        referenced = {event.address for event in events} | used.addresses
        freed = 0
        blobs = 0
        for path, address in store.blob_files():
            if address is None or address in referenced:
                continue
            blobs += 1
            freed += path.stat().st_size
            if not dry_run:
                path.unlink()
                with contextlib.suppress(OSError):  # the fan-out folder still holds blobs
                    path.parent.rmdir()
        temps = sorted(p for p in store.tmp_dir.iterdir() if p.is_file()) if store.tmp_dir.is_dir() else []
        for path in temps:
            freed += path.stat().st_size
            if not dry_run:
                path.unlink()
    return GcReport(dry_run=dry_run, blobs_removed=blobs, tmp_removed=len(temps), bytes_freed=freed)


def import_file(
    store: Store,
    path: Path,
    url: str,
    received_at: datetime,
    *,
    run: str | None = None,
    timeout: float | None = None,
) -> Event:
    """Record the body saved in ``path`` as the answer to ``url`` received at ``received_at`` (a new run).

    Read by the one body contract (:func:`ingestion.openf1.body.body_kind`): a JSON array of rows is a 200;
    ``{"detail":"No results found."}`` a 404; anything else :class:`ImportRejected`.
    """
    path = Path(path)
    try:
        request = Request.from_url(url)
    except ValueError as error:
        raise UsageError(f"--url: {error}") from None
    try:
        body = path.read_bytes()
    except OSError as error:
        raise ImportRejected(path, error.strerror or str(error)) from None
    kind, reason = body_kind(body)
    if kind == "invalid":
        raise ImportRejected(path, reason)
    status = 200 if kind == "rows" else 404
    with store.writer(run, timeout=timeout) as writer:
        return writer.put(
            request,
            body,
            url=url,
            status=status,
            received_at=aware_utc(received_at, "received_at"),
            content_type="application/json",
        )


def stats(store: Store) -> Stats:
    """Counts and sizes: blobs, events, distinct requests, raw and stored bytes, compression ratio."""
    events = store.events(strict=False)
    blobs = 0
    raw = 0
    stored = 0
    for path, address in store.blob_files():
        if address is None:
            continue
        blobs += 1
        stored += path.stat().st_size
        with path.open("rb") as f:
            header = f.read(18)
        try:
            size = zstandard.frame_content_size(header)
        except zstandard.ZstdError:
            size = -1
        if size < 0:  # no content size in the frame header: decompress (a corrupt blob counts 0; see fsck)
            try:
                size = len(zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes()))
            except zstandard.ZstdError:
                size = 0
        raw += size
    return Stats(
        blobs=blobs,
        events=len(events),
        requests=len({event.key for event in events}),
        raw_bytes=raw,
        stored_bytes=stored,
        ratio=raw / stored if stored else 0.0,
        releases=len(store.releases(strict=False)),
    )
