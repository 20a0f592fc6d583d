"""The files of an f1db release that replay needs, decoded into Structs. Pure: bytes in, Structs out.

Only what replay reads is decoded (:func:`wanted`): each race's ``race.yml`` and its classification files
(race, qualifying, sprint, sprint qualifying, practice, warm-up, fastest laps), each season's
``entrants.yml``, and the drivers, constructors, circuits, grands prix and countries. Every scalar is read
as written (:mod:`ingestion.f1db.yaml`: ``13:00`` stays ``"13:00"``) and typed by the Structs below
(``laps: "70"`` -> 70, ``date: 1950-05-13`` -> a date). A file that is outside f1db's YAML subset or whose
values do not fit is a :class:`~ingestion.f1db.yaml.YamlSubsetError`: one line naming the file and the row.

A decoded file is a :data:`Decoded` value; :func:`decode_file` maps one file's path and bytes to it (and is
what the decode cache keys by blob address, :mod:`ingestion.f1db.cache`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

import msgspec

from ingestion.f1db.yaml import YamlSubsetError, flat_json, parse

__all__ = [
    "CLASSIFICATIONS",
    "Circuit",
    "Classified",
    "Constructor",
    "Country",
    "Decoded",
    "Driver",
    "EntrantConstructor",
    "EntrantDriver",
    "FileKind",
    "GrandPrix",
    "Race",
    "SeasonEntrant",
    "decode_file",
    "file_kind",
    "wanted",
]

class _Base(msgspec.Struct, frozen=True, rename="camel"):
    pass


class Race(_Base, frozen=True, kw_only=True):
    """``seasons/YYYY/races/RR-slug/race.yml``: the date (and, recently, the UTC time) of each session."""

    date: dt.date
    time: str | None = None
    grand_prix_id: str
    official_name: str
    circuit_id: str
    laps: int | None = None
    qualifying_format: str | None = None
    free_practice_1_date: dt.date | None = None
    free_practice_1_time: str | None = None
    free_practice_2_date: dt.date | None = None
    free_practice_2_time: str | None = None
    free_practice_3_date: dt.date | None = None
    free_practice_3_time: str | None = None
    qualifying_date: dt.date | None = None
    qualifying_time: str | None = None
    sprint_qualifying_date: dt.date | None = None
    sprint_qualifying_time: str | None = None
    sprint_race_date: dt.date | None = None
    sprint_race_time: str | None = None


class Classified(_Base, frozen=True, kw_only=True):
    """A row of any classification file (race, qualifying, sprint, practice, warm-up, fastest laps): the
    fields replay reads, each as written (``position``: ``1`` or a code such as ``DNF``/``DNQ``;
    ``gridPosition``: ``3`` or ``PL``)."""

    position: str
    driver_number: str | None = None
    driver_id: str
    constructor_id: str
    laps: int | None = None
    lap: int | None = None
    time: str | None = None
    gap: str | None = None
    reason_retired: str | None = None
    points: float | None = None
    grid_position: str | None = None
    q1: str | None = None
    q2: str | None = None
    q3: str | None = None
    shared_car: bool | None = None


class EntrantDriver(_Base, frozen=True, kw_only=True):
    driver_id: str
    rounds: str | None = None  # "1-24", "3,5-7", "24"; empty: none
    test_driver: bool = False


class EntrantConstructor(_Base, frozen=True, kw_only=True):
    """A constructor of an entry (the entry's own, or one of its ``constructors:``) and its drivers: either
    a ``drivers:`` list or one driver written inline (``driverId``, ``rounds``, ``testDriver``)."""

    constructor_id: str | None = None
    drivers: list[EntrantDriver] = []
    driver_id: str | None = None
    rounds: str | None = None
    test_driver: bool = False

    def entries(self) -> list[EntrantDriver]:
        if self.driver_id is None:
            return list(self.drivers)
        inline = EntrantDriver(driver_id=self.driver_id, rounds=self.rounds, test_driver=self.test_driver)
        return [*self.drivers, inline]


class SeasonEntrant(EntrantConstructor, frozen=True, kw_only=True):
    """An entry of ``seasons/YYYY/entrants.yml``: its constructor (or ``constructors:``) and drivers."""

    constructors: list[EntrantConstructor] = []

    def pairs(self) -> list[tuple[str, EntrantDriver]]:
        """(constructor id, driver entry) for every driver of the entry."""
        out = [(self.constructor_id, d) for d in self.entries()] if self.constructor_id else []
        for c in self.constructors:
            if c.constructor_id:
                out.extend((c.constructor_id, d) for d in c.entries())
        return out


class Driver(_Base, frozen=True, kw_only=True):
    id: str
    name: str
    first_name: str
    last_name: str
    full_name: str | None = None
    abbreviation: str | None = None
    permanent_number: str | None = None
    date_of_birth: dt.date | None = None
    place_of_birth: str | None = None
    nationality_country_id: str | None = None


class Constructor(_Base, frozen=True, kw_only=True):
    id: str
    name: str
    full_name: str | None = None
    country_id: str | None = None


class Circuit(_Base, frozen=True, kw_only=True):
    id: str
    name: str
    full_name: str | None = None
    type: str | None = None
    place_name: str | None = None
    country_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    length: float | None = None


class GrandPrix(_Base, frozen=True, kw_only=True):
    id: str
    name: str
    full_name: str | None = None
    country_id: str | None = None


class Country(_Base, frozen=True, kw_only=True):
    id: str
    alpha3_code: str | None = None
    name: str
    demonym: str | None = None


#: Classification files of a race replay reads, by file name (below the race's folder).
CLASSIFICATIONS: Final = (
    "race-results.yml",
    "qualifying-results.yml",
    "sprint-race-results.yml",
    "sprint-qualifying-results.yml",
    "free-practice-1-results.yml",
    "free-practice-2-results.yml",
    "free-practice-3-results.yml",
    "warming-up-results.yml",
    "fastest-laps.yml",
)

Decoded = Race | list[Classified] | list[SeasonEntrant] | Driver | Constructor | Circuit | GrandPrix | Country

#: What a file is, by its path below ``src/data/``.
FileKind = str
_RACE_FILE = re.compile(r"seasons/(\d{4})/races/([^/]+)/([a-z0-9-]+\.yml)")
_ENTITY = {"drivers": Driver, "constructors": Constructor, "circuits": Circuit, "grands-prix": GrandPrix,
           "countries": Country}


def file_kind(path: str) -> FileKind | None:
    """``race``, a classification file's name, ``entrants``, or an entity folder (``drivers``...) for the
    files replay reads; None for every other file of the release."""
    match = _RACE_FILE.fullmatch(path)
    if match is not None:
        name = match.group(3)
        if name == "race.yml":
            return "race"
        return name if name in CLASSIFICATIONS else None
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "seasons" and parts[2] == "entrants.yml":
        return "entrants"
    if len(parts) == 2 and parts[0] in _ENTITY and parts[1].endswith(".yml"):
        return parts[0]
    return None


def wanted(path: str) -> bool:
    """Whether replay reads the file at ``path`` (below ``src/data/``)."""
    return file_kind(path) is not None


_CLASSIFIED = msgspec.json.Decoder(list[Classified], strict=False)
_RACE = msgspec.json.Decoder(Race, strict=False)


def decode_file(path: str, body: bytes) -> Decoded:
    """The Struct(s) of the file at ``path`` (a path :func:`wanted` accepts). :class:`YamlSubsetError` (one
    line naming the file and the row) when it is not f1db's YAML or a value does not fit."""
    kind = file_kind(path)
    if kind is None:
        raise YamlSubsetError(path, "not a file replay reads")
    try:
        if kind == "race":
            return _RACE.decode(flat_json(path, body, rows=False))
        if kind in CLASSIFICATIONS:
            return _CLASSIFIED.decode(flat_json(path, body, rows=True))
        node = parse(path, body)
        if kind == "entrants":
            return msgspec.convert(node or [], list[SeasonEntrant], strict=False)
        entity: Decoded = msgspec.convert(node, _ENTITY[kind], strict=False)
        return entity
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _problem(path, exc) from None


_AT = re.compile(r" - at `\$(?:\[(\d+)\])?(.*)`$")


def _problem(path: str, exc: Exception) -> YamlSubsetError:
    """A one-line error naming the file and the row msgspec's path points at (``$[3].laps``: row 3)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    match = _AT.search(text)
    if match is None:
        return YamlSubsetError(path, text)
    row = int(match.group(1)) if match.group(1) is not None else None
    field = match.group(2).lstrip(".")
    return YamlSubsetError(path, f"{text[: match.start()]}{f' (at {field})' if field else ''}", row=row)
