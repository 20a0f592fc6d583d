"""Where f1db's classification goes in a round OpenF1 has (issue 24, items 1 and 7): PURE.

For each (driver, constructor) f1db classifies in a round both sources have:

- the round's OpenF1 entrant of the matched driver (of the matched team when he has two);
- else, when OpenF1 never listed that driver in the round (a non-starter or a withdrawal OpenF1 left out, a
  meeting whose drivers OpenF1 never answered) and both the driver and the constructor are matched
  one-to-one (docs/f1db.md, "Identity"): a new entrant with the id OpenF1 itself would give it
  (:func:`~ingestion.replay.identity.entrant_key`), so the row keeps its id when OpenF1 lists the driver
  later, and the database is the same whichever source answered first;
- else a finding, ``f1db_row_unplaced``: the rows are left out, never put on a guessed driver or team.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ingestion.calendar import PRACTICE
from ingestion.replay.findings import F1DB_ROW_UNPLACED
from ingestion.replay.identity import entrant_key, make_id
from ingestion.replay.rows import DriverRole, EntrantRow, ReplayWarning, RoundRow, SessionType

__all__ = ["OpenF1Names", "Placed", "place"]


class OpenF1Names(NamedTuple):
    """What OpenF1's ids are made of: driver row id -> identity key, team row id -> slug."""

    identities: Mapping[uuid.UUID, str]
    team_slugs: Mapping[uuid.UUID, str]


class Placed(NamedTuple):
    """f1db (driver, constructor) -> the entrant its rows go on; entrant id -> its OpenF1 natural key (None:
    unknown); the entrants made for drivers OpenF1 never listed; the findings."""

    entrant_of: dict[tuple[str, str], EntrantRow]
    natural: dict[uuid.UUID, str | None]
    added: list[EntrantRow]
    findings: list[ReplayWarning]


def place(
    round_row: RoundRow,
    pairs: Mapping[tuple[str, str], set[SessionType]],
    entrants: Sequence[EntrantRow],
    driver_match: Mapping[str, uuid.UUID],
    team_match: Mapping[str, uuid.UUID],
    names: OpenF1Names,
    *,
    where: str,
    release: str,
) -> Placed:
    """The entrant of each of f1db's (driver, constructor) ``pairs`` (-> the sessions classifying it) in
    OpenF1's ``round_row``, whose OpenF1 ``entrants`` are given (see the module doc). ``where`` names the
    round in findings (``2024 22-las-vegas``). Pure."""
    mk = round_row.open_f1_meeting_key

    def natural(driver: uuid.UUID, team: uuid.UUID) -> str | None:
        identity, slug = names.identities.get(driver), names.team_slugs.get(team)
        return entrant_key(mk, identity, slug) if mk is not None and identity and slug else None

    out: dict[tuple[str, str], EntrantRow] = {}
    naturals: dict[uuid.UUID, str | None] = {}
    added: dict[uuid.UUID, EntrantRow] = {}
    unplaced: list[str] = []
    for (driver_id, constructor_id), kinds in sorted(pairs.items()):
        driver, team = driver_match.get(driver_id), team_match.get(constructor_id)
        mine = [e for e in entrants if driver is not None and e.driver_id == driver]
        chosen = [e for e in mine if e.team_id == team] or mine
        if len(chosen) == 1:
            out[(driver_id, constructor_id)] = chosen[0]
            naturals[chosen[0].id] = natural(chosen[0].driver_id, chosen[0].team_id)
            continue
        key = natural(driver, team) if driver is not None and team is not None and not mine else None
        if key is None or driver is None or team is None:
            why = (
                f"{len(mine)} OpenF1 entrants"
                if mine
                else "no OpenF1 entrant, and "
                + ("the driver" if driver is None else "the constructor" if team is None else "the round")
                + " is not matched one-to-one with OpenF1"
            )
            sessions = ", ".join(SessionType(k).name for k in sorted(kinds)) or "no session"
            unplaced.append(f"{driver_id} ({constructor_id}; {sessions}): {why}")
            continue
        raced = bool(kinds - PRACTICE - {SessionType.Warmup})
        entrant = EntrantRow(
            id=make_id("entrant", key),
            round_id=round_row.id,
            driver_id=driver,
            team_id=team,
            role=int(DriverRole.Regular if raced else DriverRole.Fp1Only),
        )
        added[entrant.id] = entrant
        naturals[entrant.id] = key
        out[(driver_id, constructor_id)] = entrant
    findings = [
        ReplayWarning(
            kind=F1DB_ROW_UNPLACED,
            message=f"{where}: f1db's rows of {what} left out",
            request=release,
        )
        for what in unplaced
    ]
    return Placed(out, naturals, list(added.values()), findings)
