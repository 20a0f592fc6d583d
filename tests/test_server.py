"""The OpenF1 stand-in server: OpenF1's filters on the real 2024 rows, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from ingestion.server import RunningServer

# (path and query as typed, rows expected): every count checkable by hand in ../shared/openf1/world/2024
FILTER_CASES = [
    ("/meetings?year=2024", 25),
    ("/sessions?year=2024", 123),
    ("/session_result?session_key=9472&position<=3", 3),
    ("/session_result?session_key=9472&position%3C%3D3", 3),
    ("/session_result?session_key=9472&position<3", 2),
    ("/session_result?session_key=9472&position%3C3", 2),
    ("/meetings?meeting_key=1229&meeting_key=1230", 2),
]


@pytest.mark.parametrize(("path", "expected"), FILTER_CASES)
def test_server_filters_count_like_openf1(world_2024_server: RunningServer, path: str, expected: int) -> None:
    """Each query answers 200 with the number of real 2024 rows OpenF1 would give."""
    response = httpx.get(world_2024_server.base_url + path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert len(response.json()) == expected
