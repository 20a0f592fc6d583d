"""What the server serves: rows per endpoint, read from ``ENDPOINT.json`` files or from a snapshot store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import msgspec

from ingestion.errors import IngestionError, UsageError
from ingestion.server._query import Row
from ingestion.store import Store, event_order

__all__ = ["Dataset", "SourceError", "load_rows", "load_store"]

_ROWS = msgspec.json.Decoder(list[dict[str, object]])
_ANY = msgspec.json.Decoder()


class SourceError(UsageError):
    """A --rows directory or file, or a --store, cannot be served (exit 2)."""


class StoreBodyError(IngestionError):
    """A body in the store is not JSON: the store needs `ingest snapshots fsck`."""


class Dataset(msgspec.Struct, frozen=True):
    """Rows per endpoint, in the order they were read. Endpoint names are lower case."""

    tables: dict[str, list[Row]] = msgspec.field(default_factory=dict)

    @property
    def endpoints(self) -> list[str]:
        return sorted(self.tables)

    def rows(self, endpoint: str) -> list[Row] | None:
        """The rows of ``endpoint``, or None for an endpoint this dataset does not know."""
        return self.tables.get(endpoint)

    def counts(self) -> dict[str, int]:
        return {name: len(self.tables[name]) for name in self.endpoints}

    @classmethod
    def of(cls, tables: Mapping[str, Sequence[Row]]) -> Dataset:
        return cls({name.lower(): list(rows) for name, rows in tables.items()})

    def merged(self, other: Dataset) -> Dataset:
        """This dataset's rows followed, per endpoint, by ``other``'s."""
        tables = {name: list(rows) for name, rows in self.tables.items()}
        for name, rows in other.tables.items():
            tables.setdefault(name, []).extend(rows)
        return Dataset(tables)


def decode_rows(body: bytes, origin: str) -> list[Row]:
    """A JSON array of objects (``ENDPOINT.json``) as rows, keys in their order; SourceError otherwise."""
    try:
        return _ROWS.decode(body)
    except msgspec.DecodeError as error:
        raise SourceError(f"{origin}: not a JSON array of objects ({error})") from None


def load_rows(directories: Iterable[Path]) -> Dataset:
    """Rows from every ``ENDPOINT.json`` in each directory; rows of several directories are concatenated."""
    tables: dict[str, list[Row]] = {}
    for directory in directories:
        if not directory.is_dir():
            raise SourceError(f"--rows {directory}: not a directory")
        files = sorted(p for p in directory.glob("*.json") if p.is_file())
        if not files:
            raise SourceError(f"--rows {directory}: no ENDPOINT.json files in it")
        for path in files:
            tables.setdefault(path.stem.lower(), []).extend(decode_rows(path.read_bytes(), str(path)))
    return Dataset(tables)


def load_store(root: Path, as_of: datetime | None = None) -> Dataset:
    """For each endpoint, the rows of the latest snapshot (as of ``as_of``, default: now) of every
    request in the store at ``root``.

    Requests overlap (a season's drivers, then one session's drivers): a row met in several answers, with
    the same fields and values whatever their order, is served once (as many times as the one answer that
    holds it most often: OpenF1's own exact duplicates are kept). Answers other than 200 contribute nothing
    (a 404 "No results found." means no rows); a 200 body that is not an array contributes nothing either.
    """
    if not root.is_dir():
        raise SourceError(f"--store {root}: not a directory")
    store = Store(root)
    events = sorted(store.latest(as_of).values(), key=event_order)
    tables: dict[str, list[Row]] = {}
    seen: dict[str, Counter[bytes]] = {}
    for event in events:
        if event.status != 200:
            continue
        body = store.read(event.address)
        try:
            value = _ANY.decode(body)
        except msgspec.DecodeError as error:
            raise StoreBodyError(
                f"store {root}: body {event.address} of {event.key} is not JSON ({error})"
            ) from None
        if not isinstance(value, list):
            continue
        endpoint = event.endpoint.lower()
        rows = tables.setdefault(endpoint, [])
        served = seen.setdefault(endpoint, Counter())
        here: Counter[bytes] = Counter()
        for row in value:
            if not isinstance(row, dict):
                continue
            identity = msgspec.json.encode(row, order="sorted")
            here[identity] += 1
            if here[identity] > served[identity]:  # duplicates within ONE answer are OpenF1's: keep them
                served[identity] += 1
                rows.append(row)
    return Dataset(tables)
