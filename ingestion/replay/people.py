"""The people, PURE: drivers (one per identity, with their aliases), teams and the entrants of each round.

A driver row is used only if it names a team and a driver whose full name agrees with the first and last
names (feeder-series rows do not); who a row is comes from :mod:`ingestion.replay.identity`, never from
the car number. Rules in docs/replay.md.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from datetime import datetime
from typing import NamedTuple

from ingestion.calendar import PRACTICE
from ingestion.openf1.wire import Driver
from ingestion.replay.calendar import RoundInfo, SessionInfo
from ingestion.replay.decoded import Context, Origin, fullest
from ingestion.replay.identity import (
    Sighting,
    assign_identities,
    clean_text,
    entrant_key,
    make_id,
    names_agree,
    slugify,
    unique_slugs,
)
from ingestion.replay.rows import (
    DriverAliasRow,
    DriverRole,
    DriverRow,
    EntrantRow,
    RoundRow,
    SessionType,
    TeamRow,
)
from ingestion.replay.values import parse_colour

__all__ = ["Candidate", "driver_candidates", "driver_rows", "entrant_rows", "team_rows"]

ALIAS_SOURCE = "openf1"

# Warning kinds.
DRIVER_WITHOUT_TEAM = "driver_without_team"
DRIVER_NAME_MISMATCH = "driver_name_mismatch"
DRIVER_WITHOUT_NAME = "driver_without_name"


class Candidate(NamedTuple):
    """A driver row that passed the feeder checks, with who it is."""

    row: Driver
    origin: Origin
    session_key: int
    meeting_key: int
    when: datetime
    first: str
    last: str
    acronym: str | None
    team_name: str
    team_slug: str
    identity: str


def driver_candidates(ctx: Context, sessions: dict[int, SessionInfo]) -> dict[tuple[int, int], Candidate]:
    """One driver row per (session, number): feeder rows skipped, duplicates resolved to the fullest."""
    valid: dict[tuple[int, int], list[Candidate]] = defaultdict(list)
    pending: list[tuple[Driver, Origin, SessionInfo, str, str, str | None, str, str]] = []
    for key in sorted(ctx.decoded.drivers):
        session = sessions.get(key[0])
        if session is None:
            continue  # the session itself was skipped (with its own warning) or is not in the snapshots
        for row, origin in ctx.decoded.drivers[key]:
            team = clean_text(row.team_name)
            team_slug = slugify(team) if team else ""
            first, last = clean_text(row.first_name), clean_text(row.last_name)
            who = clean_text(row.full_name) or clean_text(row.broadcast_name) or f"#{row.driver_number}"
            if not team or not team_slug:
                ctx.warn(
                    DRIVER_WITHOUT_TEAM,
                    f"session {key[0]}: {who} (#{row.driver_number}) has no team: "
                    "feeder-series row skipped",
                    origin,
                )
                continue
            if not first or not last or not slugify(last):
                ctx.warn(
                    DRIVER_WITHOUT_NAME, f"session {key[0]}: #{row.driver_number} has no name", origin
                )
                continue
            full = clean_text(row.full_name)
            if full is not None and not names_agree(full, first, last):
                ctx.warn(
                    DRIVER_NAME_MISMATCH,
                    f"session {key[0]}: full name {full!r} is not {first} {last} "
                    f"(#{row.driver_number}, {team}): feeder-series row skipped",
                    origin,
                )
                continue
            acronym = clean_text(row.name_acronym)
            pending.append((row, origin, session, first, last, acronym, team, team_slug))
    # Identity: who each row is (never by number; see identity.assign_identities)
    identities = assign_identities(
        [
            Sighting(first, last, acronym, session.session.session_key, session.start)
            for _, _, session, first, last, acronym, _, _ in pending
        ]
    )
    for (row, origin, session, first, last, acronym, team, team_slug), identity in zip(
        pending, identities, strict=True
    ):
        key = (session.session.session_key, row.driver_number)
        valid[key].append(
            Candidate(
                row,
                origin,
                key[0],
                session.session.meeting_key,
                session.start,
                first,
                last,
                acronym,
                team,
                team_slug,
                identity,
            )
        )
    # Duplicates: the fullest row; then the team the driver has most in that meeting; then the bytes.
    teams_in_meeting: Counter[tuple[int, str, str]] = Counter(
        (c.meeting_key, c.identity, c.team_slug) for cs in valid.values() for c in cs
    )
    out: dict[tuple[int, int], Candidate] = {}
    for key, cands in valid.items():
        if len(cands) == 1:
            out[key] = cands[0]
            continue
        support = {id(c.row): teams_in_meeting[(c.meeting_key, c.identity, c.team_slug)] for c in cands}
        best = fullest((c.row for c in cands), prefer=functools.partial(_support, support))
        out[key] = next(c for c in cands if c.row is best)
    return out


def _support(support: dict[int, int], row: Driver) -> int:
    return support[id(row)]


def display(first: str, last: str) -> str:
    return f"{first} {last}"


def driver_rows(
    candidates: dict[tuple[int, int], Candidate],
) -> tuple[dict[str, tuple[DriverRow, str]], list[DriverAliasRow]]:
    """One row per identity (name, acronym, headshot, number from the latest row) and its aliases."""
    by_identity: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates.values():
        by_identity[c.identity].append(c)
    order = sorted(by_identity, key=lambda i: (min(c.when for c in by_identity[i]), i))
    bases = []
    for identity in order:
        cs = sorted(by_identity[identity], key=lambda c: (c.when, c.session_key, c.row.driver_number))
        by_identity[identity] = cs
        current = cs[-1]
        bases.append(slugify(display(current.first, current.last)) or f"driver-{slugify(identity) or 'x'}")
    slugs = unique_slugs(bases)
    out: dict[str, tuple[DriverRow, str]] = {}
    aliases: list[DriverAliasRow] = []
    for identity, slug in zip(order, slugs, strict=True):
        cs = by_identity[identity]
        current = cs[-1]
        headshot = next(
            (clean_text(c.row.headshot_url) for c in reversed(cs) if clean_text(c.row.headshot_url)), None
        )
        acronym = next((c.acronym for c in reversed(cs) if c.acronym), None)
        number = current.row.driver_number
        driver_id = make_id("driver", identity)
        out[identity] = (
            DriverRow(
                id=driver_id,
                first_name=current.first,
                last_name=current.last,
                slug=slug,
                abbreviation=acronym,
                headshot_url=headshot,
                driver_number=number,
                open_f1_driver_number=number,
            ),
            identity,
        )
        # aliases: every (name, number) variant merged into this driver, other than the current one
        variants: dict[tuple[str, int], list[Candidate]] = defaultdict(list)
        for c in cs:
            variants[(slugify(display(c.first, c.last)) or "alias", c.row.driver_number)].append(c)
        current_slug = slugify(display(current.first, current.last)) or "alias"
        numbers: dict[str, set[int]] = defaultdict(set)
        for name_slug, num in variants:
            numbers[name_slug].add(num)
        for (name_slug, num), seen in sorted(variants.items()):
            if (name_slug, num) == (current_slug, number):
                continue
            last_seen = seen[-1]
            alias_slug = (
                name_slug
                if name_slug != current_slug and len(numbers[name_slug]) == 1
                else f"{name_slug}-{num}"
            )
            aliases.append(
                DriverAliasRow(
                    id=make_id("driver-alias", identity, alias_slug),
                    driver_id=driver_id,
                    alias_name=display(last_seen.first, last_seen.last),
                    alias_slug=alias_slug,
                    valid_from=seen[0].when.date(),
                    valid_until=last_seen.when.date(),
                    source=ALIAS_SOURCE,
                    driver_number=num,
                )
            )
    return out, aliases


def team_rows(candidates: dict[tuple[int, int], Candidate]) -> dict[str, TeamRow]:
    """One team per name slug: name and colour from its latest row (colour: latest one that is valid)."""
    by_slug: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates.values():
        by_slug[c.team_slug].append(c)
    out: dict[str, TeamRow] = {}
    for slug, cs in sorted(by_slug.items()):
        cs.sort(key=lambda c: (c.when, c.session_key, c.row.driver_number))
        colour = next(
            (parse_colour(c.row.team_colour) for c in reversed(cs) if parse_colour(c.row.team_colour)), None
        )
        out[slug] = TeamRow(id=make_id("team", slug), name=cs[-1].team_name, slug=slug, primary_color=colour)
    return out


def entrant_rows(
    candidates: dict[tuple[int, int], Candidate],
    sessions: dict[int, SessionInfo],
    rounds: dict[int, RoundInfo],
    round_rows: dict[int, RoundRow],
    drivers: dict[str, tuple[DriverRow, str]],
    teams: dict[str, TeamRow],
) -> dict[tuple[int, str, str], tuple[EntrantRow, str]]:
    """One entrant per (round, driver, team): Test in testing, Fp1Only if only listed in practice."""
    types: dict[tuple[int, str, str], set[SessionType]] = defaultdict(set)
    for c in candidates.values():
        types[(c.meeting_key, c.identity, c.team_slug)].add(sessions[c.session_key].type)
    out: dict[tuple[int, str, str], tuple[EntrantRow, str]] = {}
    for (mk, identity, team_slug), kinds in sorted(types.items()):
        if rounds[mk].testing:
            role = DriverRole.Test
        elif kinds <= PRACTICE:
            role = DriverRole.Fp1Only
        else:
            role = DriverRole.Regular
        natural = entrant_key(mk, identity, team_slug)
        out[(mk, identity, team_slug)] = (
            EntrantRow(
                id=make_id("entrant", natural),
                round_id=round_rows[mk].id,
                driver_id=drivers[identity][0].id,
                team_id=teams[team_slug].id,
                role=int(role),
            ),
            natural,
        )
    return out
