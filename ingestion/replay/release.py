"""The f1db release replay reads: which one (the store's current release as of ``as_of``), its files, and
their decoding (:mod:`ingestion.f1db.decode`, through the store's decode cache, :mod:`ingestion.f1db.cache`).

A store without any f1db release replays exactly as before: :func:`read_release` gives None.

:func:`release_part` also keeps the last merge's outcome (:class:`~ingestion.replay.f1db.F1dbPart`) in the
store's ``cache/f1db-merged.msgpack``, keyed by everything it is a function of: the release's manifest
address, the code of the modules that make it, OpenF1's rows it is matched against and corrects, the
older releases the provenance is dated against, the results flag, the identity overrides' digest
(:mod:`ingestion.replay.matching`), and which session starts ``as_of`` has passed. An unchanged replay then
reads one file instead of decoding and merging the release; the file is deletable at any time and never
trusted for other inputs. The key comes first in the file, so a replay with other inputs reads only that
line of it.

A merge that cannot use that memo (a new release, other OpenF1 rows) still reuses the last merge's results
session by session: ``cache/f1db-results.msgpack`` keeps each session's results under the key
:func:`~ingestion.replay.f1db.f1db_part` gives them (their files' blob addresses, entrants, provenance),
with each row's index entry (:func:`ingestion.replay.delta.entry`), so that the load need not hash those
rows again (:class:`Merged`). Its first line names the code that made it; deletable at any time too.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import msgspec

from ingestion.f1db import cache as decode_cache
from ingestion.f1db import decode as f1db_decode
from ingestion.f1db import yaml as f1db_yaml
from ingestion.f1db.archive import DATA_PREFIX
from ingestion.f1db.cache import DecodeCache
from ingestion.f1db.decode import Decoded, decode_file, wanted
from ingestion.replay import delta, identity, matching, placing, precedence, rows, values
from ingestion.replay import f1db as f1db_merge
from ingestion.replay.f1db import SESSION_FILES, F1dbPart, OpenF1Links, f1db_part
from ingestion.replay.matching import Overrides
from ingestion.replay.rows import Racing
from ingestion.store import F1dbRelease, Release, Store, write_atomic

__all__ = [
    "DecodedRelease", "ReleaseInput", "decode_input", "decode_release", "read_release", "release_input",
    "release_part", "unchanged_since",
]

#: Where the last merge's outcome is kept, relative to the store's root.
MEMO_FILE = "cache/f1db-merged.msgpack"
#: Where the last merge's results are kept per session (``F1dbPart.session_results``),
#: with each row's index entry (:func:`ingestion.replay.delta.entry`), relative to the store's root.
RESULTS_FILE = "cache/f1db-results.msgpack"

#: The code the merge's outcome is a function of: another version of it never reads an older memo.
_CODE = hashlib.sha256(
    b"".join(
        Path(str(m.__file__)).read_bytes()
        for m in (
            f1db_merge, matching, placing, precedence, f1db_decode, f1db_yaml, decode_cache, identity, rows,
            values, delta,
        )
    )
).hexdigest()


class _Memo(msgspec.Struct):
    bucket: int
    part: F1dbPart


class _Session(msgspec.Struct, array_like=True):
    """A session's results as a merge made them, and each row's index entry."""

    rows: tuple[rows.ResultRow, ...]
    entries: tuple[bytes, ...]


#: The results file's first line: the code and the index entries' form it was made by. A file of other
#: code is never read past it.
_RESULTS_HEADER = f"{_CODE}:{delta.FORM}\n".encode()


#: The memo file: its key (64 hex digits) and a newline, then the :class:`_Memo` (msgpack): a replay whose key
#: differs reads 65 bytes of it, never the ~40 MB of rows.
_KEY_BYTES = 65


class ReleaseInput(NamedTuple):
    """One f1db release given as bytes (tests, benches): its tag and the files replay needs (path below
    ``src/data/`` -> bytes)."""

    tag: str
    files: dict[str, bytes]


class DecodedRelease(NamedTuple):
    """One f1db release as replay reads it: its tag and its needed files decoded (path below
    ``src/data/`` -> Structs)."""

    tag: str
    files: dict[str, Decoded]


def release_input(tag: str, data: Mapping[str, bytes]) -> ReleaseInput:
    """The files replay needs among ``data`` (paths below ``src/data/``, e.g. ``ReleaseFiles.data()``)."""
    return ReleaseInput(tag, {path: body for path, body in data.items() if wanted(path)})


def decode_release(files: Mapping[str, bytes]) -> dict[str, Decoded]:
    """Every file decoded (:func:`~ingestion.f1db.decode.decode_file`); a damaged one stops with one line
    naming the file and the row (:class:`~ingestion.f1db.yaml.YamlSubsetError`). Pure."""
    return {path: decode_file(path, body) for path, body in files.items()}


def decode_input(release: ReleaseInput) -> DecodedRelease:
    return DecodedRelease(release.tag, decode_release(release.files))


def read_release(
    store: Store, as_of: datetime, release: F1dbRelease | None = None
) -> DecodedRelease | None:
    """The store's current f1db release as of ``as_of`` (``Store.f1db_release``, or ``release``; None when
    it holds none), its needed files decoded: from the decode cache when it has the blob's address, else
    read through ``Store.read`` (hash verified), decoded, and cached."""
    release = release or store.f1db_release(as_of)
    if release is None:
        return None
    cache = DecodeCache(store.root)
    files: dict[str, Decoded] = {}
    used: set[str] = set()
    for path, address in sorted(release.files.items()):
        if not path.startswith(DATA_PREFIX) or not wanted(path[len(DATA_PREFIX) :]):
            continue
        name = path[len(DATA_PREFIX) :]
        used.add(address)
        value = cache.get(address, name)
        if value is None:
            value = decode_file(name, store.read(address))
            cache.put(address, value)
        files[name] = value
    cache.keep_only(used)
    cache.save()
    return DecodedRelease(release.tag, files)


def _older(store: Store, release: F1dbRelease, as_of: datetime) -> list[Release]:
    """The store's f1db releases received by ``as_of`` that are older than ``release``, newest first (their
    log lines: no manifest read)."""
    def order(r: Release | F1dbRelease) -> tuple[datetime, datetime, str, int]:
        return (r.released_at, r.received_at, r.run, r.seq)

    return sorted(
        (r for r in store.releases("f1db", as_of=as_of) if order(r) < order(release)), key=order, reverse=True
    )


def unchanged_since(
    current: Mapping[str, str], older: Sequence[tuple[str, Mapping[str, str]]]
) -> dict[str, str]:
    """For each classification file of the release in force (``current``: path -> address) that older
    releases held exactly as it is (``older``: (tag, path -> address), newest first), the tag of the oldest
    of them from which it never changed: what a result's provenance names (a new release that changes 31
    files changes the provenance of those files' rows only). Pure."""
    alive = {p for p in current if p.rsplit("/", 1)[-1] in SESSION_FILES}
    since: dict[str, str] = {}
    for tag, files in older:
        alive = {p for p in alive if files.get(p) == current[p]}
        if not alive:
            break
        since.update(dict.fromkeys(alive, tag))
    return since


