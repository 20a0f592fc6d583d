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
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ingestion.config import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "snapshots"

_built: list[Path] = []
_mirrored: list[Path] = []


def _is_openf1(log: Path) -> bool:
    """A log file of OpenF1 answers: its lines are requests (``endpoint``), not ``kind: release`` lines."""
    with log.open() as lines:
        first = json.loads(lines.readline())
    return "endpoint" in first and first.get("kind") != "release"


def openf1_fixture() -> Path:
    """A read-only view of the committed store without the f1db release, built once per process.

    Callers must not write to it (copy it with :func:`copy_store` to change it): it is shared."""
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
        _link_or_copy(str(source), str(target))  # a blob is never written in place (see copy_store)
    _built.append(root)
    return root


#: The folders of a store whose files are only ever replaced whole (written to a temporary file, then
#: renamed), never opened for writing again: blobs (``objects/``) and the derived caches (``cache/``).
_LINKABLE = ("objects", "cache")


def copy_store(
    source: Path, target: Path, *, ignore: Callable[[str, list[str]], set[str]] | None = None
) -> Path:
    """A private copy of the store at ``source`` at ``target``, as ``shutil.copytree`` makes it, but with
    the blobs and caches hard-linked instead of copied (the committed store holds ~16,000 files: 2.9 s to
    copy on this machine, 0.3 s to link). A link is as good as a copy for anything that goes through the
    store: it writes a blob or a cache file once and renames it into place, so a write in the copy makes
    a new file there and leaves ``source`` as it was; the log, the seal and the run records, which the
    store appends to or rewrites, are copied. A test that damages a blob *in place* (``write_bytes`` or
    ``open(..., "r+b")`` on a blob's path) would damage ``source`` too: it copies with ``shutil.copytree``.
    Falls back to copying where a link is refused (another file system)."""
    if source == COMMITTED:
        source = _committed_mirror()  # on the temporary folder's file system: links work from there
    linked = tuple(str(source / folder) + os.sep for folder in _LINKABLE)

    def copy(src: str, dst: str) -> object:
        return _link_or_copy(src, dst) if src.startswith(linked) else shutil.copy2(src, dst)

    shutil.copytree(source, target, ignore=ignore, copy_function=copy)
    return target


def _link_or_copy(src: str, dst: str) -> str:
    """``dst`` as a hard link to ``src``; a copy where the link is refused (another file system)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _committed_mirror() -> Path:
    """The committed store as it is, once per process, in the temporary folder (``make test`` puts that on
    a RAM file system, where a link to the checkout would cross file systems): linked where it can be,
    else copied. What :func:`copy_store` links from when asked for :data:`COMMITTED`."""
    if not _mirrored:
        root = Path(tempfile.mkdtemp(prefix="committed-store-")) / "snapshots"
        atexit.register(shutil.rmtree, root.parent, True)
        shutil.copytree(COMMITTED, root, copy_function=_link_or_copy)
        _mirrored.append(root)
    return _mirrored[0]
