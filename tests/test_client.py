"""The OpenF1 client's protocol: reading answers (pure), URLs sent verbatim, retries, 429s, blocks.

These use httpx.MockTransport to script answers at the protocol level; the fetch tests run the client
against the real stand-in server over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from server_fixtures import FAST

from ingestion.openf1.body import classify
from ingestion.openf1.client import Answer, Note, OpenF1Client, RetryPolicy, retry_after
from ingestion.openf1.limiter import Limiter
from ingestion.openf1.token import Token, TokenError, parse_token, token_url
from ingestion.store import Request

NO_RESULTS = b'{"detail":"No results found."}'
LIVE = b'{"detail":"Session in progress, access is restricted to authenticated users..."}'
ROWS = b'[{"meeting_key":1229,"year":2024}]'


def test_classify_reads_every_kind_of_answer() -> None:
    """Arrays are rows; the detail is empty (200 or 404); 429 throttled; 5xx and bad 200 bodies retried;
    the live-session 401 blocks; other 4xx fail."""
    assert classify(200, ROWS).kind == "rows"
    assert classify(200, b"[]").kind == "rows"
    assert classify(404, NO_RESULTS).kind == "empty"
    assert classify(200, NO_RESULTS).kind == "empty"
    assert classify(429, b"Rate exceeded").kind == "throttled"
    for status in (500, 502, 503, 504):
        assert classify(status, b"<html>oops</html>").kind == "retry"
    assert classify(200, b"<!DOCTYPE html><html></html>").kind == "retry"
    assert classify(200, ROWS[: len(ROWS) // 2]).kind == "retry"
    assert classify(200, b"[1, 2]").kind == "retry"
    assert classify(401, LIVE).kind == "blocked"
    assert classify(401, b'{"detail":"Invalid or expired token."}').kind == "unauthorized"
    assert classify(422, b'{"detail":"too much data"}').kind == "failed"
    assert classify(404, b'{"detail":"Not Found"}').kind == "failed"


@given(st.binary(max_size=200))
def test_classify_never_calls_garbage_rows(body: bytes) -> None:
    """A 200 body is rows only when it decodes as a JSON array of objects."""
    verdict = classify(200, body)
    if verdict.kind == "rows":
        assert body.lstrip().startswith(b"[")


def test_retry_after_reads_seconds_and_dates() -> None:
    """Retry-After as seconds or an HTTP date; unreadable or absent -> None."""
    now = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("2", now) == 2.0
    assert retry_after("Fri, 01 Mar 2024 12:00:05 GMT", now) == 5.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


@given(st.integers(1, 30), st.floats(0, 0.999))
def test_retry_policy_backoff_is_capped_and_never_zero(retry: int, unit: float) -> None:
    """Backoff grows exponentially, never exceeds the cap and never drops below half the delay."""
    policy = RetryPolicy(base=1.0, cap=30.0)
    delay = policy.backoff(retry, unit)
    nominal = min(30.0, 2.0 ** (retry - 1))
    assert nominal / 2 <= delay <= nominal <= 30.0


def test_token_parse_and_hide() -> None:
    """expires_in comes as a string; the token's repr never shows it; bad answers raise TokenError."""
    value, expires = parse_token(b'{"expires_in":"3600","access_token":"s3cr3t","token_type":"bearer"}')
    assert (value, expires) == ("s3cr3t", 3600.0)
    token = Token(value, expires, obtained_at=0.0)
    assert "s3cr3t" not in repr(token)
    assert not token.due(3000.0) and token.due(3300.0)  # renewed 5 minutes before expiry
    with pytest.raises(TokenError):
        parse_token(b"<html>")
    assert token_url("https://api.openf1.org/v1") == "https://api.openf1.org/token"


