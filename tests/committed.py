"""The committed ``snapshots/`` store, and the OpenF1 2023-2024 fixture inside it.

The committed store holds two sources: OpenF1's 2023 and 2024 answers (one log file, fetched by
``make snapshots`` from ``../shared/openf1/world``) and the f1db release v2025.24.2 (its own log file,
~16,000 blobs: every season since 1950). A test that means "the whole committed store" (the README's
examples, fsck of what is committed, ``make run``) uses :data:`COMMITTED`; a test that means "the OpenF1
fixture" uses :func:`openf1_fixture`: a copy holding the OpenF1 log file(s), the seal and the run records,
and only the blobs those events reference, so it replays in a second, as the store did before the release.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

from ingestion.config import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "snapshots"

_built: list[Path] = []


def _is_openf1(log: Path) -> bool:
    """A log file of OpenF1 answers: its lines are requests (``endpoint``), not ``kind: release`` lines."""
    with log.open() as lines:
        first = json.loads(lines.readline())
    return "endpoint" in first and first.get("kind") != "release"


def openf1_fixture() -> Path:
    """A read-only view of the committed store without the f1db release, built once per process.

    Callers must not write to it (copy it with ``shutil.copytree`` to change it): it is shared."""
    if _built:
        return _built[0]
    root = Path(tempfile.mkdtemp(prefix="openf1-fixture-")) / "snapshots"
    atexit.register(shutil.rmtree, root.parent, True)
    (root / "log").mkdir(parents=True)
    (root / "runs").mkdir()
    shutil.copy2(COMMITTED / ".gitignore", root / ".gitignore")
    if (COMMITTED / "sealed.json").exists():
        shutil.copy2(COMMITTED / "sealed.json", root / "sealed.json")
    addresses: set[str] = set()
    for log in sorted((COMMITTED / "log").glob("*.jsonl")):
        if not _is_openf1(log):
            continue
        shutil.copy2(log, root / "log" / log.name)
        record = COMMITTED / "runs" / f"{log.stem}.json"
        if record.exists():
            shutil.copy2(record, root / "runs" / record.name)
        for line in log.read_text().splitlines():
            address = json.loads(line).get("address") if line.strip() else None
            if address:
                addresses.add(address)
    for address in addresses:
        source = COMMITTED / "objects" / address[:2] / address[2:]
        target = root / "objects" / address[:2] / address[2:]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    _built.append(root)
    return root
