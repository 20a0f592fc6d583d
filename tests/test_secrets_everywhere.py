"""No secret reaches any output, log event or blob (issue 17, defect 7, and the campaign's secret search).

Secrets planted everywhere a person could put one: userinfo in ``OPENF1_BASE_URL``
(``http://user:pw@host/v1``), query secrets (``?password=``, ``sslpassword=``, ``api_key=``), the paid tier's
``OPENF1_PASSWORD`` and its token, a ``DATABASE_URL`` password. Then every command that prints, logs or
stores runs through the real CLI, and every byte it wrote (stdout, stderr, each log file, each blob,
decompressed) is searched for each secret, raw and percent-encoded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import zstandard
from server_fixtures import ServerFactory

from ingestion.masking import MASK, mask_text, public_url

INGEST = Path(sys.executable).with_name("ingest")
USER_SECRET = "urlsecret7Q"  # userinfo password in OPENF1_BASE_URL
USER_NAME = "urluser3K"  # userinfo user name: a credential too (API keys travel there)
QUERY_SECRET = "querysecret9Z"
PAID_PASSWORD = "paidsecret4X"
DB_SECRET = "dbsecret2W"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``ingest ARGS`` started in its own process, with ``env`` instead of the project's own variables."""
    ours = ("DATABASE_URL", "OPENF1_", "EMBEDDED_", "SNAPSHOT_DIR")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    command = [str(INGEST)] if INGEST.exists() else [sys.executable, "-m", "ingestion"]
    return subprocess.Popen(
        [*command, *args], cwd=cwd, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, stdin=subprocess.DEVNULL,
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for a process :func:`start` started (at most 300 s) and collect what it printed."""
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return finish(start(args, cwd, env))


def leaks(text: str, *secrets: str) -> list[str]:
    """The secrets (raw or percent-encoded) found in ``text``."""
    return [s for s in secrets if s in text or quote(s, safe="") in text]


def store_bytes(store: Path) -> Iterator[tuple[Path, str]]:
    """Every file of a store as text: log lines as they are, blobs decompressed."""
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        if raw.startswith(ZSTD_MAGIC):  # a blob (objects/ab/cdef...): search what it holds
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        yield path, raw.decode("utf-8", "replace")


# --- the masking functions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["password", "sslpassword", "PASSWORD", "api_key", "apikey", "client_secret", "access_token", "pwd"],
)
def test_mask_text_masks_every_query_secret(key: str) -> None:
    """Any key that names a secret is masked, not only ``password=`` (``sslpassword=`` leaked)."""
    shown = mask_text(f"postgresql://u@h/db?{key}={QUERY_SECRET}&application_name=x")
    assert QUERY_SECRET not in shown and f"{key}={MASK}" in shown and "application_name=x" in shown


def test_mask_text_keeps_ordinary_keys() -> None:
    ordinary = "/v1/drivers?session_key=9158&meeting_key=1229"
    assert mask_text(ordinary) == ordinary


def test_public_url_drops_userinfo_and_masks_query_secrets() -> None:
    url = f"http://{USER_NAME}:{USER_SECRET}@127.0.0.1:8000/v1/meetings?year=2024&token={QUERY_SECRET}"
    assert public_url(url) == f"http://127.0.0.1:8000/v1/meetings?year=2024&token={MASK}"
    assert public_url("https://api.openf1.org/v1/sessions?year=2024") == "https://api.openf1.org/v1/sessions?year=2024"
    assert public_url(f"http://{USER_NAME}@h/v1") == "http://h/v1"


# --- through the CLI -----------------------------------------------------------------------------------


def test_fetch_never_logs_base_url_userinfo(
    openf1_server: ServerFactory, world_dir: Path, tmp_path: Path
) -> None:
    """``OPENF1_BASE_URL=http://user:pw@host/v1``: no log event, output or blob holds the user or password
    (every event of the run carried them in clear)."""
    server = openf1_server(rows=[world_dir / "2024"])
    base = server.base_url.replace("http://", f"http://{USER_NAME}:{USER_SECRET}@")
    store = tmp_path / "store"
    env = {
        "OPENF1_BASE_URL": base, "SNAPSHOT_DIR": str(store),
        "OPENF1_RATE_PER_SECOND": "1000", "OPENF1_RATE_PER_MINUTE": "100000",
    }
    result = run(["fetch", "--year", "2024", "--no-results", "--json"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert leaks(result.stdout + result.stderr, USER_NAME, USER_SECRET) == []
    files = list(store_bytes(store))
    assert any(p.parent.name == "log" or "log" in p.parts for p, _ in files)
    for path, text in files:
        assert leaks(text, USER_NAME, USER_SECRET) == [], path
    assert "127.0.0.1" in "".join(text for p, text in files if "log" in p.parts)  # the host is still logged


def test_healthcheck_masks_base_url_secrets(db_url: str, tmp_path: Path) -> None:
    """healthcheck printed ``?password=`` and userinfo of ``OPENF1_BASE_URL`` and ``sslpassword=`` of
    ``DATABASE_URL`` in clear."""
    env = {
        "DATABASE_URL": f"{db_url}?sslpassword={DB_SECRET}",
        "OPENF1_BASE_URL": f"http://{USER_NAME}:{USER_SECRET}@127.0.0.1:9/v1?password={QUERY_SECRET}",
        "SNAPSHOT_DIR": str(tmp_path / "store"),
    }
    result = run(["healthcheck"], tmp_path, env)
    assert "Traceback" not in result.stderr
    assert "openf1" in result.stdout
    assert leaks(result.stdout + result.stderr, USER_NAME, USER_SECRET, QUERY_SECRET, DB_SECRET) == []


# --- the campaign: every command, every output, log and blob ------------------------------------------


@pytest.mark.reliability("secrets in every output, log and blob")
def test_secrets_absent_from_every_output_log_and_blob(
    openf1_server: ServerFactory,
    world_dir: Path,
    db_url: str,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    """Plant every secret at once (base URL userinfo and query, paid-tier password and its token, the
    database password in the URL and as ``sslpassword=``), run every command that prints, logs or stores,
    including failing ones, and search all of it."""
    server = openf1_server(rows=[world_dir / "2024"], token=("ada", PAID_PASSWORD), paid_per_second=1000,
                           paid_per_minute=100_000)
    base = server.base_url.replace("http://", f"http://{USER_NAME}:{USER_SECRET}@")
    store = tmp_path / "store"
    with_password = db_url.replace("postgresql://postgres@", f"postgresql://postgres:{DB_SECRET}@")
    assert DB_SECRET in with_password  # trust authentication ignores it: the commands still connect
    env = {
        "DATABASE_URL": with_password, "OPENF1_BASE_URL": base, "SNAPSHOT_DIR": str(store),
        "OPENF1_USERNAME": "ada", "OPENF1_PASSWORD": PAID_PASSWORD,
        "OPENF1_RATE_PER_SECOND": "1000", "OPENF1_RATE_PER_MINUTE": "100000",
    }
    bad_db = {**env, "DATABASE_URL": f"postgresql://postgres:{DB_SECRET}@127.0.0.1:1/x?sslpassword={DB_SECRET}"}
    bad_base = {**env, "OPENF1_BASE_URL": f"http://{USER_NAME}:{USER_SECRET}@127.0.0.1:9/v1?token={QUERY_SECRET}"}
    # A fetch from an unreachable OpenF1 sleeps through the CLI's backoffs (5 tries, 1 s doubling: ~11 s):
    # it runs beside the other commands, into a store of its own that is searched like the main one.
    unreachable = (["fetch", "--year", "2023", "--no-results"], tmp_path / "store-unreachable")
    behind = start(unreachable[0], tmp_path, {**bad_base, "SNAPSHOT_DIR": str(unreachable[1])})
    commands: list[tuple[list[str], dict[str, str]]] = [
        (["fetch", "--year", "2024", "--no-results"], env),
        (["fetch", "--year", "2024", "--refresh", "--json"], env),
        (["replay", "--json"], env),
        (["verify"], env),
        (["sync", "--year", "2024", "--json"], env),
        (["snapshots", "ls"], env),
        (["snapshots", "stats"], env),
        (["snapshots", "fsck"], env),
        (["healthcheck"], env),
        (["db", "url"], env),
        (["db", "status"], env),
        (["db", "audit"], env),
        (["run"], env),
        (["db", "status"], bad_db),
        (["replay"], bad_db),
        (["healthcheck"], bad_db),
        (["healthcheck"], bad_base),
    ]
    outputs: list[str] = []
    results = [(args, run(args, tmp_path, environment)) for args, environment in commands]
    results.append((unreachable[0], finish(behind)))
    assert results[-1][1].returncode != 0  # it did fail: every try was refused
    for args, result in results:
        assert "Traceback" not in result.stderr, (args, result.stderr)
        outputs.append(f"$ ingest {' '.join(args)}\n{result.stdout}{result.stderr}")
    tokens = list(server._state.tokens._grants) if server._state.tokens is not None else []
    assert tokens, "the paid tier was not used: the token could not be searched for"
    secrets = (USER_NAME, USER_SECRET, QUERY_SECRET, PAID_PASSWORD, DB_SECRET, *tokens)
    for output in outputs:
        assert leaks(output, *secrets) == [], output
    searched: list[Path] = []
    for path, text in [*store_bytes(store), *store_bytes(unreachable[1])]:
        assert leaks(text, *secrets) == [], path
        searched.append(path)
    # every log file and blob of the fetches (batched requests: a handful of blobs hold the season)
    assert any("objects" in p.parts for p in searched) and any("log" in p.parts for p in searched)
    assert len(searched) >= 5
    record_property("reliability_cases", len(results) + len(searched))
