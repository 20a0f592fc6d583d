"""What a stored answer covers, and which answer is the latest for each thing covered. Pure.

A request names *units*: ``drivers?meeting_key=1229`` covers the unit (drivers, meeting_key, 1229); a batch
``drivers?meeting_key=1229&meeting_key=1230`` (OpenF1 ORs a repeated key) covers both meetings;
``meetings?year=2024`` covers (meetings, year, 2024). A query that is not one plain field repeated (several
fields, an operator, no filter at all) is a unit of its own, the whole query.

For each unit, the answer to use is the latest event covering it (in the store's order: received_at, run,
seq): a later per-meeting answer overrides a batch for that meeting, and a later batch overrides older
per-meeting answers. Fetch plans with it, replay (and so verify and diff) reads with it, ``snapshots ls``
shows it. See docs/store.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple
from urllib.parse import parse_qsl

from ingestion.store._log import event_order
from ingestion.store.model import Event, Request

__all__ = ["Unit", "Won", "covering", "member", "unit_value", "units_of", "winners"]

_FIELD = re.compile(r"[a-z][a-z0-9_]*")


class Unit(NamedTuple):
    """One thing an answer covers: ``(drivers, meeting_key, 1229)``; ``field`` is "" for a whole query."""

    endpoint: str
    field: str
    value: str

    @property
    def key(self) -> str:
        """The request asking for this unit alone: ``drivers?meeting_key=1229``."""
        if not self.field:
            return Request(self.endpoint, self.value).key
        return Request.make(self.endpoint, [(self.field, self.value)]).key


@functools.lru_cache(maxsize=8192)
def units_of(endpoint: str, query: str) -> tuple[Unit, ...]:
    """The units a request covers, sorted: one per value of a plain field repeated, else the query."""
    pairs = parse_qsl(query, keep_blank_values=True)
    fields = {key for key, _ in pairs}
    if len(fields) == 1:
        (field,) = fields
        values = sorted({value for _, value in pairs})
        if _FIELD.fullmatch(field) and all(values):
            return tuple(Unit(endpoint, field, value) for value in values)
    return (Unit(endpoint, "", query),)


def covering(events: Iterable[Event]) -> dict[Unit, Event]:
    """For each unit, the latest event covering it (events in any order; ties go by the store's order)."""
    latest: dict[Unit, Event] = {}
    for event in sorted(events, key=event_order):
        for unit in units_of(event.endpoint, event.query):
            latest[unit] = event
    return latest


class Won(NamedTuple):
    """An event that is the latest for at least one unit: the units it wins, and all it covers."""

    event: Event
    units: tuple[Unit, ...]
    covers: tuple[Unit, ...]

    @property
    def whole(self) -> bool:
        """Whether the answer covers one unit only: all its rows belong to it (stores before batches)."""
        return len(self.covers) == 1


def winners(latest: Mapping[Unit, Event]) -> list[Won]:
    """The events of :func:`covering`'s answer, each once, in the store's order, with the units they win."""
    won: dict[tuple[str, int], list[Unit]] = {}
    events: dict[tuple[str, int], Event] = {}
    for unit, event in latest.items():
        ident = (event.run, event.seq)
        won.setdefault(ident, []).append(unit)
        events[ident] = event
    ordered = sorted(events.values(), key=event_order)
    return [
        Won(e, tuple(sorted(won[(e.run, e.seq)])), units_of(e.endpoint, e.query)) for e in ordered
    ]


def unit_value(value: object) -> str | None:
    """A row's field value as a unit's value: ``1229`` and ``"1229"`` are ``"1229"``; null is None."""
    if isinstance(value, bool) or value is None:
        return None
    return str(value)


def member(unit: Unit, value: object) -> bool:
    """Whether a row whose ``unit.field`` holds ``value`` belongs to ``unit``."""
    return unit_value(value) == unit.value
