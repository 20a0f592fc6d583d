"""The app's ``"PendingMatches"`` queue (its own EF Core database only): the pairs replay cannot match with
certainty (:mod:`ingestion.replay.matching`), one row per OpenF1 candidate, for a person to look at.

As the app's importer used it: ``"EntityType"`` (Driver, Team, Circuit, Round), ``"IncomingName"`` (the
incoming source's name: f1db's name and id), ``"CandidateEntityId"`` (the existing row it may be, by the
database's own id: an adopted row's stored id), ``"MatchScore"``, and ``"Resolution"`` NULL (pending) for a
person to set. Idempotent: a row's id is a function of the pair (a second replay inserts nothing); replay
only ever INSERTs (``ON CONFLICT DO NOTHING``): a row a person resolved, or any other, is never changed
or deleted. A resolution in the queue does not change replay by itself: the committed override file does
(docs/f1db.md, "Overrides").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from ingestion.db.naming import Naming
from ingestion.replay.rows import PendingMatch

__all__ = ["QUEUE", "queue"]

Conn = psycopg.Connection[Any]

#: The app's table.
QUEUE = "PendingMatches"

#: EntityType -> the racing table its candidates are rows of (for their adopted ids).
_TABLE = {"Driver": "drivers", "Team": "teams", "Circuit": "circuits", "Round": "rounds"}


def queue(
    conn: Conn,
    naming: Naming,
    pending: Sequence[PendingMatch],
    adopted: Mapping[str, Mapping[uuid.UUID, uuid.UUID]] | None = None,
) -> int:
    """Insert the ``pending`` pairs the queue lacks (on the app's database, when it has the table); the
    number inserted. ``adopted``: per racing table, replay's id -> the stored id the load adopted."""
    if naming.kind != "ef" or not pending:
        return 0
    table = sql.Identifier(naming.schema, QUEUE)
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'{naming.schema}."{QUEUE}"',)).fetchone()
    if exists is None or not exists[0]:
        return 0
    ids = adopted or {}
    rows = [
        (
            p.id,
            p.entity_type,
            p.incoming_name,
            None if (c := p.candidate_entity_id) is None else ids.get(_TABLE[p.entity_type], {}).get(c, c),
            p.match_score,
        )
        for p in pending
    ]
    inserted = 0
    query = sql.SQL(
        'INSERT INTO {} ("Id", "EntityType", "IncomingName", "CandidateEntityId", "MatchScore", '
        '"Resolution") VALUES (%s, %s, %s, %s, %s, NULL) ON CONFLICT DO NOTHING RETURNING 1'
    ).format(table)
    for row in rows:
        if conn.execute(query, row).fetchone() is not None:
            inserted += 1
    return inserted
