"""THE racing tables of ``shared/SCHEMA.md`` (model names), in load order (parents before children), and the
foreign keys among them. Pure data.

Replay's table specs (:data:`ingestion.replay.rows.TABLES`) follow this order for the tables it writes;
clean-racing, audit and the readers take the whole set; :mod:`ingestion.db.naming` names them in a database.
"""

from __future__ import annotations

__all__ = ["FOREIGN_KEYS", "RACING_TABLES", "parents_of"]

RACING_TABLES: tuple[str, ...] = (
    "series", "seasons", "circuits", "rounds", "sessions", "drivers", "teams", "entrants", "results",
    "driver_aliases", "team_aliases", "circuit_aliases",
)

#: THE foreign keys among racing tables: (child, column, parent). Replay's table specs take their parents
#: from it (:data:`ingestion.replay.rows.TABLES`), ``db audit`` checks each for orphans.
FOREIGN_KEYS: tuple[tuple[str, str, str], ...] = (
    ("seasons", "series_id", "series"),
    ("rounds", "season_id", "seasons"),
    ("rounds", "circuit_id", "circuits"),
    ("sessions", "round_id", "rounds"),
    ("entrants", "round_id", "rounds"),
    ("entrants", "driver_id", "drivers"),
    ("entrants", "team_id", "teams"),
    ("results", "session_id", "sessions"),
    ("results", "entrant_id", "entrants"),
    ("driver_aliases", "driver_id", "drivers"),
    ("team_aliases", "team_id", "teams"),
    ("circuit_aliases", "circuit_id", "circuits"),
)


def parents_of(table: str) -> tuple[tuple[str, str], ...]:
    """(column, parent table) of each foreign key of ``table``, in :data:`FOREIGN_KEYS` order."""
    return tuple((column, parent) for child, column, parent in FOREIGN_KEYS if child == table)
