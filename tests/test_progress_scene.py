"""Issue 16's scene: `ingest fetch --year 2024` on an 80-column terminal against a server at 3/s and
30/min shows one updating line (bar, counts, a countdown while it waits) and ends with the summary; piped,
the same fetch writes one plain line per answer and no control character."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.server_fixtures import ServerFactory

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env(base_url: str, store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENF1_", "NO_COLOR", "COLUMNS"))}
    env.update(
        OPENF1_BASE_URL=base_url, SNAPSHOT_DIR=str(store), TERM="xterm-256color",
        OPENF1_RATE_PER_SECOND="3", OPENF1_RATE_PER_MINUTE="30",
    )  # fmt: skip
    return env


def _run_in_terminal(args: list[str], env: dict[str, str], columns: int) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a pseudo-terminal of ``columns`` x 24; all it wrote."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_fetch_at_80_columns_one_live_line_with_a_countdown_then_the_summary(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    # 3/s and 30/min like OpenF1's free tier; the 3rd GET answers 429 (no Retry-After), so besides the
    # client's own pacing there is a backoff to count down, whatever the batching leaves to pace.
    server = openf1_server(rows=[world_dir / "2024"], per_second=3, per_minute=30, faults=["429:3"])
    command = [sys.executable, "-m", "ingestion", "fetch", "--year", "2024"]
    code, written = _run_in_terminal(command, _env(server.base_url, tmp_path / "s"), 80)
    assert code == 0, written
    live, _, summary = written.rpartition("\x1b[2K")  # the live line's last erase; the summary follows
    frames = [ANSI.sub("", f) for f in re.split(r"\r|\x1b\[2K", live)]
    frames = [f for f in frames if f.strip()]
    assert frames, written
    for frame in frames:  # one line that fits: never wrapped, never wider than the terminal
        assert "\n" not in frame.rstrip("\n") and len(frame.rstrip("\n")) <= 80, repr(frame)
    assert any("━" in f or "─" in f for f in frames)  # the bar
    assert any(re.search(r"\d+/5 +\d+%", f) for f in frames)  # counts and percentage
    waits = [f for f in frames if re.search(r"(429, waiting|rate limit, next in) \d+\.\d s", f)]
    assert waits, frames  # a countdown while it waits
    text = ANSI.sub("", summary).replace("\r", "")
    assert "fetch 2024: 5 of 5 planned request(s) asked in run" in text
    assert "2 answered 429" in text  # every 3rd GET


def test_fetch_piped_writes_one_plain_line_per_answer(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    server = openf1_server(rows=[world_dir / "2024"], per_second=3, per_minute=30, faults=["429:3"])
    done = subprocess.run(
        [sys.executable, "-m", "ingestion", "fetch", "--year", "2024"],
        env=_env(server.base_url, tmp_path / "s"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr + done.stdout and "\r" not in done.stderr
    lines = done.stderr.splitlines()
    answers = [line for line in lines if " 200 new " in line]
    assert len(answers) == 5 and answers[-1].startswith("[5/5] starting_grid?"), lines
    assert sum(" 429: waiting " in line for line in lines) == 2  # each backoff, once, as a plain line
    assert done.stdout.startswith("fetch 2024: 5 of 5 planned request(s)")
