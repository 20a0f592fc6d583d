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

__all__ = ["human_size", "json_text", "print_outcome", "print_table"]

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
    for line in render():
        typer.echo(mask_text(line, *secrets))


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
) -> None:
    """A table: drawn by rich on a terminal (coloured unless ``NO_COLOR``), plain aligned text otherwise
    (a pipe, a cron log), so that ``grep`` and ``cut`` still work. ``console``: draw on this one (tests).
    ``no_wrap``: columns kept on one line on a terminal (a URL to copy), the others fold to make room."""
    aligned = frozenset(right)
    whole = frozenset(no_wrap)
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