class Recorder:
    def __init__(self, answers: list[httpx.Response | Exception]) -> None:
        self.answers: Iterator[httpx.Response | Exception] = iter(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _get(
    answers: list[httpx.Response | Exception], request: Request, policy: RetryPolicy = FAST
) -> tuple[Answer, Recorder, list[Note]]:
    recorder = Recorder(answers)
    notes: list[Note] = []
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> Answer:
        client = OpenF1Client(
            "http://openf1.test/v1",
            Limiter(1000, 100000),
            policy,
            transport=httpx.MockTransport(recorder),
            sleep=fake_sleep,
            on_note=notes.append,
        )
        async with client:
            return await client.get(request)

    return asyncio.run(go()), recorder, notes


def test_client_sends_operators_verbatim() -> None:
    """The query string goes as the request's canonical path: `date_start%3E=` (>=) is not re-encoded."""
    request = Request.from_url("/v1/sessions?date_start%3E=2024-06-01&year=2024")
    answer, recorder, _ = _get([httpx.Response(200, content=ROWS)], request)
    assert answer.outcome == "rows"
    assert recorder.seen[0].url.raw_path == b"/v1/sessions?date_start%3E=2024-06-01&year=2024"
    assert answer.url == "http://openf1.test/v1/sessions?date_start%3E=2024-06-01&year=2024"


def test_client_empty_answer_is_stored_as_404() -> None:
    """ "No results found." with 200 or 404 is an empty answer whose stored status is 404."""
    request = Request.make("drivers", [("meeting_key", "1")])
    for status in (200, 404):
        answer, _, _ = _get([httpx.Response(status, content=NO_RESULTS)], request)
        assert (answer.outcome, answer.stored_status, answer.body) == ("empty", 404, NO_RESULTS)


def test_client_retries_5xx_resets_and_bad_bodies_then_succeeds() -> None:
    """A 503 and a reset and an HTML 200 are retried; the third retry's rows are the answer."""
    request = Request.make("meetings", [("year", "2024")])
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503, content=b"<html>busy</html>"),
        httpx.ReadError("connection reset by peer"),
        httpx.Response(200, content=b"<!DOCTYPE html><html></html>"),
        httpx.Response(200, content=ROWS),
    ]
    recorder = Recorder(answers)

    async def go() -> Answer:
        async def no_sleep(seconds: float) -> None:
            del seconds

        client = OpenF1Client(
            "http://openf1.test/v1",
            Limiter(1000, 100000),
            FAST,
            transport=httpx.MockTransport(recorder),
            sleep=no_sleep,
        )
        async with client:
            return await client.get(request)

    answer = asyncio.run(go())
    assert answer.outcome == "rows" and answer.body == ROWS
    assert (answer.attempts, answer.retries, answer.throttled) == (4, 3, 0)


def test_client_gives_up_after_the_attempts() -> None:
    """Only 5xx: after `attempts` tries the request fails with its URL and last status."""
    request = Request.make("meetings", [("year", "2024")])
    answer, recorder, _ = _get([httpx.Response(502)] * FAST.attempts, request)
    assert answer.outcome == "failed"
    assert answer.status == 502 and answer.attempts == FAST.attempts and len(recorder.seen) == FAST.attempts
    assert f"gave up after {FAST.attempts} tries" in answer.reason


def test_client_honours_retry_after_on_429() -> None:
    """A 429 with Retry-After waits that long, counts a 429, then asks again."""
    request = Request.make("meetings", [("year", "2024")])
    answer, _, notes = _get(
        [
            httpx.Response(429, headers={"Retry-After": "0.03"}, content=b"Rate exceeded"),
            httpx.Response(429, content=b"Rate exceeded"),
            httpx.Response(200, content=ROWS),
        ],
        request,
    )
    assert answer.outcome == "rows"
    assert answer.throttled == 2 and answer.retries == 2
    throttled = [note for note in notes if note.kind == "throttled"]
    assert throttled[0].seconds == pytest.approx(0.03)
    assert 0 < throttled[1].seconds <= FAST.cap


def test_client_does_not_retry_other_4xx() -> None:
    """A 422 fails at once: one attempt, reported with the URL."""
    request = Request.make("car_data", [("session_key", "9472")])
    answer, recorder, _ = _get([httpx.Response(422, content=b'{"detail":"too much"}')], request)
    assert answer.outcome == "failed" and answer.attempts == 1 and len(recorder.seen) == 1
    assert answer.url.endswith("/car_data?session_key=9472")


def test_client_stops_on_live_session() -> None:
    """The live-session 401 is `blocked` after one attempt: no retry, no hammering."""
    request = Request.make("meetings", [("year", "2024")])
    answer, recorder, _ = _get([httpx.Response(401, content=LIVE)], request)
    assert answer.outcome == "blocked" and len(recorder.seen) == 1
    assert "Session in progress" in answer.reason


