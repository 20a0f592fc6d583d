"""The server's state machines, free of sockets: rate limits, tokens, faults. Time always comes in."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from typing import Literal, get_args

import msgspec

from ingestion.errors import UsageError

__all__ = [
    "FAULT_KINDS",
    "Drop",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultSyntaxError",
    "SlidingWindowLimiter",
    "TokenBook",
]

FaultKind = Literal[
    "429", "500", "502", "503", "504", "401", "html", "empty", "truncated", "reset", "slow", "deep"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


class FaultSyntaxError(UsageError):
    """A --fault that is not KIND:EVERY with a known KIND and EVERY >= 1 (exit 2)."""


class Fault(msgspec.Struct, frozen=True):
    """Every ``every``-th GET (the ``every``-th, ``2*every``-th...) fails as ``kind``."""

    kind: FaultKind
    every: int

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultSyntaxError(f"unknown fault kind {self.kind!r}: one of {', '.join(FAULT_KINDS)}")
        if self.every < 1:
            raise FaultSyntaxError(f"fault {self.kind}: EVERY must be 1 or more, got {self.every}")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``"503:3"`` -> every third GET answers 503. ``"reset"`` alone means every GET."""
        kind, sep, every = text.strip().partition(":")
        try:
            count = int(every) if sep else 1
        except ValueError:
            raise FaultSyntaxError(f"--fault {text!r}: EVERY must be an integer (KIND:EVERY)") from None
        return cls(kind, count)  # type: ignore[arg-type]  # checked in __post_init__

    def __str__(self) -> str:
        return f"{self.kind}:{self.every}"


class Drop(msgspec.Struct, frozen=True):
    """An endpoint served without some meetings' rows (a gap, as OpenF1 has them): ``meetings`` empty means
    every meeting (then ``meetings?year=Y`` and the like answer "No results found.")."""

    endpoint: str
    meetings: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Drop:
        """``"drivers:1250,1251"`` -> drivers without meetings 1250 and 1251; ``"sessions:all"``: no rows."""
        endpoint, sep, keys = text.strip().partition(":")
        if not sep or not endpoint or not keys:
            raise FaultSyntaxError(f"--drop {text!r}: ENDPOINT:MEETING_KEY[,MEETING_KEY...] or ENDPOINT:all")
        if keys.strip().lower() == "all":
            return cls(endpoint.lower())
        try:
            meetings = frozenset(int(k) for k in keys.split(","))
        except ValueError:
            raise FaultSyntaxError(f"--drop {text!r}: meeting keys must be integers (or all)") from None
        return cls(endpoint.lower(), meetings)

    def drops(self, row: dict[str, object]) -> bool:
        """Whether ``row`` (of this endpoint) is left out."""
        return not self.meetings or row.get("meeting_key") in self.meetings

    def __str__(self) -> str:
        keys = ",".join(str(k) for k in sorted(self.meetings)) if self.meetings else "all"
        return f"{self.endpoint}:{keys}"


class FaultPlan:
    """Which GET fails how: periodic faults from the configuration, plus faults installed by tests.

    GETs are numbered from 1. Installed faults win over periodic ones; among those, the first given wins.
    Thread-safe.
    """

    def __init__(self, periodic: tuple[Fault, ...] = ()) -> None:
        self._periodic = periodic
        self._at: dict[int, FaultKind] = {}
        self._next: deque[FaultKind] = deque()
        self._lock = threading.Lock()

    def at(self, kind: FaultKind, numbers: tuple[int, ...]) -> None:
        Fault(kind, 1)  # validates the kind
        with self._lock:
            for n in numbers:
                self._at.setdefault(n, kind)

    def next(self, kind: FaultKind, times: int) -> None:
        Fault(kind, 1)
        with self._lock:
            self._next.extend([kind] * times)

    def clear(self) -> None:
        with self._lock:
            self._at.clear()
            self._next.clear()
            self._periodic = ()

    def fault_for(self, number: int) -> FaultKind | None:
        """The fault for GET ``number`` (consuming a queued one), or None."""
        with self._lock:
            if number in self._at:
                return self._at.pop(number)
            if self._next:
                return self._next.popleft()
            for fault in self._periodic:
                if number % fault.every == 0:
                    return fault.kind
        return None


class SlidingWindowLimiter:
    """At most ``per_second`` accepted requests in any 1 s and ``per_minute`` in any 60 s (0: no limit).

    Only accepted requests count: a rejected one does not extend the wait. Not thread-safe on its own
    (the server holds its lock around :meth:`admit`).
    """

    def __init__(self, per_second: float, per_minute: float) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self._accepted: deque[float] = deque()

    def _count_since(self, start: float) -> int:
        return sum(1 for t in reversed(self._accepted) if t > start)

    def admit(self, now: float) -> bool:
        """Accept (and record) a request at ``now``, or refuse it (nothing recorded)."""
        while self._accepted and self._accepted[0] <= now - 60.0:
            self._accepted.popleft()
        if self.per_minute > 0 and len(self._accepted) >= self.per_minute:
            return False
        if self.per_second > 0 and self._count_since(now - 1.0) >= self.per_second:
            return False
        self._accepted.append(now)
        return True


class _Grant(msgspec.Struct, frozen=True):
    user: str
    expires_at: float


class TokenBook:
    """``POST /token``'s credentials and the bearer tokens it handed out, each with its expiry."""

    def __init__(self, user: str, password: str, ttl: float) -> None:
        self.user = user
        self._password = password
        self.ttl = ttl
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def issue(self, user: str, password: str, now: float) -> str | None:
        """A new token for the right credentials, None for wrong ones."""
        ok = hmac.compare_digest(user.encode(), self.user.encode()) & hmac.compare_digest(
            password.encode(), self._password.encode()
        )
        if not ok:
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = _Grant(user, now + self.ttl)
        return token

    def user_of(self, token: str, now: float) -> str | None:
        """Who holds ``token``, or None when it is unknown or expired."""
        with self._lock:
            grant = self._grants.get(token)
            if grant is None:
                return None
            if now >= grant.expires_at:
                del self._grants[token]
                return None
            return grant.user
