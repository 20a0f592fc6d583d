"""What "fits an 80-column terminal" means for the CLI's human output, for every test that checks it."""

from __future__ import annotations

__all__ = ["fits"]


def fits(line: str, width: int = 80) -> bool:
    """Within ``width``, or over it only by a word that cannot be split (a URL, a request, a path) after a
    short label: a path is as long as the user's folders make it."""
    if len(line) <= width:
        return True
    longest = max(line.split(), key=len)
    return len(line) - len(longest) <= 30
