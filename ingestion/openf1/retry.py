"""How hard the OpenF1 client tries (:class:`RetryPolicy`) and the retry decision itself (:class:`Retrying`,
pure: after each failed try, wait how long or give up), apart from the client's I/O, so that the request
and the token renewal decide alike and the decision is tested without a socket (stamina's
``retry_context`` is the model: the loop asks, the policy answers). Apart from the client also so that
planning a fetch (which carries the policy in its options) never imports httpx."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

__all__ = ["RetryPolicy", "Retrying"]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How hard to try. Tests pass tiny ``base``/``cap`` so they never sleep long."""

    attempts: int = 5  # tries per request for 5xx, timeouts, resets and invalid bodies
    throttled_attempts: int = 12  # tries per request while the server answers 429
    base: float = 1.0  # first backoff, seconds; doubles on each retry
    cap: float = 30.0  # longest backoff, seconds
    retry_after_cap: float = 120.0  # longest Retry-After honoured, seconds
    timeout: float = 30.0  # per attempt, seconds

    def backoff(self, retry: int, unit: float) -> float:
        """The wait before retry number ``retry`` (from 1), with ``unit`` in [0, 1) as jitter.

        "Equal jitter": half the capped exponential delay, plus a random part of the other half, so
        clients that failed together do not come back together, and no wait is ever zero.
        """
        delay = min(self.cap, self.base * 2.0 ** max(0, retry - 1))
        return delay / 2 + delay / 2 * unit


class Retrying:
    """The retry decision of one request (or one token renewal): counts the failed tries and says, after
    each, how long to wait before the next one, or None to give up. Pure: the jitter comes in as
    ``unit()`` (a number in [0, 1), drawn only when a backoff is computed)."""

    def __init__(self, policy: RetryPolicy, unit: Callable[[], float]) -> None:
        self.policy = policy
        self._unit = unit
        self.failures = 0  # 5xx, timeouts, resets, invalid bodies
        self.throttled = 0  # 429s

    def after_failure(self, retry_after: float | None = None) -> float | None:
        """A retryable failure: the backoff (at least the server's ``Retry-After``, capped), or None once
        :attr:`RetryPolicy.attempts` tries have failed."""
        self.failures += 1
        if self.failures >= self.policy.attempts:
            return None
        delay = self.policy.backoff(self.failures, self._unit())
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.retry_after_cap))
        return delay

    def after_throttle(self, retry_after: float | None = None) -> float | None:
        """A 429: the server's ``Retry-After`` (capped), else the backoff; None once
        :attr:`RetryPolicy.throttled_attempts` tries were throttled."""
        self.throttled += 1
        if self.throttled >= self.policy.throttled_attempts:
            return None
        if retry_after is not None:
            return min(retry_after, self.policy.retry_after_cap)
        return self.policy.backoff(self.throttled, self._unit())
