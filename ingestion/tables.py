"""THE racing tables of ``shared/SCHEMA.md`` (model names), in load order: parents before children. Pure data.

Replay's table specs (:data:`ingestion.replay.rows.TABLES`) follow this order for the tables it writes;
clean-racing, audit and the readers take the whole set; :mod:`ingestion.db.naming` names them in a database.
"""

from __future__ import annotations

__all__ = ["RACING_TABLES"]

RACING_TABLES: tuple[str, ...] = (
    "series", "seasons", "circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results",
    "driver_aliases", "team_aliases", "circuit_aliases",
)
