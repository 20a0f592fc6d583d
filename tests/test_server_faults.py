"""Faults on demand: every Nth GET fails the way OpenF1 (or the network in front of it) fails."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from server_fixtures import ServerFactory

from ingestion.server import LIVE_SESSION_DETAIL, Fault, FaultSyntaxError, RunningServer

QUERY = "/sessions?session_key=9472"


@pytest.fixture
def rows(world_dir: Path) -> list[Path]:
    return [world_dir / "2024"]


def _get(server: RunningServer, client: httpx.Client) -> httpx.Response:
    return client.get(server.base_url + QUERY)


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("429", 429, "text/plain"),
        ("500", 500, "text/html"),
        ("502", 502, "text/html"),
        ("503", 503, "text/html"),
        ("504", 504, "text/html"),
        ("401", 401, "application/json"),
        ("html", 200, "text/html"),
    ],
)
def test_server_fault_every_nth_get_answers_kind(
    openf1_server: ServerFactory, rows: list[Path], kind: str, status: int, content_type: str
) -> None:
    """With KIND:3, GETs 3 and 6 answer KIND's status and body; the others answer normally."""
    server = openf1_server(rows=rows, faults=[f"{kind}:3"])
    with httpx.Client() as client:
        answers = [_get(server, client) for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, status, 200, 200, status]
    for bad in (answers[2], answers[5]):
        assert bad.headers["content-type"].startswith(content_type)
    assert answers[0].json()[0]["session_key"] == 9472
    assert [r.fault for r in server.stats.records] == [None, None, kind, None, None, kind]


def test_server_fault_429_says_rate_exceeded(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A 429 fault answers exactly the text OpenF1 gives: `Rate exceeded`, no Retry-After."""
    server = openf1_server(rows=rows, faults=["429:1"])
    response = httpx.get(server.base_url + QUERY)
    assert (response.status_code, response.text) == (429, "Rate exceeded")
    assert "retry-after" not in response.headers
    assert server.stats.rate_limited == 1


def test_server_fault_401_is_the_live_session_body(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A 401 fault answers OpenF1's live-session body, word for word."""
    server = openf1_server(rows=rows, faults=["401:1"])
    response = httpx.get(server.base_url + QUERY)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Session in progress, access is restricted to authenticated users..."
    }
    assert response.json()["detail"] == LIVE_SESSION_DETAIL


def test_server_fault_500_is_an_html_page(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A 500 fault answers an HTML error page, which is not JSON."""
    server = openf1_server(rows=rows, faults=["500:1"])
    response = httpx.get(server.base_url + QUERY)
    assert response.text.startswith("<!DOCTYPE html>")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_server_fault_truncated_cuts_the_body_in_half(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A truncated answer is 200 with the first half of the real body and a Content-Length that matches."""
    server = openf1_server(rows=rows, faults=["truncated:2"])
    with httpx.Client() as client:
        whole = _get(server, client)
        cut = _get(server, client)
    assert cut.status_code == 200
    assert int(cut.headers["content-length"]) == len(cut.content) == len(whole.content) // 2
    assert whole.content.startswith(cut.content)
    with pytest.raises(json.JSONDecodeError):
        cut.json()


def test_server_fault_reset_closes_without_answer(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A reset fault closes the connection without a byte of answer; the next GET is answered."""
    server = openf1_server(rows=rows, faults=["reset:2"])
    with httpx.Client() as client:
        assert _get(server, client).status_code == 200
        with pytest.raises(httpx.TransportError):
            _get(server, client)
        assert _get(server, client).status_code == 200
    assert [r.status for r in server.stats.records] == [200, 0, 200]


def test_server_fault_slow_answers_late(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """A slow answer outlasts a client timeout shorter than --slow-seconds; awaited, it is a full answer."""
    server = openf1_server(rows=rows, faults=["slow:1"], slow_seconds=0.3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.base_url + QUERY, timeout=0.05)
    late = httpx.get(server.base_url + QUERY, timeout=10)
    assert late.status_code == 200
    assert late.json()[0]["session_key"] == 9472


def test_server_fail_at_and_fail_next(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """Tests install faults for given GET numbers (fail_at) or for the next few GETs (fail_next: a burst)."""
    server = openf1_server(rows=rows)
    server.fail_at("503", 2, 4)
    with httpx.Client() as client:
        first = [_get(server, client).status_code for _ in range(5)]
        server.fail_next("502", times=3)
        burst = [_get(server, client).status_code for _ in range(4)]
    assert first == [200, 503, 200, 503, 200]
    assert burst == [502, 502, 502, 200]


def test_server_clear_faults_stops_periodic_ones(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """clear_faults removes the configured periodic faults too."""
    server = openf1_server(rows=rows, faults=["500:1"])
    assert httpx.get(server.base_url + QUERY).status_code == 500
    server.clear_faults()
    assert httpx.get(server.base_url + QUERY).status_code == 200


def test_server_faults_count_every_get(openf1_server: ServerFactory, rows: list[Path]) -> None:
    """Fault numbering counts every GET, even those the limits refuse."""
    server = openf1_server(rows=rows, per_second=1, per_minute=1000, faults=["503:3"], clock=lambda: 1000.0)
    with httpx.Client() as client:
        statuses = [_get(server, client).status_code for _ in range(3)]
    assert statuses == [200, 429, 503]


@pytest.mark.parametrize(
    ("text", "fault"),
    [("503:3", Fault("503", 3)), ("reset", Fault("reset", 1)), (" slow:10 ", Fault("slow", 10))],
)
def test_server_fault_parse(text: str, fault: Fault) -> None:
    """`KIND:EVERY` parses; EVERY defaults to 1."""
    assert Fault.parse(text) == fault


@pytest.mark.parametrize("text", ["418:2", "503:0", "503:x", "", "500:-1"])
def test_server_fault_parse_rejects_bad_text(text: str) -> None:
    """An unknown kind or an EVERY below 1 is a usage error (exit 2)."""
    with pytest.raises(FaultSyntaxError) as caught:
        Fault.parse(text)
    assert caught.value.exit_code == 2
