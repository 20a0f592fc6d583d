"""Identity: slugs, deterministic ids, and who a driver row is.

Ids are uuid5 over a natural key in one fixed namespace, so every database built from the same snapshots
agrees on every id: ``openf1:session:9472``, ``openf1:round:1229`` (the meeting key), ``openf1:circuit:63``,
``openf1:driver:<identity key>``, ``openf1:team:<slug>``, ``openf1:entrant:<meeting>:<identity>:<team>``,
``openf1:result:<session>:<meeting>:<identity>:<team>``, ``openf1:series:formula-1``, ``openf1:season:2024``,
``openf1:driver-alias:<identity>:<alias slug>``.

A driver's identity key is never their number (numbers move between people: #40 was Lawson in 2023 and
Iwasa in 2024). :func:`assign_identities` groups driver rows into people and names each person by the slug
of the last name and the three-letter acronym (``antonelli/ANT``), which is stable across OpenF1's name
variants ("Andrea Kimi ANTONELLI" and "Kimi ANTONELLI"). Never two people in one row: two people sharing a
last name and an acronym (Charles and Arthur Leclerc if both were written ``LEC``) are told apart by their
first names, the later one keyed ``leclerc/LEC/arthur``. One person, one row: a person whose acronym
changes (same first and last name, never in one session together) stays one person under the first key;
a row without an acronym joins the one person with the same first and last name, else is keyed
``last/first``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from ingestion.text import ascii_fold, words
from ingestion.text import slugify as slugify

#: The one namespace every replay id is made in (never change it: every id would change).
NAMESPACE = uuid.UUID("6f1e3c1a-5b0d-5c53-9a57-0c9a1c2d7e11")

_SPACES = re.compile(r"\s+")


_NAMESPACE_BYTES = NAMESPACE.bytes
#: The version (5) and RFC 4122 variant bits of a name-based SHA-1 UUID, as :func:`uuid.uuid5` sets them.
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_SET = (0x8000 << 48) | (5 << 76)
_new_uuid = object.__new__
_set_field = object.__setattr__
#: SHA-1 already fed the namespace: each id copies it (cheaper than hashing the namespace again).
_hashed_namespace = hashlib.sha1(_NAMESPACE_BYTES, usedforsecurity=False).copy  # a fresh copy per call
_UNKNOWN = uuid.SafeUUID.unknown


def make_id(kind: str, *parts: object) -> uuid.UUID:
    """The id of a ``kind`` row with natural key ``parts``: uuid5 of ``openf1:kind:part:part``.

    Exactly :func:`uuid.uuid5` (tested), built the way ``UUID.__init__`` ends (its fields set on a new
    instance) without its argument checks: replay makes one per row (~6,000 for two seasons)."""
    sha = _hashed_namespace()
    sha.update(":".join(("openf1", kind, *map(str, parts))).encode())
    made = _new_uuid(uuid.UUID)
    _set_field(made, "int", (int.from_bytes(sha.digest()[:16], "big") & _CLEAR) | _SET)
    _set_field(made, "is_safe", _UNKNOWN)
    return made


def id_maker(kind: str, *parts: object) -> Callable[[object], uuid.UUID]:
    """``make_id(kind, *parts, last)`` as a function of ``last`` alone: the ids of many rows sharing a key
    prefix (a session's results: ~100,000 rows in f1db's history) hash the prefix once. Exactly
    :func:`make_id` (tested)."""
    prefix = _hashed_namespace()
    prefix.update(":".join(("openf1", kind, *map(str, parts), "")).encode())
    copy = prefix.copy

    def made(last: object) -> uuid.UUID:
        sha = copy()
        sha.update(str(last).encode())
        out = _new_uuid(uuid.UUID)
        _set_field(out, "int", (int.from_bytes(sha.digest()[:16], "big") & _CLEAR) | _SET)
        _set_field(out, "is_safe", _UNKNOWN)
        return out

    return made


#: The string folds below are pure and called tens of thousands of times for a few hundred distinct
#: strings (names, places): each is cached (replay's normalize took half the time with the same rows).
_FOLDS = 8192


@functools.lru_cache(maxsize=_FOLDS)
def clean_text(text: str | None) -> str | None:
    """Whitespace collapsed and stripped; None for None or blank."""
    if text is None:
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")  # PostgreSQL text can't
    cleaned = _SPACES.sub(" ", text).strip()
    return cleaned or None


def name_tokens(text: str) -> list[str]:
    """The sorted words of a name, folded: ``ZHOU Guanyu`` and ``Guanyu Zhou`` give the same list."""
    return list(_name_tokens(text))


@functools.lru_cache(maxsize=_FOLDS)
def _name_tokens(text: str) -> tuple[str, ...]:
    return tuple(sorted(words(text)))


def names_agree(full_name: str, first_name: str, last_name: str) -> bool:
    """Whether ``full_name`` names the same words as first and last name (in any order, any case)."""
    return name_tokens(full_name) == name_tokens(f"{first_name} {last_name}")


_ACRONYM = re.compile(r"[A-Z0-9]{2,4}")


@functools.lru_cache(maxsize=_FOLDS)
def acronym_code(acronym: str | None) -> str | None:
    """OpenF1's ``name_acronym`` upper-cased when it looks like one (2-4 letters or digits), else None."""
    code = ascii_fold(acronym or "").strip().upper()
    return code if _ACRONYM.fullmatch(code) else None


