"""Hostile bodies: deep nesting, SQL text, NULs, huge strings, wrong types (issue 17, defect 8; the campaign).

A body nested 1,000 deep raised RecursionError in ``snapshots import`` and ``fetch``. Now it is an invalid
body like any other, by the one body contract (``openf1/body.py``): retried on fetch (serve's ``deep`` fault),
refused on import with one line. The other hostile bodies are stored as the data they are and replay keeps
the database intact: SQL text is a value, never SQL; rows that do not fit are skipped with warnings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from campaign import cases
from hypothesis import given
from hypothesis import strategies as st
from test_replay_support import AS_OF, put_answers, world_answers

from ingestion.db import connect
from ingestion.openf1.body import MAX_DEPTH, body_kind, classify, decode_rows, detail_of, too_deep
from ingestion.openf1.wire import Driver
from ingestion.replay import TABLE_NAMES
from ingestion.replay.run import run_replay
from ingestion.store import Store

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECTS = b'[{"a":' + b'{"b":' * 999 + b"1" + b"}" * 999 + b"}]"
DEEP_IN_ROW = b'[{"meeting_key":1229,"x":' + b"[" * 900 + b"]" * 900 + b"}]"
DEEP_BODIES = {"arrays": DEEP, "objects": DEEP_OBJECTS, "inside a row": DEEP_IN_ROW}


@pytest.mark.reliability("hostile bodies")
@pytest.mark.parametrize("body", list(DEEP_BODIES.values()), ids=list(DEEP_BODIES))
def test_body_nested_1000_deep_is_invalid(body: bytes) -> None:
    """Every reader of the body contract says `invalid` (it raised RecursionError)."""
    kind, reason = body_kind(body)
    assert kind == "invalid" and f"deeper than {MAX_DEPTH}" in reason
    assert classify(200, body).kind == "retry"
    assert classify(404, body).kind == "failed"
    assert detail_of(body) is None
    read = decode_rows(Driver, body)
    assert read.kind == "invalid" and read.rows == []


def test_body_real_rows_are_not_too_deep(world_dir: Path) -> None:
    """Every real OpenF1 file is well within the bound (strings holding brackets do not count)."""
    for path in sorted(world_dir.glob("*/*.json")):
        assert body_kind(path.read_bytes())[0] == "rows", path
    tricky = b'[{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[[[[["}]'
    assert body_kind(tricky) == ("rows", "")


@pytest.mark.reliability("hostile bodies")
@pytest.mark.parametrize("name", list(DEEP_BODIES))
def test_import_deep_body_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    """``ingest snapshots import`` of a deep body: one line, exit 2 (nothing stored), not a traceback."""
    body = tmp_path / "deep.json"
    body.write_bytes(DEEP_BODIES[name])
    store = tmp_path / "store"
    result = subprocess.run(
        [sys.executable, "-m", "ingestion", "snapshots", "import", str(body), "--url",
         "/v1/drivers?meeting_key=1229", "--store", str(store)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "deeper than" in lines[0]
    assert not list((store / "objects").rglob("*")) if (store / "objects").exists() else True


# --- hostile rows through replay --------------------------------------------------------------------------

SQL = "Robert'); DROP TABLE drivers; --"
HUGE = "x" * (10 * 1024 * 1024)


def _hostile(row: dict[str, object], seed: int) -> dict[str, object]:
    """A real drivers row made hostile in one of several ways, by ``seed``."""
    changed = dict(row)
    way = seed % 6
    if way == 0:
        changed["full_name"] = SQL
        changed["last_name"] = "'; DELETE FROM results; --"
    elif way == 1:
        changed["full_name"] = "Max\x00Verstappen"
        changed["name_acronym"] = "\x00\x00\x00"
    elif way == 2:
        changed["full_name"] = HUGE
    elif way == 3:
        changed["driver_number"] = "one"
        changed["session_key"] = [1, 2]
    elif way == 4:
        changed["meeting_key"] = {"$ne": None}
        changed["team_name"] = 12345
    else:
        changed["first_name"] = "Zoë 🏎️ \u202e"
        changed["broadcast_name"] = None
    return changed


@pytest.mark.reliability("hostile bodies")
@pytest.mark.parametrize("seed", cases(full=12, sample=1))
def test_replay_hostile_rows_stored_as_data_database_intact(
    seed: int, db_url: str, tmp_path: Path, world_dir: Path
) -> None:
    """A 2024 store with one meeting's drivers made hostile: replay ends normally, every table is still
    there, SQL text is only ever a value, and other meetings' rows are all loaded."""
    # the season's lists and three meetings' answers (a whole season would make the sample slow)
    keys = sorted({p.split("=")[1] for p, _, _ in world_answers(2024) if "meeting_key=" in p})[:3]
    answers = [a for a in world_answers(2024) if "meeting_key=" not in a[0] or a[0].split("=")[1] in keys]
    target = next(i for i, (path, status, _) in enumerate(answers)
                  if path.startswith("/v1/drivers?") and status == 200)
    path, _, body = answers[target]
    rows = json.loads(body)
    rows = [_hostile(r, seed + i) if i % 2 == 0 else r for i, r in enumerate(rows)]
    answers[target] = (path, 200, json.dumps(rows, ensure_ascii=False).encode())
    store = Store(tmp_path / "store")
    put_answers(store, answers)
    summary = run_replay(db_url, store, AS_OF, results=True)
    assert summary.tables["drivers"].inserted > 0
    with connect(db_url) as conn:
        present = {str(r[0]) for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
        assert set(TABLE_NAMES) <= present
        results = conn.execute("SELECT count(*) FROM results").fetchone()
        assert results is not None and int(str(results[0])) > 50  # results were never deleted
        named = conn.execute("SELECT first_name, last_name FROM drivers").fetchall()
        names = [f"{first} {last}" for first, last in named]
    assert all("\x00" not in n for n in names)
    assert len(names) >= 20



json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab:,', max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=3),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(value=json_values, limit=st.integers(min_value=0, max_value=12), ascii_only=st.booleans())
def test_too_deep_agrees_with_the_real_nesting(value: object, limit: int, ascii_only: bool) -> None:
    """Brackets, quotes and backslashes inside strings never count; the bound is exact."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert too_deep(body, limit) == (_depth(value) > limit)
