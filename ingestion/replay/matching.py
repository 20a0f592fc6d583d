"""Identity across sources: which f1db entity is which OpenF1 row, and the committed overrides. PURE.

:mod:`ingestion.replay.f1db` gathers the evidence through the rounds both sources have (the rules measured
in ``shared/f1db/README.md``, docs/f1db.md "Matching OpenF1"), per f1db entity the OpenF1 rows it could be:

- *certain*: a round whose race day OpenF1's Race session has; a driver in OpenF1's session under the car
  number f1db's row gives, with f1db's abbreviation equal to OpenF1's acronym; a team on those rows; a
  circuit through a matched round;
- *doubtful*: a driver under that car number whose acronym differs; a round of a year OpenF1 covers that no
  OpenF1 round races on, while an OpenF1 round of that year that no f1db race matched races within
  :data:`NEAR_DAYS` days of it or at its circuit.

:func:`settle` decides, kind by kind: one certain candidate that no other f1db entity claims is a match
(OpenF1's row and id kept); no candidate at all is an entity only f1db has (its own row); anything else
(two candidates, a candidate claimed twice, a doubtful one) is :class:`Uncertain`: a finding
(:data:`IDENTITY_UNCERTAIN`, ``ingest replay`` exits 1), and the f1db side is held (no row of it is
written, a stored one is kept as it is: :func:`withhold`) until an override decides. Nothing is silently
merged or split.

Overrides are a committed, reviewed TOML file (:data:`COMMITTED`, docs/f1db.md "Overrides"): each
``[[pair]]`` names an f1db entity and an OpenF1 row and says ``same`` (one row: OpenF1's) or ``different``
(two rows). The file is an input of the replay: its digest is in the f1db merge memo's key.
"""

from __future__ import annotations

import enum
import hashlib
import re
import tomllib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from ingestion.errors import UsageError
from ingestion.replay.findings import IDENTITY_UNCERTAIN
from ingestion.replay.identity import make_id
from ingestion.replay.rows import TABLES, ReplayWarning

__all__ = [
    "COMMITTED",
    "IDENTITY_UNCERTAIN",
    "NEAR_DAYS",
    "OVERRIDE_UNUSED",
    "Decision",
    "Kind",
    "Override",
    "OverrideError",
    "Overrides",
    "Settled",
    "Uncertain",
    "findings",
    "parse_overrides",
    "settle",
    "withhold",
]

#: The committed override file (package data: it ships with the code that reads it).
COMMITTED = Path(__file__).with_name("identity_overrides.toml")

#: An override naming a pair the sources no longer give (a warning: review and remove it).
OVERRIDE_UNUSED = "identity_override_unused"

#: How near (days) an unmatched OpenF1 round must race to an unmatched f1db race of its year to be doubtful.
NEAR_DAYS = 14


class Kind(enum.StrEnum):
    DRIVER = "driver"
    TEAM = "team"
    CIRCUIT = "circuit"
    ROUND = "round"


class Decision(enum.StrEnum):
    SAME = "same"  # one row: OpenF1's, with f1db's facts
    DIFFERENT = "different"  # two rows: f1db's entity gets its own


class Override(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One reviewed decision: f1db's ``f1db`` (a driver's, team's or circuit's f1db id; a round's
    ``YEAR:grandPrixId``) and OpenF1's row ``openf1`` (its id) are the same entity or not, and why."""

    kind: Kind
    f1db: str
    openf1: uuid.UUID
    decision: Decision
    reason: str
    line: int = 0  # where it is in the file (set by the parser), for messages


class Overrides(msgspec.Struct, frozen=True, kw_only=True):
    """The decisions of one override file, its name (for messages) and the sha256 of its bytes."""

    entries: tuple[Override, ...] = ()
    source: str = "ingestion/replay/identity_overrides.toml"
    digest: str = hashlib.sha256(b"").hexdigest()

    def of(self, kind: Kind) -> list[Override]:
        return [o for o in self.entries if o.kind is kind]


