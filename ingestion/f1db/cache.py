"""The decode cache: f1db files already decoded, keyed by their blob's address (the sha256 of the bytes).

One file in the store's ``cache/`` folder (git-ignored, not data): ``cache/f1db-decoded.msgpack``, a map of
blob address -> the file's Structs (msgpack), with a header naming the Structs' schema. An address names
exactly one content, so an entry is what decoding that blob gives; the cache is never consulted for
anything else. Deleting the file at any time changes nothing but the time of the next replay; a cache
written for other Structs (another version of the code), unreadable or damaged is ignored as a whole, an
entry that does not decode is decoded again from its blob. A store that cannot be written keeps no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import msgspec

from ingestion.f1db.decode import (
    Circuit,
    Classified,
    Constructor,
    Country,
    Decoded,
    Driver,
    GrandPrix,
    Race,
    SeasonEntrant,
    file_kind,
)
from ingestion.store._files import write_atomic

__all__ = ["CACHE_FILE", "DecodeCache"]

#: Where the cache lives, relative to the store's root.
CACHE_FILE = "cache/f1db-decoded.msgpack"

_TYPES: dict[str, object] = {
    "race": Race,
    "entrants": list[SeasonEntrant],
    "drivers": Driver,
    "constructors": Constructor,
    "circuits": Circuit,
    "grands-prix": GrandPrix,
    "countries": Country,
}
_ROWS = list[Classified]

#: The Structs' schema: a cache written for other Structs is not read.
SCHEMA = hashlib.sha256(
    msgspec.json.encode(msgspec.json.schema_components([*_TYPES.values(), _ROWS])[1])
).hexdigest()[:16]


class _File(msgspec.Struct):
    schema: str
    entries: dict[str, msgspec.Raw]


_DECODERS = {kind: msgspec.msgpack.Decoder(t) for kind, t in _TYPES.items()}
_ROW_DECODER = msgspec.msgpack.Decoder(_ROWS)
_ENCODER = msgspec.msgpack.Encoder()


class DecodeCache:
    """The cache of one store (see the module doc): :meth:`get` and :meth:`put` by blob address, then
    :meth:`save` (atomic; only when something was added)."""

    def __init__(self, root: Path) -> None:
        self.path = root / CACHE_FILE
        self.entries: dict[str, msgspec.Raw | bytes] = {}
        self.added = 0
        try:
            loaded = msgspec.msgpack.decode(self.path.read_bytes(), type=_File)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return
        if loaded.schema == SCHEMA:
            self.entries = dict(loaded.entries)

    def get(self, address: str, path: str) -> Decoded | None:
        """The decoded file at ``path`` (below ``src/data/``) whose blob is ``address``, or None."""
        raw = self.entries.get(address)
        kind = file_kind(path)
        if raw is None or kind is None:
            return None
        decoder = _DECODERS.get(kind, _ROW_DECODER)
        try:
            value: Decoded = decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            del self.entries[address]
            return None
        return value

    def put(self, address: str, value: Decoded) -> None:
        self.entries[address] = _ENCODER.encode(value)
        self.added += 1

    def keep_only(self, addresses: set[str]) -> None:
        """Forget the entries of blobs the current release does not use (the file stays one release big)."""
        for address in [a for a in self.entries if a not in addresses]:
            del self.entries[address]
            self.added += 1

    def save(self) -> None:
        """Write the cache atomically when it changed; any failure keeps no cache (never an error)."""
        if not self.added:
            return
        body = _ENCODER.encode(
            {
                "schema": SCHEMA,
                "entries": {
                    a: v if isinstance(v, msgspec.Raw) else msgspec.Raw(v)
                    for a, v in sorted(self.entries.items())
                },
            }
        )
        with contextlib.suppress(OSError):  # a store that cannot be written keeps no cache
            write_atomic(self.path, body, tmp_dir=self.path.parent, prefix=f".{self.path.name}.", sync=False)
        self.added = 0
