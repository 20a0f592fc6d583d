"""How the CLI shows numbers and tables: human sizes, and tables that are plain text off a terminal.

Pure formatting; rich is imported only when a table is drawn on a terminal (``ingest --help`` stays fast).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import msgspec
import typer

from ingestion.masking import mask_text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "SCREEN",
    "echo_lines",
    "fit_table",
    "human_size",
    "json_text",
    "print_outcome",
    "print_table",
    "screen_width",
    "wrap_line",
    "wrap_summary",
]

#: The width of a terminal that does not say (and of ``COLUMNS=80``).
SCREEN = 80
_GAP = 2  # spaces between two columns
_READABLE = 16  # a cut column keeps this many characters before another column is dropped

_UNITS = ("kB", "MB", "GB", "TB", "PB")


def json_text(value: object) -> str:
    """``value`` as every ``--json`` prints it: msgspec's JSON, indented by 2."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode("utf-8")


def print_outcome(
    outcome: object, render: Callable[[], Iterable[str]], as_json: bool, secrets: tuple[str | None, ...] = ()
) -> None:
    """Print ``outcome`` as JSON or as its rendered lines, ``secrets`` masked in either."""
    if as_json:
        typer.echo(mask_text(json_text(outcome), *secrets))
        return
    echo_lines([mask_text(line, *secrets) for line in render()])


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


def screen_width() -> int | None:
    """The width tables and summaries fit: the terminal's (``COLUMNS`` first, as the shell sets it); None
    off a terminal: piped (a file, a cron log, grep), lines stay whole."""
    import shutil

    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((SCREEN, 24)).columns or SCREEN


def wrap_summary(text: str, width: int | None = None, indent: str = "  ") -> list[str]:
    """A summary line cut into lines of ``width`` at most (default :func:`screen_width`: whole when piped),
    the next ones indented; a word (an id, a request) is never split."""
    import textwrap

    room = width or screen_width()
    if room is None or len(text) <= room:
        return [text]
    return textwrap.wrap(
        text, room, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    ) or [""]


def wrap_line(line: str, width: int | None = None) -> list[str]:
    """One line of a summary or report in lines of ``width`` at most (the terminal's): the next ones
    indented two more than it; a word (an id, a request, a URL) is never split, so a word wider than the
    room stays whole on its own line."""
    room = width or screen_width()
    if room is None or len(line) <= room:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    return wrap_summary(line, room, indent + "  ")


def echo_lines(lines: Iterable[str], *secrets: str | None) -> None:
    """Print ``lines`` (a summary, a report) each fitted to the terminal's width (:func:`wrap_line`),
    ``secrets`` masked."""
    width = screen_width()
    for line in lines:
        for part in wrap_line(mask_text(line, *secrets) if secrets else line, width):
            typer.echo(part)


def _cut(cell: str, room: int) -> str:
    return cell if len(cell) <= room else cell[: max(room - 1, 0)] + "…"


def fit_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    shrink: Iterable[int] = (),
    drop: Iterable[int] = (),
) -> tuple[list[str], list[list[str]], list[int]]:
    """``headers`` and ``rows`` narrowed to fit ``width`` columns: the ``shrink`` columns are cut (an
    ellipsis marks it) down to their header's width, then the ``drop`` columns go, in that order, until the
    table fits. Other columns (ids) are never cut. Returns the headers, the rows and the original indexes
    of the columns kept."""
    keep = list(range(len(headers)))
    cuttable, droppable = list(shrink), list(drop)
    while True:
        natural = {i: max([len(headers[i]), *(len(r[i]) for r in rows)]) for i in keep}
        excess = sum(natural.values()) + _GAP * (len(keep) - 1) - width
        # cut to a readable width while a column can still go; to the header's once none can
        floors = {i: max(len(headers[i]), 4 if not droppable else _READABLE) for i in cuttable if i in keep}
        while excess > 0:  # a character at a time from the widest: the cut columns end even
            widest = max(floors, key=lambda i: natural[i] - floors[i], default=None)
            if widest is None or natural[widest] <= floors[widest]:
                break
            natural[widest] -= 1
            excess -= 1
        if excess <= 0 or not droppable:
            break
        gone = droppable.pop(0)
        if gone in keep:
            keep.remove(gone)
    fitted = [[_cut(row[i], natural[i]) for i in keep] for row in rows]
    return [headers[i] for i in keep], fitted, keep


def _plain(headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Iterable[int] = (),
    title: str | None = None,
    console: Console | None = None,
    no_wrap: Iterable[int] = (),
    shrink: Iterable[int] = (),
    drop: Iterable[int] = (),
) -> None:
    """A table: drawn by rich on a terminal (coloured unless ``NO_COLOR``), plain aligned text otherwise
    (a pipe, a cron log), so that ``grep`` and ``cut`` still work. ``console``: draw on this one (tests).
    ``no_wrap``: columns kept on one line on a terminal (a URL to copy), the others fold to make room.
    With ``shrink`` or ``drop``, the table is first narrowed to the terminal's width (:func:`screen_width`;
    piped, it stays whole) by :func:`fit_table`: one line a row, ids whole."""
    aligned = frozenset(right)
    whole = frozenset(no_wrap)
    cuts, drops = list(shrink), list(drop)
    if cuts or drops:
        width = console.width if console is not None else screen_width()
        if width is not None:
            headers, fitted, kept = fit_table(headers, rows, width, shrink=cuts, drop=drops)
            rows = fitted
            aligned = frozenset(n for n, i in enumerate(kept) if i in aligned)
            whole = frozenset(range(len(kept)))  # fitted: nothing left to fold
    if console is None and not sys.stdout.isatty():
        if title:
            typer.echo(title)
        for text in _plain(headers, rows, aligned):
            typer.echo(text)
        return
    from rich.console import Console as RichConsole
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for i, header in enumerate(headers):
        table.add_column(
            header, justify="right" if i in aligned else "left", overflow="fold", no_wrap=i in whole
        )
    for row in rows:
        table.add_row(*row)
    (console or RichConsole(highlight=False)).print(table)
