"""Masking of secrets in anything we print: URLs with passwords, tokens.

The masking is deliberately generous: in a URL, everything between the first ``:`` after ``scheme://`` and the
last ``@`` is the password as far as printing goes. That covers libpq's reading of a URL (password up to the
first ``@``), Python's ``urlsplit`` reading (up to the last ``@`` of the host part) and a person's (a password
typed raw, with ``/``, ``#`` or ``@`` in it), so no reading of a malformed URL can show its password.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>\S+)@")
#: ``key=value`` pairs whose key names a secret (``password``, ``sslpassword``, ``pwd``, ``token``,
#: ``access_token``, ``api_key``, ``apikey``, ``client_secret``...), in a query string or libpq keywords.
_KV_PASSWORD = re.compile(
    r"(?i)\b([a-z_]*(?:password|passwd|pwd|token|secret|api_?key)[a-z_]*)\s*=\s*('[^']*'|\"[^\"]*\"|[^\s&]+)"
)
_USERINFO = re.compile(r"^(?P<scheme>\s*[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#]*@)")


def _password_span(url: str) -> tuple[int, int] | None:
    """Where the password of ``url`` lies (start, end), generously: first ``:`` to last ``@``."""
    scheme = _SCHEME.match(url.lstrip())
    if scheme is None:
        return None
    start = len(url) - len(url.lstrip()) + scheme.end()
    at = url.rfind("@", start)
    if at < 0:
        return None
    colon = url.find(":", start, at)
    if colon < 0:
        return None
    return colon + 1, at


def url_secrets(url: str) -> tuple[str, ...]:
    """Every form in which ``url``'s password could be echoed back: raw, percent-decoded, libpq's reading,
    and ``password=`` query values. Pass them to :func:`mask_text` when printing a message about ``url``."""
    found: list[str] = []
    span = _password_span(url)
    if span is not None:
        raw = url[span[0] : span[1]]
        found += [raw, unquote(raw)]
        first_at = raw.find("@")
        if first_at >= 0:  # libpq stops at the first '@'
            found += [raw[:first_at], unquote(raw[:first_at])]
    for match in _KV_PASSWORD.finditer(url):
        value = match.group(2).strip("'\"")
        found += [value, unquote(value)]
    return tuple(dict.fromkeys(s for s in found if s))


def mask_url(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``."""
    span = _password_span(url)
    if span is not None:
        url = url[: span[0]] + MASK + url[span[1] :]
    return mask_text(url)


def public_url(url: str) -> str:
    """``url`` fit to log, store or print: its userinfo (``user:password@``, a credential even without the
    password) removed entirely and secret query values masked. Used for every OpenF1 URL that is logged."""
    match = _USERINFO.match(url)
    if match is not None:
        # everything up to the last '@' before the path (a raw '@' in a password included)
        rest = url[match.end("scheme") :]
        head = re.split(r"[/?#]", rest, maxsplit=1)[0]
        at = head.rfind("@")
        url = url[: match.end("scheme")] + rest[at + 1 :]
    return mask_text(url)


def mask_text(text: str, *secrets: str | None) -> str:
    """Mask URL passwords, ``password=...`` pairs and any of ``secrets`` found in ``text``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
