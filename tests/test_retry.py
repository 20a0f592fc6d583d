"""The client's retry decision (openf1/retry.py ``Retrying``), pure: after each failed try, how long to wait
or give up; the request and the token renewal both ask it."""

from __future__ import annotations

from ingestion.openf1.retry import Retrying, RetryPolicy

POLICY = RetryPolicy(attempts=3, throttled_attempts=4, base=1.0, cap=3.0, retry_after_cap=10.0)


def test_retry_failures_back_off_then_give_up() -> None:
    """Failed tries wait the equal-jitter backoff (doubling, capped), at least the server's Retry-After
    (capped); after ``attempts`` failed tries the decision is to give up."""
    tries = Retrying(POLICY, lambda: 0.0)
    assert tries.after_failure() == 0.5  # half of base 1 s, no jitter
    assert tries.after_failure(retry_after=60.0) == 10.0  # Retry-After, capped at retry_after_cap
    assert tries.after_failure() is None and tries.failures == POLICY.attempts


def test_retry_throttles_follow_retry_after_then_give_up() -> None:
    """A 429 waits its Retry-After (capped) or the backoff; after ``throttled_attempts`` 429s, give up.
    429s and failures are counted apart."""
    tries = Retrying(POLICY, lambda: 0.5)
    assert tries.after_throttle(2.0) == 2.0
    assert tries.after_throttle() == POLICY.backoff(2, 0.5)
    assert tries.after_failure() is not None
    assert tries.after_throttle(100.0) == POLICY.retry_after_cap
    assert tries.after_throttle() is None
    assert (tries.throttled, tries.failures) == (POLICY.throttled_attempts, 1)


def test_retry_draws_jitter_only_for_a_backoff() -> None:
    """The jitter is drawn only when a backoff is computed (not for a Retry-After, not when giving up), so a
    seeded client retries exactly as before."""
    drawn: list[float] = []

    def unit() -> float:
        drawn.append(0.25)
        return 0.25

    tries = Retrying(RetryPolicy(attempts=2, throttled_attempts=2), unit)
    tries.after_throttle(1.0)
    tries.after_throttle()
    tries.after_failure()
    tries.after_failure()
    assert len(drawn) == 1
