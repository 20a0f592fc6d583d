"""How the CLI shows numbers and tables: human sizes, and tables that are plain text off a terminal.

Pure formatting; rich is imported only when a table is drawn on a terminal (``ingest --help`` stays fast).
"""

from __future__ import annotations

__all__ = ["human_size"]

_UNITS = ("kB", "MB", "GB", "TB", "PB")


def human_size(size: int) -> str:
    """``2899321`` -> ``"2.9 MB"``: decimal units (1 kB = 1000 bytes), three significant digits at most.

    Exact byte counts belong in ``--json``; this is for people reading a terminal.
    """
    if size < 0:
        return "-" + human_size(-size)
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1000
        number = f"{value:.1f}" if value < 99.95 else f"{value:.0f}"
        if float(number) < 1000 or unit == _UNITS[-1]:
            return f"{number} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