class Sighting(NamedTuple):
    """One driver row as identity sees it: names, acronym, and the session it was listed in."""

    first: str
    last: str
    acronym: str | None
    session: int
    when: datetime


_Form = tuple[str, str | None, str]  # last-name slug, acronym code, first-name slug


def _first_names_overlap(a: str, b: str) -> bool:
    """Whether two first names can be one person's: a shared word, or one a prefix of the other (Alex).

    A name with no letters replay can read says nothing against it.
    """
    ta, tb = name_tokens(a), name_tokens(b)
    return not ta or not tb or any(x.startswith(y) or y.startswith(x) for x in ta for y in tb)


def assign_identities(sightings: Sequence[Sighting]) -> list[str]:
    """The identity key of each sighting (see the module doc); deterministic, whatever the input order."""
    # A form is what a row says about who it is: rows with one form are one person.
    form_of: list[_Form] = [(slugify(s.last), acronym_code(s.acronym), slugify(s.first)) for s in sightings]
    forms: dict[_Form, list[int]] = defaultdict(list)
    for i, form in enumerate(form_of):
        forms[form].append(i)
    seen = {f: min((sightings[i].when, sightings[i].session) for i in ix) for f, ix in forms.items()}
    order = sorted(forms, key=lambda f: (seen[f], f[0], f[1] or "", f[2]))
    rank = {f: n for n, f in enumerate(order)}
    first_name = {f: sightings[forms[f][0]].first for f in order}
    sessions = {f: {sightings[i].session for i in forms[f]} for f in order}
    parent = {f: f for f in order}

    def find(f: _Form) -> _Form:
        while parent[f] != f:
            f = parent[f]
        return f

    def join(f: _Form, g: _Form) -> None:  # the earlier root stays the root (its key names the person)
        a, b = sorted((find(f), find(g)), key=rank.__getitem__)
        parent[b] = a
        sessions[a] |= sessions[b]

    coded = [f for f in order if f[1] is not None]
    pairs = [(g, f) for i, f in enumerate(coded) for g in coded[:i] if f[0] == g[0]]
    # 1. same last name and acronym, and first names that can be one person's: one person
    for g, f in pairs:
        if f[1] == g[1] and find(f) != find(g) and _first_names_overlap(first_name[f], first_name[g]):
            join(f, g)
    # 2. an acronym change: the same first and last name, never listed together in one session
    for g, f in pairs:
        if f[2] == g[2] and find(f) != find(g) and not sessions[find(f)] & sessions[find(g)]:
            join(f, g)
    # 3. no acronym: the one person with the same first and last name, if there is exactly one
    for f in order:
        if f[1] is None:
            people = {find(g) for g in coded if (g[0], g[2]) == (f[0], f[2])}
            if len(people) == 1:
                parent[f] = next(iter(people))
    # keys: the person's earliest form's; a later person with the same key gets their first name appended
    keys: dict[_Form, str] = {}
    for f in order:
        root = find(f)
        if root not in keys:
            key = f"{root[0]}/{root[1] or root[2]}"
            keys[root] = f"{key}/{root[2]}" if key in keys.values() else key
    return [keys[find(f)] for f in form_of]


def unique_slugs(bases: list[str]) -> list[str]:
    """Make slugs unique in the given order: the second ``x`` becomes ``x-2``, the third ``x-3``...

    A suffixed slug never takes a slug another item has as its own base.
    """
    taken = set(bases)
    used: set[str] = set()
    out: list[str] = []
    for base in bases:
        slug = base
        if slug in used:
            n = 2
            while f"{base}-{n}" in used or f"{base}-{n}" in taken:
                n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out.append(slug)
    return out


def entrant_key(meeting_key: int, identity: str, team_slug: str) -> str:
    """An OpenF1 entrant's natural key: ``<meeting>:<identity>:<team slug>`` (its id: ``make_id("entrant",
    key)``; its results': ``make_id("result", session_key, key)``). f1db's rows in a round OpenF1 has use
    it too, so a row either source gives first has the id the other would give."""
    return f"{meeting_key}:{identity}:{team_slug}"
