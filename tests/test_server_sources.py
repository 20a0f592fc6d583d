"""What the server serves: rows directories, concatenated, and a snapshot store's latest answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from server_fixtures import ServerFactory

from ingestion.errors import UsageError
from ingestion.server import Dataset, SourceError, load_rows, load_store, open_source
from ingestion.store import Request, Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
NO_RESULTS = b'{"detail":"No results found."}'


def _put(store: Store, run: str, answers: list[tuple[str, bytes, int]], at: datetime) -> None:
    with store.writer(run) as writer:
        for i, (path, body, status) in enumerate(answers):
            request = Request.from_url(path)
            writer.put(
                request,
                body,
                url=f"https://api.openf1.org/v1{request.path}",
                status=status,
                received_at=at + timedelta(seconds=i),
                content_type="application/json",
            )


def _rows(path: Path, where: dict[str, object] | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return [r for r in rows if all(r.get(k) == v for k, v in (where or {}).items())]


def _body(rows: list[dict[str, object]]) -> bytes:
    return json.dumps(rows, indent=1).encode()


@pytest.fixture
def store(tmp_path: Path, world_dir: Path, shared_dir: Path) -> Store:
    """A real store: overlapping requests, a superseded answer, a 404, an answer with an exact duplicate."""
    y2024 = world_dir / "2024"
    store = Store(tmp_path / "snapshots")
    meetings = _rows(y2024 / "meetings.json")
    sessions = _rows(y2024 / "sessions.json")
    duplicate = (shared_dir / "openf1" / "edge-cases" / "drivers_session11230_exact_duplicate__issue408.json")
    _put(store, "run-1", [
        ("/v1/meetings?year=2024", _body(meetings), 200),
        ("/v1/sessions?year=2024", _body(sessions[:2]), 200),  # superseded by run-2
        ("/v1/drivers?session_key=9472", _body(_rows(y2024 / "drivers.json", {"session_key": 9472})), 200),
        ("/v1/laps?session_key=9472", NO_RESULTS, 404),
        ("/v1/drivers?session_key=11230", duplicate.read_bytes(), 200),
    ], T0)
    _put(store, "run-2", [
        ("/v1/sessions?year=2024", _body(sessions), 200),
        # overlapping: a row already served by meetings?year=2024, with its keys in another order
        ("/v1/meetings?meeting_key=1229", _body([dict(reversed(list(meetings[1].items())))]), 200),
        ("/v1/drivers?session_key=9472&driver_number=1",
         _body(_rows(y2024 / "drivers.json", {"session_key": 9472, "driver_number": 1})), 200),
        ("/v1/drivers?session_key=11230&driver_number=87", duplicate.read_bytes(), 200),
    ], T0 + timedelta(hours=1))
    return store


def test_server_store_serves_latest_rows_once(store: Store) -> None:
    """Overlapping requests count a row once; a superseded answer and a 404 add nothing."""
    dataset = load_store(store.root)
    assert dataset.counts() == {"drivers": 20 + 2, "meetings": 25, "sessions": 123}
    assert dataset.rows("laps") is None


def test_server_store_keeps_openf1_duplicates(store: Store) -> None:
    """An exact duplicate inside ONE answer (OpenF1 issue #408) is served as OpenF1 served it: twice."""
    dataset = load_store(store.root)
    rows = [r for r in dataset.rows("drivers") or [] if r["session_key"] == 11230]
    assert len(rows) == 2
    assert rows[0] == rows[1]


def test_server_store_as_of(store: Store) -> None:
    """As of a time before the second run, the older answers are served."""
    dataset = load_store(store.root, as_of=T0 + timedelta(minutes=30))
    assert dataset.counts() == {"drivers": 22, "meetings": 25, "sessions": 2}


def test_server_store_over_http(openf1_server: ServerFactory, store: Store) -> None:
    """A server over the store answers OpenF1 queries from the stored rows; `laps` (a 404) has none."""
    server = openf1_server(store=store.root)
    with httpx.Client(base_url=server.base_url) as client:
        assert len(client.get("/meetings?year=2024").json()) == 25
        assert len(client.get("/sessions", params={"year": 2024}).json()) == 123
        assert len(client.get("/drivers?session_key=9472&team_name=Red Bull Racing").json()) == 2
        laps = client.get("/laps?session_key=9472")
    assert (laps.status_code, laps.content) == (404, NO_RESULTS)


def test_server_store_missing_dir_is_usage_error(tmp_path: Path) -> None:
    """--store naming no directory is a usage error."""
    with pytest.raises(SourceError) as caught:
        load_store(tmp_path / "nope")
    assert caught.value.exit_code == 2


def test_server_rows_of_several_dirs_concatenate(world_dir: Path) -> None:
    """Two --rows directories: each endpoint's rows are those of both, in order."""
    dataset = load_rows([world_dir / "2023", world_dir / "2024"])
    assert dataset.counts() == {
        "drivers": 2266 + 2457,
        "meetings": 23 + 25,
        "session_result": 2171 + 2441,
        "sessions": 113 + 123,
        "starting_grid": 555 + 599,
    }
    meetings = dataset.rows("meetings") or []
    assert (meetings[0]["year"], meetings[-1]["year"]) == (2023, 2024)


@pytest.mark.parametrize(
    ("files", "problem"),
    [({}, "no ENDPOINT.json"), ({"meetings.json": b'{"a": 1}'}, "not a JSON array"),
     ({"meetings.json": b"[1, 2]"}, "not a JSON array"), ({"meetings.json": b"[{"}, "not a JSON array")],
)
def test_server_rows_bad_dir_is_usage_error(tmp_path: Path, files: dict[str, bytes], problem: str) -> None:
    """A rows directory without ENDPOINT.json files, or with a file that is not an array of objects, is
    refused with a one-line usage error naming the problem."""
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    with pytest.raises(SourceError, match=problem):
        load_rows([tmp_path])


def test_server_rows_missing_dir_is_usage_error(tmp_path: Path) -> None:
    """--rows naming no directory is a usage error (exit 2)."""
    with pytest.raises(SourceError, match="not a directory") as caught:
        load_rows([tmp_path / "missing"])
    assert caught.value.exit_code == 2


def test_server_open_source_needs_something(tmp_path: Path) -> None:
    """Neither --rows nor --store: a usage error, not an empty server."""
    with pytest.raises(UsageError, match="nothing to serve"):
        open_source([], None)


def test_server_open_source_rows_then_store(world_dir: Path, store: Store) -> None:
    """--rows and --store together: the rows of both, per endpoint."""
    dataset = open_source([world_dir / "2023"], store.root)
    assert dataset.counts()["meetings"] == 23 + 25


def test_server_dataset_merged_keeps_order() -> None:
    """Dataset.merged appends the other dataset's rows after this one's, endpoint by endpoint."""
    a = Dataset.of({"Meetings": [{"meeting_key": 1}]})
    b = Dataset.of({"meetings": [{"meeting_key": 2}], "sessions": [{"session_key": 3}]})
    merged = a.merged(b)
    assert merged.tables == {
        "meetings": [{"meeting_key": 1}, {"meeting_key": 2}],
        "sessions": [{"session_key": 3}],
    }
    assert a.tables == {"meetings": [{"meeting_key": 1}]}
