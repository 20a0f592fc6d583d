"""Comparing replays whose rows came from different answers of the same facts.

An OpenF1 result's provenance names the answer it came from (``source_version``: the stored body's address;
``source_path``: its request, docs/f1db.md "Provenance"). A batch and the per-meeting answers holding the
same rows, or an older copy of an answer, are different answers: the rows' classification must be the same,
their provenance cannot be. These helpers blank the two answer-naming columns, and only those (``source``
stays), so the tests that compare such replays keep comparing every other column.
"""

from __future__ import annotations

import msgspec

from ingestion.replay.rows import TABLES, Racing

__all__ = ["ANSWER_COLUMNS", "answer_blind", "answer_blind_tables"]

#: The result columns that name the answer a row came from.
ANSWER_COLUMNS = ("source_version", "source_path")


def answer_blind(racing: Racing) -> Racing:
    """``racing`` with every result's ``source_version`` and ``source_path`` blanked."""
    blank = dict.fromkeys(ANSWER_COLUMNS)
    results = tuple(msgspec.structs.replace(r, **blank) for r in racing.results)
    return msgspec.structs.replace(racing, results=results)


def answer_blind_tables(tables: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
    """A database's rows (:func:`ingestion.replay.load.racing_snapshot`) with the results' answer columns
    blanked."""
    spec = next(s for s in TABLES if s.name == "results")
    at = [spec.columns.index(c) for c in ANSWER_COLUMNS]
    results = [tuple(None if i in at else v for i, v in enumerate(row)) for row in tables["results"]]
    return {**tables, "results": results}
