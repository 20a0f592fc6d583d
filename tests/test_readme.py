"""The README's command examples run and print what they claim, on the committed store.

Every `ingest ...` line of the README's bash blocks runs, in order, against a fresh database and the
committed `snapshots/`, except those that need the network or a server (sync, bulk, fetch without
--dry-run, serve, healthcheck's OpenF1 check), start or stop the embedded server, or write elsewhere.
The commands that replay (run, replay, verify, diff, check, db) read the committed store's OpenF1 part
(:func:`committed.openf1_fixture`): on the whole store each would replay 1950-2025 (~6 s apiece);
``make run`` on the whole committed store is tested by test_fixture_snapshots. The commands that check or
rewrite the store (fsck, fsck --repair, seal, gc) run on a private copy of that OpenF1 part: they may write,
and the checkout's store is not theirs to change; on the whole store each re-reads its 16,000 blobs (~3-4 s
apiece), and the whole committed store's fsck (which gc's refusal also rests on) is test_fixture_snapshots'.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from committed import copy_store, openf1_fixture

from ingestion.cli import main
from ingestion.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
#: Commands that replay the store: run on its OpenF1 part (see the module doc).
REPLAYING = ("run", "replay", "verify", "diff", "check", "db")
#: Commands that check or rewrite the store: run on a private copy of its OpenF1 part (see the module doc).
MAINTAINING = ("snapshots fsck", "snapshots seal", "snapshots gc")
NOT_HERE = ("sync", "bulk", "watch", "serve", "healthcheck", "db up", "db down", "snapshots import")
#: Commands whose exit 1 reports findings in the data, not a failure to run.
FINDINGS = ("check",)


def readme_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.startswith("ingest "):
                continue
            args = shlex.split(line, comments=True)[1:]
            joined = " ".join(args)
            if joined.startswith(NOT_HERE) or (args[0] == "fetch" and "--dry-run" not in args):
                continue
            commands.append(args)
    return commands


COMMANDS = readme_commands()


def test_readme_has_the_examples_this_test_runs() -> None:
    runs = {" ".join(c[:2]) for c in COMMANDS}
    assert {"replay --as-of", "diff --from", "runs show", "snapshots ls", "db audit", "run"} <= runs | {
        c[0] for c in COMMANDS
    }
    assert len(COMMANDS) >= 20


@pytest.mark.slow
def test_readme_examples_run_on_the_committed_store(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # the README's paths (../shared, snapshots/) are from the checkout
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("OPENF1_BASE_URL", "http://127.0.0.1:1/v1")  # nothing here may need OpenF1
    openf1 = str(openf1_fixture())
    own = str(copy_store(Path(openf1), tmp_path / "snapshots"))  # the shared fixture is read-only
    assert set(MAINTAINING) <= {" ".join(c[:2]) for c in COMMANDS}
    for args in [["run"], *COMMANDS]:  # `ingest run` first: the database the examples read
        if " ".join(args[:2]) in MAINTAINING:
            store = own
        elif args[0] in REPLAYING:
            store = openf1
        else:
            store = str(PROJECT_ROOT / "snapshots")
        monkeypatch.setenv("SNAPSHOT_DIR", store)
        try:
            main(args)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        out, err = capsys.readouterr()
        allowed = (0, 1) if args[0] in FINDINGS else (0,)
        assert code in allowed, f"`ingest {shlex.join(args)}` exited {code}: {err.strip()}"
        assert out.strip(), f"`ingest {shlex.join(args)}` printed nothing"
        assert "error:" not in err, f"`ingest {shlex.join(args)}`: {err.strip()}"
        if args[0] == "diff":
            assert "no changes" not in out and "added" in out
        if args[:1] == ["replay"]:
            assert "nothing to replay" not in out
