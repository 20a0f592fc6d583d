"""The delta load: when the database is proven to hold exactly what the last load left, only the rows that
differ from that load's rows are staged and written (a release that changes 31 files: ~770 rows, not
138,000).

The last load's rows are kept in the store's ``cache/replay-rows.msgpack`` (:class:`RowsCache`, derived,
deletable at any time), keyed by :func:`cache_key`: the proof that load recorded (the digest of its rows and
of the database it left, :mod:`.unchanged`), the row versions it left (:func:`.unchanged.versions`: a witness
of that one database), ``results`` and the entrants layout. A load finds the file usable only when the
database's row versions now equal the ones the last run recorded (nothing wrote a racing row since) and the
key is that run's: then the database holds exactly the cached rows. A missing, damaged (its sha256 is kept
beside the key) or other key's file is never read past its first line, and the load stages every row as
always.

:func:`changed` (pure) gives the rows to stage, and only when staging them gives what staging every row
would: the same ids in every table (nothing to insert: no id could be adopted; nothing to remove), and
unique slugs (no stored row to move aside). Anything else (a new round, a row gone, a renamed id) is a full
load.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from ingestion.replay.rows import Racing, TableSpec
from ingestion.store import write_atomic

__all__ = ["ROWS_FILE", "Index", "Known", "RowsCache", "cache_key", "changed", "entry", "index"]

#: Where the last load's rows are kept, relative to the store's root.
ROWS_FILE = "cache/replay-rows.msgpack"

#: The file's first line: the key (64 hex digits), a space, the sha256 of the rest (64), a newline.
_HEADER_BYTES = 130


#: The form of an :data:`Index` entry (bumped when :func:`index` hashes rows differently): part of the key,
#: so a file another form wrote is never compared with this one's entries.
FORM = 2


def cache_key(proof: Mapping[str, str], versions: str, *, results: bool, one_entrant_per_driver: bool) -> str:
    """The key of the rows a load left: its proof, the row versions it left, ``results``, the layout and the
    index's form."""
    text = (
        f"{proof.get('rows')}\n{proof.get('database')}\n{versions}\n{results}\n{one_entrant_per_driver}\n"
        f"{FORM}\n"
    )
    return hashlib.sha256(text.encode()).hexdigest()


#: Per table, one entry per row in the rows' order (by id): its id's 16 bytes, then the blake2b of its msgpack
#: encoding (32 bytes). What the cache keeps of a load's rows (~6 MB, not the rows' ~50 MB), and what the
#: rows' digest is made of (:func:`.unchanged.input_digest`): a load indexes its rows once.
Index = dict[str, list[bytes]]

#: UUIDs as their 16 bytes (not 36 characters of text): the same rows, a quarter less to encode.
_ENCODER = msgspec.msgpack.Encoder(uuid_format="bytes")
_ENCODE, _blake2b = _ENCODER.encode, hashlib.blake2b  # looked up once, not once per row


#: Entries already made, by the ``id()`` of their row: the row itself (an ``id()`` names an object only
#: while it lives: the entry is taken only for that very object) and its :func:`entry`.
Known = Mapping[int, tuple[msgspec.Struct, bytes]]


def entry(row: msgspec.Struct) -> bytes:
    """A row's :data:`Index` entry: its id's 16 bytes, then the blake2b of its msgpack encoding. Pure.
    (``UUID.bytes`` is a property computing ``int.to_bytes(16)``: called directly, once per row.)"""
    row_id: uuid.UUID = getattr(row, "id")  # noqa: B009
    return row_id.int.to_bytes(16, "big") + _blake2b(_ENCODE(row), digest_size=32).digest()


def index(racing: Racing, specs: Sequence[TableSpec], known: Known | None = None) -> Index:
    """The :data:`Index` of ``racing``'s tables of ``specs``; a row ``known`` holds (that very object) takes
    its entry from there (an earlier merge's results: :mod:`.release`). Pure."""
    out: Index = {}
    for spec in specs:
        rows = racing.table(spec.name)
        if not known:
            out[spec.name] = list(map(entry, rows))
            continue
        entries: list[bytes] = []
        for row in rows:
            made = known.get(id(row))
            entries.append(made[1] if made is not None and made[0] is row else entry(row))
        out[spec.name] = entries
    return out


class RowsCache:
    """The last load's rows (their :data:`Index`), in the store's ``cache/`` (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.path = root / ROWS_FILE

    def _header(self) -> bytes | None:
        with contextlib.suppress(OSError), self.path.open("rb") as f:
            return f.read(_HEADER_BYTES)
        return None

    def holds(self, key: str) -> bool:
        """Whether the file is keyed ``key`` (its first line only)."""
        header = self._header()
        return header is not None and header[:64] == key.encode()

    def read(self, key: str) -> Index | None:
        """The rows kept under ``key``; None when the file is missing, of another key, or damaged."""
        damaged = (OSError, msgspec.DecodeError, msgspec.ValidationError)
        with contextlib.suppress(*damaged), self.path.open("rb") as f:
            header = f.read(_HEADER_BYTES)
            if len(header) != _HEADER_BYTES or header[:64] != key.encode():
                return None
            body = f.read()
            if hashlib.sha256(body).hexdigest().encode() != header[65:129]:
                return None
            return msgspec.msgpack.decode(body, type=Index)
        return None

    def write(self, key: str, rows: Index) -> None:
        """Keep ``rows`` under ``key`` (all or nothing; a store that cannot be written keeps none)."""
        body = msgspec.msgpack.encode(rows)
        header = f"{key} {hashlib.sha256(body).hexdigest()}\n".encode()
        with contextlib.suppress(OSError):
            write_atomic(self.path, header + body, tmp_dir=self.path.parent, prefix=f".{self.path.name}.",
                         sync=False)


def changed(old: Index, new: Index, racing: Racing, specs: Sequence[TableSpec]) -> Racing | None:
    """The rows of ``racing`` (indexed ``new``) that differ from the row of the same id that ``old`` indexes,
    per table of ``specs`` (the others empty); None unless every table of ``specs`` has the same ids in both
    and ``racing``'s slugs are unique (see the module doc). Pure."""
    out: dict[str, tuple[msgspec.Struct, ...]] = {}
    for spec in specs:
        before, after = old.get(spec.name), new[spec.name]
        if before is None or len(before) != len(after):
            return None
        rows = racing.table(spec.name)
        differ: list[msgspec.Struct] = []
        for was, now, row in zip(before, after, rows, strict=True):  # both in id order
            if was == now:
                continue
            if was[:16] != now[:16]:
                return None
            differ.append(row)
        if "slug" in spec.columns:
            slugs = {getattr(r, "slug") for r in rows}  # noqa: B009
            if len(slugs) != len(rows):
                return None
        out[spec.name] = tuple(differ)
    return msgspec.structs.replace(Racing(), **out)