def _memo_key(
    release: F1dbRelease,
    racing: Racing,
    links: OpenF1Links,
    results: bool,
    overrides: Overrides,
    older: Sequence[Release] = (),
) -> str:
    h = hashlib.sha256(
        f"{_CODE}\n{release.tag}\n{release.manifest}\n{results}\n{overrides.digest}\n".encode()
    )
    # the older releases the provenance is dated against (unchanged_since)
    h.update("".join(f"{r.tag}\n{r.manifest}\n" for r in older).encode())
    # every table the merge reads: the corrections and placings read OpenF1's sessions, entrants and results
    for table in (
        racing.series, racing.circuits, racing.rounds, racing.sessions, racing.drivers, racing.teams,
        racing.entrants, racing.results,
    ):
        h.update(msgspec.msgpack.encode(table))
    # canonical: sorted, never a set's order (dates hash differently in every process)
    rounds = sorted((str(r), year, sorted(days)) for r, (year, days) in links.rounds.items())
    cars = sorted(
        (str(r), sorted((k, str(d), str(t)) for k, (d, t) in c.items())) for r, c in links.cars.items()
    )
    identities = sorted((str(d), i) for d, i in links.identities.items())
    h.update(msgspec.msgpack.encode([rounds, cars, identities]))
    return h.hexdigest()


