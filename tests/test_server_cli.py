"""`ingest serve`: help, usage errors, and a real server process answered over HTTP, then stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ingestion.cli import app, main


def test_server_cli_help_lists_every_option() -> None:
    """`ingest serve --help` exits 0, shows an example and every option of the issue."""
    result = CliRunner().invoke(app, ["serve", "--help"], prog_name="ingest")
    assert result.exit_code == 0, result.output
    assert "Example: ingest serve --rows" in result.output
    for option in ("--rows", "--store", "--as-of", "--host", "--port", "--per-second", "--per-minute",
                   "--paid-per-second", "--paid-per-minute", "--token-user", "--token-password",
                   "--token-ttl", "--fault", "--slow-seconds", "--quiet"):
        assert option in result.output, option


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to serve"),
        (["--rows", "{world}", "--fault", "418:2"], "unknown fault kind"),
        (["--rows", "{world}", "--fault", "503:0"], "EVERY must be 1 or more"),
        (["--rows", "{world}", "--token-user", "ada"], "go together"),
        (["--rows", "{missing}"], "not a directory"),
        (["--store", "{world}", "--as-of", "yesterday"], "not an ISO-8601"),
    ],
)
def test_server_cli_usage_errors_exit_2(
    world_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad options end with one `error:` line on stderr and exit code 2, before anything listens."""
    filled = [a.format(world=world_dir / "2024", missing=tmp_path / "missing") for a in args]
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", "0", *filled])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert message in err[0]


def test_server_cli_port_in_use_is_one_line_error(
    world_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port already taken: one `error: cannot listen on ...` line and exit code 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as caught:
            main(["serve", "--rows", str(world_dir / "2024"), "--port", str(port)])
    assert caught.value.code == 1
    assert "error: cannot listen on 127.0.0.1:" in capsys.readouterr().err


@pytest.fixture
def serve_process(world_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m ingestion serve --rows world/2024 --port 0` running, and the base URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestion", "serve", "--rows", str(world_dir / "2024"), "--port", "0",
         "--per-second", "50", "--per-minute", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.startswith("serving OpenF1 on "):
                url = line.removeprefix("serving OpenF1 on ").strip()
                break
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_server_cli_serves_then_stops_cleanly(
    serve_process: tuple[subprocess.Popen[str], str], stop_signal: signal.Signals
) -> None:
    """A real `ingest serve` answers httpx like OpenF1, logs one line per request, and exits 0 on Ctrl-C
    (SIGINT) or SIGTERM."""
    process, url = serve_process
    with httpx.Client(base_url=url, timeout=10) as client:
        meetings = client.get("/meetings", params={"year": 2024})
        nothing = client.get("/meetings", params={"year": 1950})
    assert meetings.status_code == 200
    assert len(meetings.json()) == 25
    assert (nothing.status_code, nothing.json()) == (404, {"detail": "No results found."})
    process.send_signal(stop_signal)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    lines = err.splitlines()
    assert any(line.startswith("GET /v1/meetings?year=2024 200 ") and line.endswith(" ms") for line in lines)
    assert any(line.startswith("GET /v1/meetings?year=1950 404 ") for line in lines)
    assert lines[-1] == "stopped after 2 request(s)"