class OverrideError(UsageError):
    """The override file cannot be used: one line naming the file, the line and what is wrong."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"identity overrides {source} line {line}: {problem}")


class Uncertain(msgspec.Struct, frozen=True, kw_only=True):
    """An f1db entity whose OpenF1 row cannot be told with certainty: the OpenF1 rows it could be."""

    kind: Kind
    f1db: str
    name: str  # f1db's name for it (the app's IncomingName)
    candidates: tuple[uuid.UUID, ...]  # OpenF1 rows' ids (empty: none left)
    score: float  # how likely the first candidate is (1 / candidates, halved when only doubtful)
    why: str


class Settled(msgspec.Struct, frozen=True, kw_only=True):
    """f1db id -> OpenF1 id for the matches; the uncertain entities; the override lines used."""

    matched: dict[str, uuid.UUID]
    uncertain: tuple[Uncertain, ...] = ()
    used: frozenset[int] = frozenset()


#: What makes a candidate doubtful, per kind (for the findings).
_DOUBT = {
    Kind.DRIVER: "the car number, but another acronym",
    Kind.ROUND: "no race that day; one nearby or at its circuit",
    Kind.CIRCUIT: "only through an uncertain round",
    Kind.TEAM: "doubtful",
}

_PAIR = re.compile(r"^\s*\[\[\s*pair\s*\]\]\s*(#.*)?$")


def parse_overrides(body: bytes, source: str) -> Overrides:
    """The overrides of a TOML file's ``body`` (``source`` names it in messages): :class:`OverrideError`
    naming the line for anything wrong (syntax, an unknown or missing key, a bad value, a pair given twice,
    one entity said ``same`` as two others)."""
    digest = hashlib.sha256(body).hexdigest()
    try:
        text = body.decode()
        document = tomllib.loads(text)
    except UnicodeDecodeError as e:
        raise OverrideError(source, 1 + body[: e.start].count(b"\n"), "not UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        match = re.search(r"line (\d+)", str(e))
        raise OverrideError(source, int(match.group(1)) if match else 1, str(e)) from None
    lines = [n for n, line in enumerate(text.splitlines(), 1) if _PAIR.match(line)]
    unknown = sorted(k for k in document if k != "pair")
    if unknown:
        where = next((n for n, line in enumerate(text.splitlines(), 1) if unknown[0] in line), 1)
        raise OverrideError(source, where, f"unknown table or key {unknown[0]!r} (only [[pair]] entries)")
    raw = document.get("pair", [])
    if not isinstance(raw, list) or len(raw) != len(lines):
        raise OverrideError(source, lines[0] if lines else 1, "write each entry as a [[pair]] table")
    entries: list[Override] = []
    for line, item in zip(lines, raw, strict=True):
        if "line" in item:
            raise OverrideError(source, line, "unknown key 'line'")
        try:
            entry = msgspec.convert({**item, "line": line}, Override)
        except msgspec.ValidationError as e:
            raise OverrideError(source, line, str(e).replace("`$.", "`")) from None
        if not entry.f1db.strip() or not entry.reason.strip():
            raise OverrideError(source, line, "f1db and reason must not be empty")
        entries.append(entry)
    seen: dict[tuple[Kind, str, uuid.UUID], int] = {}
    same_f1db: dict[tuple[Kind, str], int] = {}
    same_openf1: dict[tuple[Kind, uuid.UUID], int] = {}
    for o in entries:
        first = seen.setdefault((o.kind, o.f1db, o.openf1), o.line)
        if first != o.line:
            raise OverrideError(
                source, o.line, f"{o.kind} {o.f1db} and {o.openf1} already decided at line {first}"
            )
        if o.decision is Decision.SAME:
            other = same_f1db.setdefault((o.kind, o.f1db), o.line)
            if other != o.line:
                raise OverrideError(
                    source, o.line, f"{o.kind} {o.f1db} is already the same as another row (line {other})"
                )
            other = same_openf1.setdefault((o.kind, o.openf1), o.line)
            if other != o.line:
                raise OverrideError(
                    source,
                    o.line,
                    f"OpenF1 {o.kind} {o.openf1} is already the same as another f1db one (line {other})",
                )
    return Overrides(entries=tuple(entries), source=source, digest=digest)


def settle(
    kind: Kind,
    certain: Mapping[str, set[uuid.UUID]],
    doubtful: Mapping[str, set[uuid.UUID]],
    overrides: Overrides,
    *,
    names: Mapping[str, str],
    known: set[uuid.UUID],
) -> Settled:
    """Each f1db entity of ``kind`` matched, own or uncertain (see the module doc): ``certain`` and
    ``doubtful`` candidates per f1db id, the overrides of ``kind`` applied first (``same`` matches when the
    OpenF1 row is among ``known``; ``different`` takes the row out of the entity's candidates). ``names``:
    f1db's name of every entity of ``kind`` in the release (an override naming another is unused)."""
    decided = overrides.of(kind)
    used: set[int] = set()
    forced: dict[str, uuid.UUID] = {}
    apart: dict[str, set[uuid.UUID]] = defaultdict(set)
    for o in decided:
        if o.openf1 not in known or o.f1db not in names:
            continue  # a pair this replay does not have: unused
        if o.decision is Decision.SAME:
            forced[o.f1db] = o.openf1
            used.add(o.line)
        elif o.openf1 in certain.get(o.f1db, set()) | doubtful.get(o.f1db, set()):
            apart[o.f1db].add(o.openf1)
            used.add(o.line)
    taken = set(forced.values())
    sure = {k: ids - apart[k] - taken for k, ids in certain.items() if k not in forced}
    maybe = {k: ids - apart[k] - taken - sure.get(k, set()) for k, ids in doubtful.items() if k not in forced}
    claims: dict[uuid.UUID, set[str]] = defaultdict(set)
    for k, ids in sure.items():
        for i in ids:
            claims[i].add(k)
    matched = dict(forced)
    uncertain: list[Uncertain] = []
    for k in sorted(set(sure) | set(maybe)):
        ids, doubts = sure.get(k, set()), maybe.get(k, set())
        if not ids and not doubts:
            continue  # every candidate decided apart, or none: f1db's own entity
        if len(ids) == 1 and not doubts and claims[next(iter(ids))] == {k}:
            matched[k] = next(iter(ids))
            continue
        rivals = sorted({o for i in ids for o in claims[i]} - {k})
        if ids:
            why = f"{len(ids)} OpenF1 row(s) match"
            if rivals:
                why += f", also matched by f1db {', '.join(rivals)}"
            if doubts:
                why += f", {len(doubts)} more doubtfully"
            score = 1 / (len(ids) + len(doubts)) / (1 + len(rivals))
        else:
            why = "only a doubtful match (" + _DOUBT[kind] + ")"
            score = 0.5 / len(doubts)
        candidates = tuple(sorted(ids, key=str)) + tuple(sorted(doubts, key=str))
        uncertain.append(
            Uncertain(
                kind=kind, f1db=k, name=names.get(k, k), candidates=candidates, score=round(score, 3), why=why
            )
        )
    return Settled(matched=matched, uncertain=tuple(uncertain), used=frozenset(used))


def findings(
    uncertain: Iterable[Uncertain], labels: Mapping[uuid.UUID, str], source: str
) -> list[ReplayWarning]:
    """One :data:`IDENTITY_UNCERTAIN` finding per uncertain entity, naming both sides (``labels``: OpenF1 row
    id -> a short name) and the override file that resolves it."""
    out = []
    for u in uncertain:
        rows = ", ".join(f"{c} ({labels.get(c, '?')})" for c in u.candidates) or "none"
        out.append(
            ReplayWarning(
                kind=IDENTITY_UNCERTAIN,
                message=f"{u.kind} f1db {u.f1db} ({u.name}) may be OpenF1 {rows}: {u.why}; f1db's side held "
                f"until a [[pair]] in {source} says same or different",
            )
        )
    return out


def unused(overrides: Overrides, used: Iterable[int]) -> list[ReplayWarning]:
    """A warning for each override no pair of this replay needed (stale: review and remove it)."""
    done = set(used)
    return [
        ReplayWarning(
            kind=OVERRIDE_UNUSED,
            message=f"{overrides.source} line {o.line}: {o.kind} {o.f1db} / {o.openf1} decides no pair of "
            "this replay",
        )
        for o in overrides.entries
        if o.line not in done
    ]


def withhold(
    tables: Mapping[str, tuple[msgspec.Struct, ...]], held: Iterable[uuid.UUID]
) -> tuple[dict[str, tuple[msgspec.Struct, ...]], frozenset[uuid.UUID]]:
    """``tables`` (racing table name -> rows) without the rows whose id is ``held`` and every row that
    points at a row taken out (an f1db driver held: his entrants, their results, his aliases); and the ids
    of every row taken out (a stored one is kept as it is by the load: ``Replayed.held``)."""
    out_ids: set[uuid.UUID] = set(held)
    kept: dict[str, tuple[msgspec.Struct, ...]] = {}
    for spec in TABLES:
        if spec.name not in tables:
            continue
        rows = []
        for r in tables[spec.name]:
            if r.id in out_ids or any(getattr(r, c) in out_ids for c, _ in spec.parents):  # type: ignore[attr-defined]
                out_ids.add(r.id)  # type: ignore[attr-defined]
            else:
                rows.append(r)
        kept[spec.name] = tuple(rows)
    return kept, frozenset(out_ids)


def pending_id(u: Uncertain, candidate: uuid.UUID | None) -> uuid.UUID:
    """The id of the app's ``"PendingMatches"`` row for ``u`` and one of its candidates (stable: a second
    replay finds it and adds none)."""
    return make_id("pending-match", u.kind, u.f1db, candidate or "none")
