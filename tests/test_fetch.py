"""The fetch run against the real stand-in server over HTTP on 127.0.0.1: pacing, faults, blocks, tokens.

Limits are fast on both sides (the server enforces them, the client paces itself at the same numbers) so
a whole season takes seconds; backoff is tiny so retries never sleep long.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from server_fixtures import FAST, client_settings

from ingestion.cli import main
from ingestion.cli.fetch import INTERRUPTED
from ingestion.config import Settings
from ingestion.fetch import (
    Blocked,
    FailedRequest,
    FetchOptions,
    FetchSummary,
    Progress,
    TokenError,
    fetch,
    render_summary,
)
from ingestion.fetch.plan import decode_meetings, decode_sessions, session_end
from ingestion.openf1.body import classify
from ingestion.openf1.client import OpenF1Client
from ingestion.openf1.limiter import Limiter
from ingestion.server import RunningServer
from ingestion.store import Request, Store
from ingestion.store.commands import fsck

PER_SECOND, PER_MINUTE = 60.0, 600
NOW = datetime(2025, 6, 1, tzinfo=UTC)  # 2024 is over and settled

ServerFactory = Callable[..., RunningServer]


def _settings(server: RunningServer, store: Path, credentials: tuple[str, str] | None = None) -> Settings:
    return client_settings(
        server, store, per_second=PER_SECOND, per_minute=PER_MINUTE, credentials=credentials
    )


def _options(**changes: object) -> FetchOptions:
    """One request per meeting (77 for 2024: plenty to pace, fault and interrupt); batches are tested in
    test_fetch_batch.py."""
    base = FetchOptions(years=(2024,), retry=FAST, batch=False, revalidate_days=None)
    return msgspec.structs.replace(base, **changes)


def _expected_2024(world_dir: Path) -> int:
    """2 year lists + 3 requests per 2024 meeting with a session ended before NOW, counted from the data."""
    sessions = decode_sessions((world_dir / "2024" / "sessions.json").read_bytes())
    meetings = decode_meetings((world_dir / "2024" / "meetings.json").read_bytes())
    ended = {s.meeting_key for s in sessions if (end := session_end(s)) is not None and end <= NOW}
    assert ended <= {m.meeting_key for m in meetings}
    return 2 + 3 * len(ended)


def _assert_store_valid(store: Path) -> dict[str, int]:
    """Every stored answer is a JSON array (status 200) or OpenF1's "No results found." (status 404)."""
    s = Store(store)
    statuses: dict[str, int] = {}
    for event in s.events():
        body = s.read(event.address)
        verdict = classify(event.status, body)
        assert (event.status, verdict.kind) in {(200, "rows"), (404, "empty")}, (event.key, body[:80])
        statuses[event.key] = event.status
    return statuses


@pytest.fixture
def season_server(openf1_server: ServerFactory, world_dir: Path) -> Callable[..., RunningServer]:
    def start(**kwargs: object) -> RunningServer:
        return openf1_server(
            rows=[world_dir / "2024"], per_second=PER_SECOND, per_minute=PER_MINUTE, **kwargs
        )

    return start


def test_fetch_cold_season_asks_exactly_the_plan_without_429(
    season_server: Callable[..., RunningServer], world_dir: Path, tmp_path: Path
) -> None:
    """A cold `fetch --year 2024` under enforced limits: no 429, exactly 2 + 3 x meetings requests, all
    stored; a second run asks nothing."""
    server = season_server()
    expected = _expected_2024(world_dir)
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert summary.exit_code == 0, summary.failed
    assert server.stats.rate_limited == 0 and summary.throttled == 0
    assert summary.planned == summary.requests == summary.http_requests == server.stats.gets == expected == 77
    assert summary.new_snapshots + summary.unchanged + summary.empty == expected
    stored = _assert_store_valid(tmp_path / "store")
    assert len(stored) == expected
    assert summary.least_s > 0 and summary.ratio is not None

    again = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert (again.planned, again.http_requests, again.exit_code) == (0, 0, 0)
    assert server.stats.gets == expected


