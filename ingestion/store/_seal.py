"""The sealed manifest of the log lines written before checksums existed (``sealed.json`` at the store's
root, committed with the store). Pure: bytes in, hashes out.

Lines of a file from before checksums carry no ``crc32``: without the seal a changed byte that still parses
(``drivers`` -> ``drivgrs``) would be read as it is. The seal lists, per such log file, the sha256 of each
of its lines (newline excluded), in order, and a sha256 of that list itself: a sealed file's line that does
not hash to its entry, or a line beyond them, is a damaged line like a checksum mismatch; a damaged seal
is a problem of its own (restore it, e.g. ``git checkout snapshots/sealed.json``), never a reason to
distrust the lines.

It is also what ``fsck --repair`` rebuilds a damaged line from (:func:`rebuild_line`): the one
single-byte change that gives back the sealed hash, or the line's checksum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

import msgspec

__all__ = ["SEAL_FILE", "Seal", "SealDecoded", "decode_seal", "encode_seal", "line_hash", "rebuild_line"]

#: The seal's file name, at the store's root.
SEAL_FILE = "sealed.json"

_NOTE = (
    "sha256 of each line (newline excluded) of the log files written before checksums; "
    "sha256 is that of the files member as msgspec JSON, keys sorted. See docs/store.md."
)


class Seal(msgspec.Struct, frozen=True, kw_only=True):
    note: str = _NOTE
    files: dict[str, list[str]]
    sha256: str


class SealDecoded(msgspec.Struct, frozen=True, kw_only=True):
    """The seal's hashes per log file name, or why it cannot be trusted (``problem``)."""

    files: dict[str, list[str]]
    problem: str | None = None


def line_hash(raw: bytes) -> str:
    """The sealed hash of one log line (its bytes without the newline)."""
    return hashlib.sha256(raw).hexdigest()


def _files_hash(files: Mapping[str, Sequence[str]]) -> str:
    return hashlib.sha256(msgspec.json.encode(dict(files), order="sorted")).hexdigest()


def encode_seal(files: Mapping[str, Sequence[str]]) -> bytes:
    """The seal file's bytes for ``files`` (log file name -> its lines' hashes)."""
    plain = {name: list(hashes) for name, hashes in sorted(files.items())}
    seal = Seal(files=plain, sha256=_files_hash(plain))
    return msgspec.json.format(msgspec.json.encode(seal), indent=1) + b"\n"


def decode_seal(data: bytes) -> SealDecoded:
    """The seal's hashes; a seal that does not parse or whose own hash does not match is no seal at all
    (``problem`` says why)."""
    try:
        seal = msgspec.json.decode(data, type=Seal)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return SealDecoded(files={}, problem=f"does not parse ({error})")
    got = _files_hash(seal.files)
    if got != seal.sha256:
        problem = f"its hashes are damaged: it says sha256 {seal.sha256}, they give {got}"
        return SealDecoded(files={}, problem=problem)
    return SealDecoded(files=seal.files)


def rebuild_line(raw: bytes, good: Callable[[bytes], bool]) -> bytes | None:
    """The one line that differs from ``raw`` in a single byte and that ``good`` accepts (its sealed hash or
    its checksum match), or None (none, or more than one: nothing is guessed)."""
    found: list[bytes] = []
    buffer = bytearray(raw)
    for i, original in enumerate(raw):
        for value in range(256):
            if value == original:
                continue
            buffer[i] = value
            candidate = bytes(buffer)
            if good(candidate):
                found.append(candidate)
                if len(found) > 1:
                    return None
        buffer[i] = original
    return found[0] if found else None
