"""Rate limits (sliding windows over accepted requests) and the token flow of the paid tier."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from server_fixtures import ServerFactory

from ingestion.errors import UsageError
from ingestion.server import RunningServer, ServerConfig, SlidingWindowLimiter, TokenBook

QUERY = "/meetings?meeting_key=1229"


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def rows(world_dir: Path) -> list[Path]:
    return [world_dir / "2024"]


def _statuses(server: RunningServer, count: int, headers: dict[str, str] | None = None) -> list[int]:
    with httpx.Client(headers=headers) as client:
        return [client.get(server.base_url + QUERY).status_code for _ in range(count)]


# -- the limiter alone ------------------------------------------------------------------------------------


def test_server_limiter_refuses_beyond_per_second() -> None:
    """Three per second: the 4th request in the same second is refused; a second later it is accepted."""
    limiter = SlidingWindowLimiter(per_second=3, per_minute=30)
    assert [limiter.admit(10.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.admit(10.999) is False
    assert limiter.admit(11.0) is True


def test_server_limiter_refuses_beyond_per_minute() -> None:
    """Thirty per minute: the 31st within 60 s is refused, whatever the spacing; at 60 s the first expires."""
    limiter = SlidingWindowLimiter(per_second=3, per_minute=30)
    accepted = [limiter.admit(0.0 + 2.0 * i) for i in range(30)]  # one every 2 s: 0..58
    assert all(accepted)
    assert limiter.admit(59.5) is False
    assert limiter.admit(60.0) is True  # the request at 0.0 left the window


def test_server_limiter_zero_means_no_limit() -> None:
    """A limit of 0 is no limit."""
    limiter = SlidingWindowLimiter(per_second=0, per_minute=0)
    assert all(limiter.admit(5.0) for _ in range(1000))


def test_server_limiter_rejected_requests_do_not_count() -> None:
    """Refused requests do not fill the window: only accepted ones count."""
    limiter = SlidingWindowLimiter(per_second=1, per_minute=100)
    assert limiter.admit(0.0)
    assert not any(limiter.admit(0.5) for _ in range(50))
    assert limiter.admit(1.0)


@given(
    per_second=st.integers(1, 6),
    per_minute=st.integers(1, 40),
    gaps=st.lists(st.floats(0, 3, allow_nan=False), min_size=1, max_size=120),
)
def test_server_limiter_never_exceeds_its_windows(
    per_second: int, per_minute: int, gaps: list[float]
) -> None:
    """Whatever the arrival times, no 1 s window holds more than per_second accepted requests, no 60 s window
    more than per_minute, and a request is refused only when one of the windows is full."""
    limiter = SlidingWindowLimiter(per_second, per_minute)
    now = 0.0
    accepted: list[float] = []
    for gap in gaps:
        now += gap
        in_second = sum(1 for t in accepted if t > now - 1)
        in_minute = sum(1 for t in accepted if t > now - 60)
        ok = limiter.admit(now)
        assert ok == (in_second < per_second and in_minute < per_minute)
        if ok:
            accepted.append(now)


# -- over HTTP --------------------------------------------------------------------------------------------


def test_server_burst_beyond_per_second_gets_429(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """With the clock standing still, a burst of 8 at 5/s gets 5 answers and 3 `Rate exceeded`."""
    clock = FakeClock()
    server = openf1_server(rows=rows, per_second=5, per_minute=100, clock=clock)
    assert _statuses(server, 8) == [200] * 5 + [429] * 3
    refused = httpx.get(server.base_url + QUERY)
    assert (refused.status_code, refused.text) == (429, "Rate exceeded")
    assert refused.headers["content-type"].startswith("text/plain")
    assert server.stats.rate_limited == 4
    clock.advance(1.0)
    assert _statuses(server, 1) == [200]


def test_server_per_minute_window_without_waiting(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """At 3/s and 30/min, 30 requests paced over 10 fake seconds pass, the 31st is refused until a minute
    after the first."""
    clock = FakeClock()
    server = openf1_server(rows=rows, per_second=3, per_minute=30, clock=clock)
    statuses = []
    for _ in range(10):
        statuses += _statuses(server, 3)
        clock.advance(1.0)
    assert statuses == [200] * 30
    clock.advance(40.0)  # 50 s after the first request
    assert _statuses(server, 1) == [429]
    clock.advance(10.0)  # 60 s after the first three
    assert _statuses(server, 4) == [200, 200, 200, 429]


def test_server_real_clock_burst_sees_429(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """With the real clock, a burst of 60 at 50/min gets exactly 50 answers, then 429s (no waiting)."""
    server = openf1_server(rows=rows, per_second=0, per_minute=50)
    statuses = _statuses(server, 60)
    assert statuses == [200] * 50 + [429] * 10
    assert server.stats.rate_limited == 10


# -- tokens -----------------------------------------------------------------------------------------------


def _token(server: RunningServer, user: str = "ada", password: str = "s3cret") -> httpx.Response:
    return httpx.post(server.token_url, data={"username": user, "password": password})


def test_server_token_grant_has_openf1_shape(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """POST /token with the right form fields answers expires_in (a string), access_token, token_type."""
    server = openf1_server(rows=rows, token=("ada", "s3cret"))
    response = _token(server)
    assert response.status_code == 200
    grant = response.json()
    assert list(grant) == ["expires_in", "access_token", "token_type"]
    assert grant["expires_in"] == "3600"
    assert grant["token_type"] == "bearer"
    assert len(grant["access_token"]) >= 32


@pytest.mark.parametrize(("user", "password"), [("ada", "wrong"), ("bob", "s3cret"), ("", "")])
def test_server_token_wrong_credentials_401(
    openf1_server: ServerFactory, rows: list[Path], user: str, password: str
) -> None:
    """Wrong credentials get 401 and no token."""
    server = openf1_server(rows=rows, token=("ada", "s3cret"))
    response = _token(server, user, password)
    assert response.status_code == 401
    assert "access_token" not in response.json()


def test_server_token_disabled_without_credentials(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """Without --token-user/--token-password there is no POST /token."""
    server = openf1_server(rows=rows)
    assert _token(server).status_code == 404


def test_server_bearer_raises_limits_to_paid_tier(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """With the clock still: anonymous gets 3 answers per second, a Bearer token gets 6 (the paid tier)."""
    clock = FakeClock()
    server = openf1_server(rows=rows, per_second=3, per_minute=30, token=("ada", "s3cret"), clock=clock)
    token = _token(server).json()["access_token"]
    assert _statuses(server, 4) == [200, 200, 200, 429]
    paid = _statuses(server, 7, headers={"Authorization": f"Bearer {token}"})
    assert paid == [200] * 6 + [429]
    assert {r.tier for r in server.stats.records if r.method == "GET"} == {"free", "paid"}


def test_server_paid_limits_are_configurable(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """--paid-per-second sets the paid tier's limit."""
    clock = FakeClock()
    server = openf1_server(rows=rows, token=("ada", "s3cret"), paid_per_second=2, clock=clock)
    token = _token(server).json()["access_token"]
    assert _statuses(server, 3, headers={"Authorization": f"Bearer {token}"}) == [200, 200, 429]


