"""OpenF1's paid tier: an access token from ``POST /token``, renewed before it expires, never printed.

``POST /token`` takes form fields ``username`` and ``password`` and answers
``{"expires_in": "3600", "access_token": "...", "token_type": "bearer"}`` (``expires_in`` is a string).
Parsing is pure (:func:`parse_token`); :class:`Token` hides its value from ``repr``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import msgspec

from ingestion.errors import UsageError

#: Renew this long before the token expires (or after half its life, whichever comes first).
RENEW_BEFORE = 300.0


class TokenError(UsageError):
    """``POST /token`` refused the credentials or answered something unusable (exit 2)."""


class _TokenWire(msgspec.Struct):
    access_token: str
    expires_in: str | int | float = 3600
    token_type: str | None = None


class Token:
    """An access token and the (monotonic) time it should be renewed at. ``repr`` never shows the value."""

    __slots__ = ("expires_in", "renew_at", "value")

    def __init__(self, value: str, expires_in: float, obtained_at: float) -> None:
        self.value = value
        self.expires_in = expires_in
        self.renew_at = obtained_at + max(0.0, expires_in - min(RENEW_BEFORE, expires_in / 2))

    def __repr__(self) -> str:
        return f"Token(value=***, expires_in={self.expires_in:g})"

    def due(self, now: float) -> bool:
        """True when the token should be renewed before the next request."""
        return now >= self.renew_at

    @property
    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.value}"}


def parse_token(body: bytes) -> tuple[str, float]:
    """``(access_token, expires_in seconds)`` from a ``/token`` answer; :class:`TokenError` if unusable."""
    try:
        wire = msgspec.json.decode(body, type=_TokenWire)
        expires_in = float(wire.expires_in)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
        raise TokenError("POST /token answered something that is not a token") from None
    if not wire.access_token or not expires_in > 0:
        raise TokenError("POST /token answered an empty or already expired token")
    return wire.access_token, expires_in


def token_url(base_url: str) -> str:
    """Where to ask for a token: the root ``/token`` (``https://api.openf1.org/v1`` -> ``.../token``)."""
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urlunsplit(parts._replace(path=f"{path}/token", query="", fragment=""))
