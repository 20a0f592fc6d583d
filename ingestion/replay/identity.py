"""Identity: slugs, deterministic ids, and who a driver row is.

Ids are uuid5 over a natural key in one fixed namespace, so every database built from the same snapshots
agrees on every id: ``openf1:session:9472``, ``openf1:round:1229`` (the meeting key), ``openf1:circuit:63``,
``openf1:driver:<identity key>``, ``openf1:team:<slug>``, ``openf1:entrant:<meeting>:<identity>:<team>``,
``openf1:result:<session>:<meeting>:<identity>:<team>``, ``openf1:series:formula-1``, ``openf1:season:2024``,
``openf1:driver-alias:<identity>:<alias slug>``.

A driver's identity key is never their number (numbers move between people: #40 was Lawson in 2023 and
Iwasa in 2024). It is the slug of the last name and the three-letter acronym (``antonelli/ANT``), which is
stable across OpenF1's name variants ("Andrea Kimi ANTONELLI" and "Kimi ANTONELLI"); a row without an
acronym falls back to the slug of the last and first names.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

#: The one namespace every replay id is made in (never change it: every id would change).
NAMESPACE = uuid.UUID("6f1e3c1a-5b0d-5c53-9a57-0c9a1c2d7e11")

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")


def make_id(kind: str, *parts: object) -> uuid.UUID:
    """The id of a ``kind`` row with natural key ``parts``: uuid5 of ``openf1:kind:part:part``."""
    return uuid.uuid5(NAMESPACE, ":".join(["openf1", kind, *(str(p) for p in parts)]))


def ascii_fold(text: str) -> str:
    """Accents transliterated (NFKD, combining marks dropped): ``São Paulo`` -> ``Sao Paulo``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by ``-``: ``São Paulo Grand Prix`` -> ``sao-paulo-grand-prix``."""
    folded = ascii_fold(text).lower().replace("'", "").replace("\u2019", "")
    return _NON_ALNUM.sub("-", folded).strip("-")


def clean_text(text: str | None) -> str | None:
    """Whitespace collapsed and stripped; None for None or blank."""
    if text is None:
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")  # PostgreSQL text can't
    cleaned = _SPACES.sub(" ", text).strip()
    return cleaned or None


def name_tokens(text: str) -> list[str]:
    """The sorted words of a name, folded: ``ZHOU Guanyu`` and ``Guanyu Zhou`` give the same list."""
    return sorted(t for t in slugify(text).split("-") if t)


def names_agree(full_name: str, first_name: str, last_name: str) -> bool:
    """Whether ``full_name`` names the same words as first and last name (in any order, any case)."""
    return name_tokens(full_name) == name_tokens(f"{first_name} {last_name}")


def acronym_code(acronym: str | None) -> str | None:
    """OpenF1's ``name_acronym`` upper-cased when it looks like one (2-4 letters or digits), else None."""
    code = ascii_fold(acronym or "").strip().upper()
    return code if re.fullmatch(r"[A-Z0-9]{2,4}", code) else None


def driver_identity(first_name: str, last_name: str, acronym: str | None) -> str:
    """A person's identity key: last-name slug and acronym, else last and first name slugs."""
    last = slugify(last_name)
    code = acronym_code(acronym)
    if code:
        return f"{last}/{code}"
    return f"{last}/{slugify(first_name).lower()}"


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
