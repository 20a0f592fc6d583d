"""Replay: from the snapshot store to the racing tables, deterministic and spoiler-safe (docs/replay.md).

The pure face: decode, normalize (snapshots -> :class:`Replayed`), the table specs and their rows
(:mod:`.rows`), identity (:mod:`.identity`). The shells are their own modules: :mod:`.run` (``run_replay``,
``replay``), :mod:`.load` (``load``, ``racing_snapshot``); what a replay did and its text, :mod:`.summary`.
Importing this package loads no database driver (a test checks it).
"""

from ingestion.replay.decode import decode_rows
from ingestion.replay.decoded import Snapshot
from ingestion.replay.normalize import normalize
from ingestion.replay.rows import TABLE_NAMES, TABLES, Racing, Replayed, TableSpec

__all__ = ["TABLES", "TABLE_NAMES", "Racing", "Replayed", "Snapshot", "TableSpec", "decode_rows", "normalize"]
