"""Blob addresses: the sha256 (hex) of a body exactly as received. Pure."""

from __future__ import annotations

import hashlib
import re
from typing import NewType

from ingestion.store.errors import InvalidAddress

__all__ = ["Address", "address_of", "is_address", "parse_address"]

#: The sha256 of an uncompressed body, 64 lowercase hex digits. Validated before it becomes a path.
Address = NewType("Address", str)

_ADDRESS = re.compile(r"[0-9a-f]{64}")


def address_of(body: bytes) -> Address:
    """The address of ``body``: its sha256, hex."""
    return Address(hashlib.sha256(body).hexdigest())


def is_address(text: str) -> bool:
    return _ADDRESS.fullmatch(text) is not None


def parse_address(text: str) -> Address:
    """``text`` as an address, or :class:`InvalidAddress` (so no ``../`` ever reaches a path)."""
    if not is_address(text):
        raise InvalidAddress(text)
    return Address(text)
