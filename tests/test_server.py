"""The OpenF1 stand-in server: OpenF1's filters on the real 2024 rows, over real HTTP on 127.0.0.1.

Every expected count can be checked by hand in ../shared/openf1/world/2024 (25 meetings, 123 sessions,
20 results of the 2024 Bahrain race, session 9472...).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from server_fixtures import ServerFactory

from ingestion.server import NO_RESULTS_BODY, RunningServer

# (path and query exactly as typed, rows expected)
FILTER_CASES = [
    # whole seasons
    ("/meetings?year=2024", 25),
    ("/sessions?year=2024", 123),
    ("/drivers?session_key=9472", 20),
    # operators inside the key: as typed, percent-encoded, parsed forms
    ("/session_result?session_key=9472&position<=3", 3),
    ("/session_result?session_key=9472&position%3C%3D3", 3),
    ("/session_result?session_key=9472&position%3C=3", 3),
    ("/session_result?session_key=9472&position<3", 2),
    ("/session_result?session_key=9472&position%3C3", 2),
    ("/session_result?session_key=9472&position>=19", 2),
    ("/session_result?session_key=9472&position>19", 1),
    ("/session_result?session_key=9472&position>=2&position<=3", 2),
    # a repeated key is OR; an unpaired lower and upper bound are OR too (OpenF1 pairs bounds into intervals)
    ("/meetings?meeting_key=1229&meeting_key=1230", 2),
    ("/session_result?session_key=9472&position=1&position=2", 2),
    ("/session_result?session_key=9472&position>=19&position<=1", 3),
    # numbers compare numerically, floats included
    ("/session_result?session_key=9472&points>=10", 5),
    ("/session_result?session_key=9472&points>=10.0", 5),
    ("/session_result?points>=0", 599),  # `points` is absent outside races and sprints
    # booleans
    ("/session_result?dnf=true", 66),
    ("/session_result?dnf=True", 66),
    ("/session_result?dsq=true", 1),
    # strings, spaces encoded either way, field names case-insensitive
    ("/meetings?country_name=Bahrain", 2),
    ("/sessions?session_type=Race", 30),
    ("/sessions?session_name=Sprint", 6),
    ("/sessions?session_name=Practice%201&year=2024", 25),
    ("/sessions?session_name=Practice+1&year=2024", 25),
    ("/sessions?SESSION_KEY=9472", 1),
    ("/sessions?gmt_offset=03:00:00", 18),
    ("/drivers?team_colour=3671C6", 220),
    ("/drivers?driver_number=1", 122),
    # dates: a date without a time covers the whole day
    ("/sessions?date_start=2024-03-02", 1),
    ("/sessions?date_start=2024-03-02&date_start=2024-03-09", 2),
    ("/sessions?date_start<=2024-03-02", 8),
    ("/sessions?date_start<2024-03-02", 7),
    ("/sessions?date_start>2024-03-02", 115),
    ("/sessions?date_start>=2024-06-01", 80),
    ("/sessions?date_start%3E%3D2024-06-01", 80),
    ("/sessions?date_start>=2024-03-01&date_start<=2024-03-31", 13),
    # a date with a time compares instants; a "+" left unencoded arrives as a space and is repaired
    ("/sessions?date_start>=2024-03-01T15:00:00", 117),
    ("/sessions?date_start=2024-03-02T15:00:00+00:00", 1),
    ("/sessions?date_start=2024-03-02T15:00:00%2B00:00", 1),
    ("/sessions?date_start=2024-03-02T15:00:00Z", 1),
    ("/sessions?date_start=2024-03-02T17:00:00%2B02:00", 1),
]


@pytest.mark.parametrize(("path", "expected"), FILTER_CASES)
def test_server_filters_count_like_openf1(world_2024_server: RunningServer, path: str, expected: int) -> None:
    """Each query answers 200 with the number of real 2024 rows OpenF1 would give."""
    response = httpx.get(world_2024_server.base_url + path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert len(response.json()) == expected


NO_MATCH_CASES = [
    "/drivers?year=2024",  # a row without the field never matches: drivers have no `year`
    "/meetings?year=2023",
    "/meetings?limit=10",  # an unknown parameter is a filter that matches nothing
    "/session_result?session_key=9472&position<1",
    "/session_result?session_key=9472&position=first",  # not a number: cannot match a number
    "/sessions?date_start=2024-02-30",  # not a date: compared as text, matches nothing
    "/drivers?session_key=9472&team_name=red bull racing",  # strings are case-sensitive
    "/laps?session_key=9472",  # an endpoint with no rows here
    "/no_such_endpoint",
    "/meetings?flag",
]


@pytest.mark.parametrize("path", NO_MATCH_CASES)
def test_server_empty_answer_is_404_detail(world_2024_server: RunningServer, path: str) -> None:
    """Nothing matching (or an unknown endpoint) is OpenF1's 404 {"detail":"No results found."}."""
    response = httpx.get(world_2024_server.base_url + path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.content == NO_RESULTS_BODY


def test_server_rows_keep_source_order_and_key_order(
    world_2024_server: RunningServer, world_dir: Path
) -> None:
    """Rows come back as in the source file: same rows, same order, keys in their original order."""
    source = json.loads((world_dir / "2024" / "sessions.json").read_text(encoding="utf-8"))
    response = httpx.get(f"{world_2024_server.base_url}/sessions")
    rows = response.json()
    assert rows == source
    assert [list(row) for row in rows] == [list(row) for row in source]


def test_server_answer_is_compact_json(world_2024_server: RunningServer) -> None:
    """The body is a compact JSON array: no spaces or newlines between tokens."""
    response = httpx.get(f"{world_2024_server.base_url}/sessions", params={"session_key": 9472})
    assert response.content.startswith(b'[{"meeting_key":1229,"session_key":9472,')
    assert b"\n" not in response.content
    assert b'", "' not in response.content


def test_server_params_dict_from_httpx_means_the_same(world_2024_server: RunningServer) -> None:
    """httpx encoding `position<` as `position%3C=3` is read as <=, as OpenF1 reads it."""
    response = httpx.get(
        f"{world_2024_server.base_url}/session_result", params={"session_key": 9472, "position<": 3}
    )
    assert "position%3C=3" in str(response.request.url)
    assert [row["position"] for row in response.json()] == [1, 2, 3]


def test_server_root_and_other_paths(world_2024_server: RunningServer) -> None:
    """`/` answers OpenF1's welcome text; a path outside /v1 is a 404 Not Found."""
    root = httpx.get(world_2024_server.url + "/")
    assert (root.status_code, root.text) == (200, "Welcome to OpenF1!")
    other = httpx.get(world_2024_server.url + "/v2/meetings")
    assert (other.status_code, other.json()) == (404, {"detail": "Not Found"})


def test_server_trailing_slash_and_case_of_endpoint(world_2024_server: RunningServer) -> None:
    """`/v1/Meetings/` is `/v1/meetings`, as OpenF1 lower-cases the path."""
    response = httpx.get(f"{world_2024_server.base_url}/Meetings/?year=2024")
    assert response.status_code == 200
    assert len(response.json()) == 25


def test_server_keep_alive_connections_are_served(world_2024_server: RunningServer) -> None:
    """One HTTP/1.1 client connection serves many requests (keep-alive)."""
    with httpx.Client(base_url=world_2024_server.base_url) as client:
        statuses = [client.get("/meetings", params={"meeting_key": key}).status_code for key in (1229, 1230)]
    assert statuses == [200, 200]


def test_server_stats_count_requests(openf1_server: ServerFactory, world_dir: Path) -> None:
    """`stats` counts every request, per status, in order; `reset_stats` starts again."""
    server = openf1_server(rows=[world_dir / "2024"])
    with httpx.Client(base_url=server.base_url) as client:
        client.get("/meetings?year=2024")
        client.get("/meetings?year=1950")
    stats = server.stats
    assert stats.total == 2
    assert stats.gets == 2
    assert stats.by_status == {200: 1, 404: 1}
    assert stats.rate_limited == 0
    assert stats.requests == [("GET", "/v1/meetings?year=2024"), ("GET", "/v1/meetings?year=1950")]
    server.reset_stats()
    assert server.stats.total == 0


def test_server_stop_closes_port_and_connections(openf1_server: ServerFactory, world_dir: Path) -> None:
    """After stop(), neither a new connection nor a kept-alive one gets an answer; stop is idempotent."""
    server = openf1_server(rows=[world_dir / "2024"])
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/meetings?year=2024").status_code == 200
        server.stop()
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/meetings?year=2024")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}/meetings")


def test_server_other_methods_answer_405(world_2024_server: RunningServer) -> None:
    """HEAD, PUT, DELETE, OPTIONS answer 405 like OpenF1's FastAPI (HEAD without a body), and are logged."""
    world_2024_server.reset_stats()
    head = httpx.head(f"{world_2024_server.base_url}/meetings")
    assert (head.status_code, head.content) == (405, b"")
    for method in ("PUT", "DELETE", "OPTIONS"):
        answer = httpx.request(method, f"{world_2024_server.base_url}/meetings")
        assert (answer.status_code, answer.json()) == (405, {"detail": "Method Not Allowed"})
    assert [r.method for r in world_2024_server.stats.records] == ["HEAD", "PUT", "DELETE", "OPTIONS"]


def test_server_post_with_a_bad_content_length_is_400(
    openf1_server: ServerFactory, world_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A POST whose Content-Length is not a number answers 400 and closes; no traceback is printed."""
    server = openf1_server(rows=[world_dir / "2024"], token=("ada", "s3cret"))
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nusername=ada")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert reply.endswith(b'{"detail":"Invalid Content-Length header."}')
    assert server.stats.by_status == {400: 1}
    assert "Traceback" not in capfd.readouterr().err