def test_client_retries_timeouts_and_undecodable_bodies() -> None:
    """A connect timeout, a read timeout and a body that does not decode (a corrupt gzip stream) are
    retried like a 5xx, never raised; the rows that follow are the answer."""
    request = Request.make("meetings", [("year", "2024")])
    answer, recorder, notes = _get(
        [
            httpx.ConnectTimeout("connect timed out"),
            httpx.ReadTimeout("read timed out"),
            httpx.Response(
                200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip at all")
            ),
            httpx.Response(200, content=ROWS),
        ],
        request,
        FAST,
    )
    assert answer.outcome == "rows" and answer.body == ROWS
    assert (answer.attempts, answer.retries, answer.throttled, len(recorder.seen)) == (4, 3, 0, 4)
    reasons = [note.reason for note in notes if note.kind == "retry"]
    assert reasons[0].startswith("timeout (ConnectTimeout)")
    assert reasons[1].startswith("timeout (ReadTimeout)")
    assert reasons[2].startswith("DecodingError")


def test_client_timeouts_give_up_as_a_failure_without_status() -> None:
    """Only timeouts: after `attempts` tries the request fails with no status, never an exception."""
    request = Request.make("meetings", [("year", "2024")])
    answer, recorder, _ = _get([httpx.ReadTimeout("read timed out")] * FAST.attempts, request)
    tries = FAST.attempts
    assert (answer.outcome, answer.status) == ("failed", None)
    assert answer.attempts == len(recorder.seen) == tries
    assert "timeout" in answer.reason and f"gave up after {tries} tries" in answer.reason


def test_client_never_shows_the_token_or_the_password() -> None:
    """With credentials, a token from POST /token (expires_in a string) goes in the Authorization header;
    an answer that echoes the token or the password is reported with both masked."""
    token = "tok-4f9b2c1d8e7a6b5c"
    answers: list[httpx.Response | Exception] = [
        httpx.Response(200, json={"expires_in": "3600", "access_token": token, "token_type": "bearer"}),
        httpx.Response(422, json={"detail": f"bad query for {token} (user fan, password hunter2)"}),
    ]
    recorder = Recorder(answers)
    notes: list[Note] = []

    async def go() -> Answer:
        async def no_sleep(seconds: float) -> None:
            del seconds

        client = OpenF1Client(
            "http://openf1.test/v1",
            Limiter(1000, 100000),
            FAST,
            credentials=("fan", "hunter2"),
            transport=httpx.MockTransport(recorder),
            sleep=no_sleep,
            on_note=notes.append,
        )
        async with client:
            return await client.get(Request.make("car_data", [("session_key", "9472")]))

    answer = asyncio.run(go())
    post, get = recorder.seen
    assert (post.method, str(post.url)) == ("POST", "http://openf1.test/token")
    assert post.content == b"username=fan&password=hunter2"
    assert get.headers["Authorization"] == f"Bearer {token}"
    assert answer.outcome == "failed" and answer.attempts == 1
    shown = answer.reason + " ".join(note.reason for note in notes) + repr(answer)
    assert "bad query for" in answer.reason
    assert token not in shown and "hunter2" not in shown


@pytest.mark.parametrize(("status", "says"), [
    (401, "refused the credentials (HTTP 401)"),
    (403, "refused the credentials (HTTP 403)"),
    (404, "is not a token endpoint (HTTP 404)"),
    (405, "is not a token endpoint (HTTP 405)"),
    (501, "is not a token endpoint (HTTP 501)"),
])  # fmt: skip
def test_client_token_endpoint_that_is_not_one_is_named_so(status: int, says: str) -> None:
    """POST /token answered 401/403: the credentials were refused. Answered 404, 405 or 501 (a server with
    no token endpoint: an old mirror, `python -m http.server`): nothing judged them, and the error says so
    instead of blaming OPENF1_USERNAME/OPENF1_PASSWORD."""
    recorder = Recorder([httpx.Response(status, text="no")])

    async def go() -> Answer:
        client = OpenF1Client(
            "http://openf1.test/v1", Limiter(1000, 100000), FAST, credentials=("fan", "hunter2"),
            transport=httpx.MockTransport(recorder),
        )  # fmt: skip
        async with client:
            return await client.get(Request.make("meetings", [("year", "2024")]))

    with pytest.raises(TokenError) as raised:
        asyncio.run(go())
    assert says in str(raised.value) and len(recorder.seen) == 1
    if status >= 404:
        assert "check OPENF1_USERNAME" not in str(raised.value) and "OPENF1_BASE_URL" in str(raised.value)