def test_fetch_no_results_never_asks_results(
    season_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """--no-results: lists and drivers only; no session_result or starting_grid request reaches the server."""
    server = season_server()
    summary = fetch(_settings(server, tmp_path / "store"), _options(results=False), NOW)
    assert summary.exit_code == 0 and summary.planned == 2 + 25
    paths = [path for _, path in server.stats.requests]
    assert not any("session_result" in p or "starting_grid" in p for p in paths)


@pytest.mark.reliability("every fault kind of ingest serve")
@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "reset", "truncated", "html", "deep"])
def test_fetch_survives_each_fault(
    season_server: Callable[..., RunningServer], world_dir: Path, tmp_path: Path, kind: str
) -> None:
    """Every 4th GET fails as `kind`: everything ends up stored and valid, nothing invalid is stored, the
    summary counts each fault as a retry (and 429s as 429s), exit 0; a second run asks nothing."""
    server = season_server(faults=[f"{kind}:4"])
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    expected = _expected_2024(world_dir)
    assert summary.exit_code == 0, summary.failed
    assert summary.requests == expected and not summary.failed
    faults = server.stats.faults
    assert faults > 0
    assert summary.retries == faults
    assert summary.http_requests == server.stats.gets == expected + faults
    if kind == "429":
        assert summary.throttled == faults == server.stats.rate_limited
    else:
        assert summary.throttled == 0
    assert len(_assert_store_valid(tmp_path / "store")) == expected

    server.clear_faults()
    again = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert again.planned == 0


def test_fetch_waits_out_a_429_burst(
    season_server: Callable[..., RunningServer], world_dir: Path, tmp_path: Path
) -> None:
    """Five 429s in a row on one request: waited out and counted; everything stored, exit 0."""
    server = season_server()
    server.fail_at("429", 3, 4, 5, 6, 7)
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert summary.exit_code == 0 and summary.throttled == 5 == server.stats.rate_limited
    assert len(_assert_store_valid(tmp_path / "store")) == _expected_2024(world_dir)


