"""Durable file helpers of the store: fsynced folders, atomic writes (temporary file, fsync, rename) and an
exclusive ``fcntl.flock`` lock file that names its holder. No knowledge of blobs or logs."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ingestion.store.errors import StoreLocked

__all__ = ["exclusive_lock", "fsync_dir", "make_dirs", "sync_filesystem", "write_all", "write_atomic"]


def fsync_dir(path: Path) -> None:
    """fsync the folder ``path`` (makes the entries created or renamed in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, fsyncing the parent of each new folder (a durable entry)."""
    missing: list[Path] = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        fsync_dir(folder.parent)


def write_all(fd: int, data: bytes | bytearray) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sync_filesystem() -> None:
    """Make everything written so far durable, in one call (``sync``: one journal commit for a whole batch
    of files, where an fsync per file costs one each). Used by a batch write (a release's files) before
    the line that refers to them."""
    os.sync()


def write_atomic(
    path: Path, data: bytes | bytearray, *, tmp_dir: Path, prefix: str, mode: int = 0o644, sync: bool = True
) -> None:
    """Write ``data`` to ``path`` all-or-nothing: a temporary file in ``tmp_dir`` (created if missing) is
    written, fsynced and renamed over ``path``, then ``path``'s folder is fsynced. A failure leaves no
    temporary file behind. OSError propagates (the caller names what could not be written).

    ``sync=False`` skips both fsyncs, for a derived cache only: after a crash it may be empty or torn, which
    its reader detects (it checks what it decodes) and rebuilds; it is never data."""
    make_dirs(tmp_dir)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix, suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        write_all(fd, data)
        if sync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        make_dirs(path.parent)
        os.replace(tmp_name, path)
        if sync:
            fsync_dir(path.parent)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def exclusive_lock(
    fd: int,
    lock_path: Path,
    wait: float,
    holder: str,
    *,
    on_wait: Callable[[float, str], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``fd`` (the open ``lock_path``), waiting up to ``wait`` s, else
    :class:`StoreLocked` naming the current holder. While held, the file says who holds it (``holder``).
    ``on_wait(wait, current holder)`` is called once when the lock is busy and there is time to wait."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            if on_wait is not None and not told and wait > 0:
                told = True
                on_wait(wait, os.pread(fd, 200, 0).decode("utf-8", "replace").strip())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                current = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                raise StoreLocked(lock_path, wait, current) from None
            time.sleep(min(0.05, remaining))
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n".encode(), 0)
    try:
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