def test_server_token_expires(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A token is good until its lifetime ends; then the same request answers 401."""
    clock = FakeClock()
    server = openf1_server(rows=rows, token=("ada", "s3cret"), token_ttl=60, clock=clock)
    grant = _token(server).json()
    assert grant["expires_in"] == "60"
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    clock.advance(59.9)
    assert _statuses(server, 1, headers) == [200]
    clock.advance(0.1)
    expired = httpx.get(server.base_url + QUERY, headers=headers)
    assert expired.status_code == 401
    assert "detail" in expired.json()


def test_server_unknown_token_401(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A Bearer token the server never issued answers 401."""
    server = openf1_server(rows=rows, token=("ada", "s3cret"))
    response = httpx.get(server.base_url + QUERY, headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401


def test_server_token_book_alone() -> None:
    """TokenBook issues tokens for the right credentials only, and forgets them at expiry."""
    book = TokenBook("ada", "s3cret", ttl=10)
    assert book.issue("ada", "nope", now=0) is None
    token = book.issue("ada", "s3cret", now=0)
    assert token is not None
    assert book.user_of(token, now=9.99) == "ada"
    assert book.user_of(token, now=10) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token_user": "ada"},
        {"token_password": "x"},
        {"token_ttl": 0},
        {"per_second": -1},
        {"port": 70000},
        {"slow_seconds": -1},
    ],
)
def test_server_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    """Inconsistent or impossible settings are usage errors (exit 2)."""
    with pytest.raises(UsageError):
        ServerConfig(**kwargs)  # type: ignore[arg-type]