def test_fetch_gives_up_and_reports_failures(
    season_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """Every GET answers 503: each request fails after its attempts, nothing is stored, exit 1."""
    server = season_server(faults=["503:1"])
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert summary.exit_code == 1
    assert [f.url for f in summary.failed] == [
        f"{server.base_url}/meetings?year=2024",
        f"{server.base_url}/sessions?year=2024",
    ]
    assert all(f.attempts == FAST.attempts and f.status == 503 for f in summary.failed)
    assert server.stats.gets == 2 * FAST.attempts
    assert Store(tmp_path / "store").events() == []


def test_fetch_other_4xx_fails_without_retry(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """A 404 that is not "No results found." (a wrong base URL) fails at once, never retried."""
    server = openf1_server(rows=[world_dir / "2024"])
    settings = msgspec.structs.replace(
        _settings(server, tmp_path / "store"), openf1_base_url=f"{server.url}/v2"
    )
    summary = fetch(settings, _options(), NOW)
    assert summary.exit_code == 1 and len(summary.failed) == 2
    assert all(f.attempts == 1 and f.status == 404 for f in summary.failed)
    assert server.stats.gets == 2


def test_fetch_stops_on_live_session_and_continues_later(
    season_server: Callable[..., RunningServer], world_dir: Path, tmp_path: Path
) -> None:
    """The 10th GET answers the live-session 401: the run stops at once (exit 3), keeps the 9 answers,
    says when to retry; run again later, it asks exactly what is left."""
    server = season_server()
    server.fail_at("401", 10)
    summary = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    expected = _expected_2024(world_dir)
    assert summary.exit_code == 3
    assert server.stats.gets == 10
    assert summary.blocked is not None and "30 minutes" in summary.blocked.advice
    assert "OPENF1_USERNAME" in summary.blocked.advice
    assert summary.requests == 9 and summary.not_asked == expected - 9
    assert len(_assert_store_valid(tmp_path / "store")) == 9

    later = fetch(_settings(server, tmp_path / "store"), _options(), NOW)
    assert later.exit_code == 0 and later.planned == expected - 9
    assert server.stats.rate_limited == 0  # the second run counted the first one's recent requests
    assert any(note.startswith("9 answer(s) an earlier run stored") for note in later.notes)
    assert server.stats.gets == 10 + expected - 9
    assert len(_assert_store_valid(tmp_path / "store")) == expected


def test_fetch_names_the_live_session_when_stored(
    season_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """Blocked during a stored session (2024 Bahrain race), the advice names it and its end + 30 min."""
    server = season_server()
    store = tmp_path / "store"
    fetch(_settings(server, store), _options(results=False), NOW)
    server.fail_next("401")
    during_race = datetime(2024, 3, 2, 16, 0, tzinfo=UTC)
    summary = fetch(_settings(server, store), _options(refresh=True), during_race)
    assert summary.exit_code == 3 and summary.blocked is not None
    assert summary.blocked.session is not None and "Bahrain" in summary.blocked.session
    assert summary.blocked.retry_at == datetime(2024, 3, 2, 17, 30, tzinfo=UTC)


def test_fetch_dry_run_asks_nothing(season_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    """--dry-run on an empty store plans the two year lists (phase 2 needs stored meetings), asks nothing."""
    server = season_server()
    summary = fetch(_settings(server, tmp_path / "store"), _options(dry_run=True), NOW)
    assert [p.key for p in summary.plan] == ["meetings?year=2024", "sessions?year=2024"]
    assert all(p.reason == "missing" for p in summary.plan)
    assert any("already stored" in note for note in summary.notes)
    assert server.stats.total == 0


def test_fetch_paid_tier_uses_a_token(openf1_server: ServerFactory, world_dir: Path, tmp_path: Path) -> None:
    """With credentials: one POST /token, every GET on the paid tier with a Bearer token, no 401."""
    server = openf1_server(
        rows=[world_dir / "2024"],
        token=("fan", "pit-wall-secret"),
        paid_per_second=PER_SECOND,
        paid_per_minute=PER_MINUTE,
        per_second=1,
        per_minute=1,
    )
    settings = _settings(server, tmp_path / "store", ("fan", "pit-wall-secret"))
    summary = fetch(settings, _options(results=False), NOW)
    assert summary.exit_code == 0 and summary.token_requests == 1
    records = server.stats.records
    assert [r.method for r in records].count("POST") == 1
    assert all(r.tier == "paid" and r.status in (200, 404) for r in records if r.method == "GET")
    assert "pit-wall-secret" not in msgspec.json.encode(summary).decode()


def test_fetch_wrong_credentials_is_a_config_error(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """POST /token refusing the credentials stops the fetch with a TokenError (exit 2), password masked."""
    server = openf1_server(rows=[world_dir / "2024"], token=("fan", "right"))
    with pytest.raises(TokenError) as caught:
        fetch(_settings(server, tmp_path / "store", ("fan", "wrong-password")), _options(), NOW)
    assert caught.value.exit_code == 2 and "wrong-password" not in str(caught.value)


def test_client_renews_token_before_expiry(openf1_server: ServerFactory, world_dir: Path) -> None:
    """The token is renewed before it expires (client clock), and again when the server says it expired."""
    clock = [0.0]
    server = openf1_server(
        rows=[world_dir / "2024"], token=("fan", "s"), token_ttl=100.0, clock=lambda: clock[0]
    )
    request = Request.make("meetings", [("year", "2024")])

    async def go() -> list[str]:
        async def no_sleep(seconds: float) -> None:
            del seconds

        limiter = Limiter(1000, 100000)
        client = OpenF1Client(
            server.base_url, limiter, FAST, credentials=("fan", "s"), clock=lambda: clock[0], sleep=no_sleep
        )
        async with client:
            outcomes: list[str] = [(await client.get(request)).outcome]
            clock[0] = 60.0  # past half the life of a 100 s token: renewed before asking
            outcomes.append((await client.get(request)).outcome)
            clock[0] = 60.0 + 101.0  # the server's clock: expired
            client._clock = lambda: 60.0  # the client does not know: it learns from the 401
            outcomes.append((await client.get(request)).outcome)
        return outcomes

    assert asyncio.run(go()) == ["rows", "rows", "rows"]
    methods = [(r.method, r.status) for r in server.stats.records]
    assert methods == [
        ("POST", 200),
        ("GET", 200),
        ("POST", 200),
        ("GET", 200),
        ("GET", 401),
        ("POST", 200),
        ("GET", 200),
    ]


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(argv)
        raise SystemExit(0)
    captured = capsys.readouterr()
    code = caught.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def test_cli_fetch_json_and_exit_codes(
    season_server: Callable[..., RunningServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ingest fetch --year 2024 --no-results --json` prints the summary as JSON (exit 0), progress lines
    on stderr; `--year` with `--recent` is a usage error (exit 2); a live-session stop exits 3."""
    server = season_server()
    monkeypatch.setenv("OPENF1_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENF1_RATE_PER_SECOND", f"{PER_SECOND:g}")
    monkeypatch.setenv("OPENF1_RATE_PER_MINUTE", f"{PER_MINUTE:g}")
    store = str(tmp_path / "store")
    code, out, err = _run_cli(["fetch", "--year", "2024", "--no-results", "--json", "--store", store], capsys)
    assert code == 0, err
    summary = msgspec.json.decode(out, type=FetchSummary)
    # 2024 is settled (now is the real time): the lists, then one batch of drivers for the 25 meetings
    assert summary.planned == 3 and summary.exit_code == 0 and summary.throttled == 0
    assert "drivers?meeting_key=1228&...&meeting_key=1252 (25 meetings)" in err

    code, out, err = _run_cli(["fetch", "--year", "2024", "--store", store, "--dry-run"], capsys)
    batch = "session_result?meeting_key=1228&...&meeting_key=1252 (25 meetings)"
    assert code == 0 and f"phase 2  missing  {batch}" in out

    code, _, err = _run_cli(["fetch", "--year", "2024", "--recent", "7", "--store", store], capsys)
    assert code == 2 and "cannot be used together" in err

    server.fail_next("401")
    code, out, _ = _run_cli(["fetch", "--year", "2024", "--refresh", "--json", "--store", store], capsys)
    assert code == 3 and json.loads(out)["blocked"]["advice"]


def test_cli_fetch_interrupted_keeps_the_store_and_continues(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT) during `ingest fetch`: one line on stderr and no traceback, exit 130, no summary;
    the store passes fsck, and running the fetch again asks exactly what is left, with no 429."""
    server = openf1_server(rows=[world_dir / "2024"], per_second=10, per_minute=600)
    store = tmp_path / "store"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPENF1_")},
        "OPENF1_BASE_URL": server.base_url,
        "OPENF1_RATE_PER_SECOND": "10",
        "OPENF1_RATE_PER_MINUTE": "600",
    }
    # the child sets Python's own SIGINT handler: a parent may have left SIGINT ignored
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from ingestion.cli import main; main(sys.argv[1:])"
    )
    argv = ["fetch", "--year", "2024", "--no-results", "--per-meeting", "--now", NOW.isoformat()]
    argv += ["--store", str(store)]
    child = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    for line in child.stderr:  # one plain line per answer: interrupt after the 5th
        if line.startswith("[5/"):
            break
    child.send_signal(signal.SIGINT)
    out, rest = child.communicate(timeout=60)
    assert child.returncode == 130, rest
    assert out == ""
    assert "Traceback" not in rest and rest.splitlines()[-1] == INTERRUPTED
    assert fsck(Store(store)) == []
    stored = len(_assert_store_valid(store))
    assert 5 <= stored < 27

    settings = msgspec.structs.replace(_settings(server, store), rate_per_second=10.0, rate_per_minute=600.0)
    again = fetch(settings, _options(results=False), NOW)
    assert again.exit_code == 0 and again.planned == again.requests == 27 - stored
    assert server.stats.rate_limited == 0
    assert len(_assert_store_valid(store)) == 27


def test_cli_fetch_lists_failures_and_exits_1(
    openf1_server: ServerFactory,
    world_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests that fail (a 404 that is not "No results found.") are listed with their URL, status and
    tries in the summary, and `ingest fetch` exits 1."""
    server = openf1_server(rows=[world_dir / "2024"])
    monkeypatch.setenv("OPENF1_BASE_URL", f"{server.url}/v2")
    code, out, _ = _run_cli(["fetch", "--year", "2024", "--store", str(tmp_path / "store")], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "fetch 2024: 2 of 2 planned request(s) asked"
    assert lines[1] == "  0 new snapshot(s), 0 unchanged, 0 empty, 2 failed"
    failed = [line for line in lines if line.startswith("  failed: ")]
    assert [line.split(" ")[3:6] for line in failed] == [
        [f"{server.url}/v2/meetings?year=2024", "(404,", "1"],
        [f"{server.url}/v2/sessions?year=2024", "(404,", "1"],
    ]
    assert Store(tmp_path / "store").events() == []


def test_summary_renders_every_count() -> None:
    """The text summary shows the requests asked of planned, new/unchanged/empty/failed, HTTP requests,
    429s and retries, the waits, the wall time against the least time, each failure and a block."""
    summary = FetchSummary(
        run="20250601T000000Z-abcdef",
        years=[2024],
        planned=77,
        requests=60,
        http_requests=66,
        token_requests=1,
        new_snapshots=50,
        unchanged=6,
        empty=3,
        failed=[
            FailedRequest(
                key="drivers?meeting_key=1229",
                url="http://x/v1/drivers?meeting_key=1229",
                status=None,
                attempts=5,
                reason="timeout (ReadTimeout) (gave up after 5 tries)",
            )
        ],
        throttled=2,
        retries=5,
        waited_s=64.25,
        backoff_s=3.5,
        wall_s=130.0,
        least_s=125.0,
        ratio=1.04,
        per_second=3.0,
        per_minute=30.0,
        not_asked=17,
        blocked=Blocked(
            url="http://x/v1/drivers?meeting_key=1230",
            detail="Session in progress",
            retry_at=None,
            session=None,
            advice="retry in 30 minutes",
        ),
    ).finish()
    assert summary.exit_code == 3
    assert render_summary(summary) == [
        "fetch 2024: 60 of 77 planned request(s) asked in run 20250601T000000Z-abcdef",
        "  50 new snapshot(s), 6 unchanged, 3 empty, 1 failed",
        "  66 HTTP request(s) (1 for a token), 2 answered 429, 5 retries",
        "  waited 1 min 04.2 s for the limit (3/s, 30/min), 3.5 s backing off",
        "  wall time 2 min 10.0 s, 1.04x the least time (2 min 05.0 s)",
        "  failed: http://x/v1/drivers?meeting_key=1229 (no answer, 5 tries): "
        "timeout (ReadTimeout) (gave up after 5 tries)",
        "  stopped: Session in progress (17 request(s) not asked)",
        "  retry in 30 minutes",
    ]


def test_fetch_progress_reports_each_request_then_done(
    season_server: Callable[..., RunningServer], tmp_path: Path
) -> None:
    """Progress: the phase plans (phase 2 added once the lists are in, with no request current), each
    request then its answer with done/planned counting up, then done; a run with nothing to ask reports
    only done."""
    server = season_server()
    seen: list[Progress] = []
    fetch(_settings(server, tmp_path / "store"), _options(results=False), NOW, seen.append)
    plans = [(p.message, p.current, p.done, p.planned) for p in seen if p.stage == "plan"]
    assert plans == [
        ("phase 1: 2 year list request(s)", "", 0, 2),
        ("phase 2: 25 per-meeting request(s)", "", 2, 27),
    ]
    answers = [p for p in seen if p.stage == "answer"]
    assert [p.done for p in answers] == list(range(1, 28))
    assert answers[0].current == "meetings?year=2024" and answers[0].message.startswith("200 new")
    requests = [p.current for p in seen if p.stage == "request"]
    assert requests == [p.current for p in answers]
    assert seen[-1].stage == "done" and seen[-1].done == seen[-1].planned == 27 and seen[-1].eta_s is None

    seen.clear()
    fetch(_settings(server, tmp_path / "store"), _options(results=False), NOW, seen.append)
    assert [(p.stage, p.done, p.planned) for p in seen] == [("done", 0, 0)]
