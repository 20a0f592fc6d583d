"""How hard the OpenF1 client tries (:class:`RetryPolicy`): apart from the client so that planning a fetch
(which carries the policy in its options) never imports httpx; a settled re-fetch asks nothing and does not
pay for it."""

from __future__ import annotations

import msgspec

__all__ = ["RetryPolicy"]


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
