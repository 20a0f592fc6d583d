"""The points the FIA Formula One Sporting Regulations award, season by season. Pure data and functions.

A :class:`Scale` is one points table: points by finishing position (1st first), whether the fastest-lap
point applies on top, and the article that defines it. :func:`race_scales` and :func:`sprint_scales` give
the scales a season's regulations allow for a Grand Prix and a sprint: the full-distance table first, then
the reduced tables for a race that did not complete its scheduled distance. OpenF1 does not say what the
scheduled distance was, so a checker accepts a session whose points match any one of the season's scales
(and says which); a season whose regulations are not encoded here gives ``None`` (points unchecked).

What the regulations say (Sporting Regulations, Article 6 "Championship points" in every year here):

- **Race, 2010 onwards** (Art. 6.4): 25-18-15-12-10-8-6-4-2-1 to the first ten classified.
- **Fastest lap, 2019-2024** (Art. 6.4 b): one more point to the driver who set the fastest lap, if he is
  classified in the first ten. From 2022 only if 50% or more of the scheduled distance was completed
  (Art. 6.5, 2022-2024). Removed from 2025 (World Motor Sport Council, 17 October 2024).
- **Shortened race, 2010-2021** (Art. 6.5): a race suspended and not resumed gives no points if the
  leader completed two laps or less, half points if more than two laps but less than 75% of the distance,
  full points from 75%.
- **Shortened race, 2022 onwards** (Art. 6.5, after the 2021 Belgian Grand Prix): no points unless the leader
  completed two laps without a Safety Car or VSC; more than two laps and less than 25%: 6-4-3-2-1; 25% to
  less than 50%: 13-10-8-6-5-4-3-2-1; 50% to less than 75%: 19-14-12-9-8-6-5-3-2-1; 75% or more: full
  points. In 2022 this applied only to a race suspended and not resumed; from 2023 to any race that did
  not complete its scheduled distance (the change that followed the 2022 Japanese Grand Prix). Either way
  the same tables are the ones a season's results can show.
- **Sprint** (Art. 6.4 c): 2021 ("Sprint Qualifying") 3-2-1 to the first three; 2022 onwards 8-7-6-5-4-3-2-1
  to the first eight. A shortened sprint: half points in 2021 (Art. 6.5 as above); from 2022 no reduced
  sprint table exists, so the full table, or none when the leader completed two laps or less.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "FULL_RACE",
    "FULL_SPRINT",
    "FULL_SPRINT_2021",
    "Scale",
    "expected_points",
    "race_scales",
    "sprint_scales",
]


class Scale(msgspec.Struct, frozen=True, kw_only=True):
    """One points table: ``points[0]`` to the winner; ``fastest_lap``: one more point may go to one driver
    classified in the first ten; ``article``: where the regulations define it."""

    name: str
    points: tuple[float, ...]
    fastest_lap: bool
    article: str
    #: The leader's laps this scale can apply to: a reduced table needs more than two laps, "no points"
    #: two laps or less. (OpenF1 does not say which laps ran behind a Safety Car, so "two laps without a
    #: Safety Car or VSC" from 2022 is read as two laps: such a race shows up as a finding to look at.)
    min_leader_laps: int = 0
    max_leader_laps: int | None = None

    def fits(self, leader_laps: int | None) -> bool:
        """Whether a session whose leader completed ``leader_laps`` (None: unknown) can use this scale."""
        if leader_laps is None:
            return True
        if leader_laps < self.min_leader_laps:
            return False
        return self.max_leader_laps is None or leader_laps <= self.max_leader_laps

    def for_position(self, position: int) -> float:
        """The points of a driver classified ``position`` (0 outside the table)."""
        return self.points[position - 1] if 1 <= position <= len(self.points) else 0.0

    def allowed(self, position: int) -> tuple[float, ...]:
        """Every points value a driver classified ``position`` may have under this scale."""
        base = self.for_position(position)
        if self.fastest_lap and 1 <= position <= 10:
            return (base, base + 1)
        return (base,)


FULL_RACE = (25.0, 18.0, 15.0, 12.0, 10.0, 8.0, 6.0, 4.0, 2.0, 1.0)
FULL_SPRINT = (8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0)
FULL_SPRINT_2021 = (3.0, 2.0, 1.0)
_REDUCED_2022 = (
    ("less than 25% of the distance", (6.0, 4.0, 3.0, 2.0, 1.0), False),
    ("25% to less than 50% of the distance", (13.0, 10.0, 8.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0), False),
    ("50% to less than 75% of the distance", (19.0, 14.0, 12.0, 9.0, 8.0, 6.0, 5.0, 3.0, 2.0, 1.0), True),
)
#: The first season whose points this module knows (the 25-18-15 table).
FIRST_SEASON = 2010


def _fastest_lap(season: int) -> bool:
    return 2019 <= season <= 2024


def race_scales(season: int) -> tuple[Scale, ...] | None:
    """The scales a Grand Prix of ``season`` may be scored on, full distance first (None: not encoded)."""
    if season < FIRST_SEASON:
        return None
    fl = _fastest_lap(season)
    full = Scale(name="full points", points=FULL_RACE, fastest_lap=fl, article=f"{season} Art. 6.4")
    if season <= 2021:
        half = Scale(
            name="half points (shortened race: less than 75% of the distance)",
            points=tuple(p / 2 for p in FULL_RACE),
            fastest_lap=fl,
            article=f"{season} Art. 6.5",
            min_leader_laps=3,
        )
        reduced: tuple[Scale, ...] = (half,)
    else:
        reduced = tuple(
            Scale(
                name=f"reduced points (shortened race: {what})",
                points=points,
                fastest_lap=fl and fastest,
                article=f"{season} Art. 6.5",
                min_leader_laps=3,
            )
            for what, points, fastest in _REDUCED_2022
        )
    none = Scale(
        name="no points (shortened race: two laps or less)", points=(), fastest_lap=False,
        article=f"{season} Art. 6.5", max_leader_laps=2,
    )
    return (full, *reduced, none)


def sprint_scales(season: int) -> tuple[Scale, ...] | None:
    """The scales a sprint of ``season`` may be scored on, full distance first (None: no sprint points)."""
    if season < 2021:
        return None
    none = Scale(name="no points (shortened sprint: two laps or less)", points=(), fastest_lap=False,
                 article=f"{season} Art. 6.5", max_leader_laps=2)
    if season == 2021:
        full = Scale(
            name="full points", points=FULL_SPRINT_2021, fastest_lap=False, article="2021 Art. 6.4 c"
        )
        half = Scale(
            name="half points (shortened sprint: less than 75% of the distance)",
            points=tuple(p / 2 for p in FULL_SPRINT_2021),
            fastest_lap=False,
            article="2021 Art. 6.5",
            min_leader_laps=3,
        )
        return (full, half, none)
    full = Scale(name="full points", points=FULL_SPRINT, fastest_lap=False, article=f"{season} Art. 6.4 c")
    return (full, none)


def expected_points(scale: Scale, positions: list[int]) -> float:
    """The points ``scale`` gives to the classified ``positions`` altogether, without the fastest lap."""
    return sum(scale.for_position(p) for p in positions)