def release_part(
    store: Store,
    release: F1dbRelease,
    racing: Racing,
    links: OpenF1Links,
    as_of: datetime,
    *,
    results: bool,
    overrides: Overrides,
    keep: Callable[[Callable[[], None]], object] | None = None,
) -> Merged:
    """What ``release`` adds to OpenF1's ``racing`` (:func:`~ingestion.replay.f1db.f1db_part`, the identity
    ``overrides`` applied): from the memo when it was made from the same inputs (see the module doc; the
    overrides by their digest), else decoded and merged (each session's results taken from the last merge's
    when their key is the same) and memoized. ``keep`` runs the writes of the memo and of the sessions'
    results (~45 MB each to encode and write; default: at once): a replay hands them to a worker, so that
    they overlap the load."""
    path = store.root / MEMO_FILE
    older = _older(store, release, as_of)
    key = _memo_key(release, racing, links, results, overrides, older)
    with contextlib.suppress(OSError, msgspec.DecodeError, msgspec.ValidationError), path.open("rb") as f:
        if f.read(_KEY_BYTES) == f"{key}\n".encode():
            memo = msgspec.msgpack.decode(f.read(), type=_Memo)
            if memo.part.bucket(as_of) == memo.bucket:
                return Merged(memo.part, {})
    files: dict[str, Decoded] = {}
    decoded = read_release(store, as_of, release)
    if decoded is not None:
        files = decoded.files
    since = unchanged_since(release.files, [(r.tag, store.manifest(r).files) for r in older])
    addresses = {p[len(DATA_PREFIX) :]: a for p, a in release.files.items() if p.startswith(DATA_PREFIX)}
    earlier = _read_results(store) if results else {}
    part = f1db_part(
        files, racing, links, as_of, results=results, release=release.tag, since=since, overrides=overrides,
        addresses=addresses, earlier={k: s.rows for k, s in earlier.items()},
    )
    sessions: dict[str, _Session] = {}
    for session, made in part.session_results.items():
        old = earlier.get(session)
        if old is not None and old.rows is made:  # reused: its entries too
            sessions[session] = old
        else:
            sessions[session] = _Session(made, tuple(map(delta.entry, made)))
    known = {
        id(row): (row, entry) for s in sessions.values() for row, entry in zip(s.rows, s.entries, strict=True)
    }
    part = msgspec.structs.replace(part, session_results={})  # kept in their own file, with their entries
    renewed = sessions.keys() != earlier.keys()

    def write() -> None:
        _write(path, f"{key}\n".encode(), _Memo(part.bucket(as_of), part))
        if renewed:  # after the memo's bytes are freed: one file's bytes in memory at a time
            _write(store.root / RESULTS_FILE, _RESULTS_HEADER, sessions)

    (keep or _now)(write)
    return Merged(part, known)


class Merged(NamedTuple):
    """What :func:`release_part` gives: f1db's part, and the index entries of its results already made
    (:data:`~ingestion.replay.delta.Known`: an earlier merge's, read with them)."""

    part: F1dbPart
    known: delta.Known


def _read_results(store: Store) -> dict[str, _Session]:
    """The last merge's results per session (:data:`RESULTS_FILE`); empty when missing, damaged or made by
    other code."""
    path = store.root / RESULTS_FILE
    with contextlib.suppress(OSError, msgspec.DecodeError, msgspec.ValidationError), path.open("rb") as f:
        if f.read(len(_RESULTS_HEADER)) == _RESULTS_HEADER:
            return msgspec.msgpack.decode(f.read(), type=dict[str, _Session])
    return {}


#: Ids as their 16 bytes: a sixth smaller than as text, and decoded faster.
_ENCODER = msgspec.msgpack.Encoder(uuid_format="bytes")


def _write(path: Path, header: bytes, value: object) -> None:
    """``header`` then ``value`` (msgpack) as the file at ``path``, atomically; a store that cannot be
    written keeps none (a derived file: never an error)."""
    body = bytearray(header)
    _ENCODER.encode_into(value, body, len(header))  # one buffer: never the encoding and a copy of it
    with contextlib.suppress(OSError):
        write_atomic(path, body, tmp_dir=path.parent, prefix=f".{path.name}.", sync=False)


def _now(job: Callable[[], None]) -> None:
    job()
