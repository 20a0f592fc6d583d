"""What every command owes the operator, applied in one place to the whole command tree.

``-h`` as ``--help``, ``-q/--quiet`` and ``-v/--verbose`` on every command, ``--version`` on ``ingest``, one
metavar style (upper-case words: ``DIR``, ``YEAR``, ``TIME``; flags show none), and help texts rewrapped to
the terminal's width by the plain formatter (typer's rich panels show ``<bool>`` and keep ragged lines, and
importing rich costs start-up time). :func:`verbosity` tells commands what was asked.

Why the built command tree is edited rather than each command declared so: typer has no public way to give
every command the same options (a group callback's options go before the subcommand: ``ingest -q fetch``,
not ``ingest fetch -q``), so :func:`apply` walks the click commands typer built and uses click's public
attributes (``context_settings["help_option_names"]``, ``Command.params``, ``Parameter.metavar``) and
typer's public ``rich_markup_mode``. One internal remains: a required argument's usage piece
(``get_usage_pieces``), which click offers no setting for; ``tests/test_cli_conventions.py`` pins the
result, so a typer or click upgrade that changes it fails there, not in front of an operator.
"""

from __future__ import annotations

import copy
import enum
import logging
import sys
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["Verbosity", "apply", "set_verbosity", "verbosity"]


class Verbosity(enum.IntEnum):
    QUIET = -1
    NORMAL = 0
    VERBOSE = 1


_state = {"verbosity": Verbosity.NORMAL}


def verbosity() -> Verbosity:
    """What the operator asked for: ``--quiet`` (results and errors only), normal, or ``--verbose``."""
    return _state["verbosity"]


def set_verbosity(level: Verbosity) -> None:
    _state["verbosity"] = level
    library = logging.getLogger("ingestion")
    if level is Verbosity.VERBOSE and _DEBUG_LINES not in library.handlers:
        library.addHandler(_DEBUG_LINES)  # warnings already have their own lines (cli/runner.py)
        library.setLevel(logging.DEBUG)
    elif level is not Verbosity.VERBOSE and _DEBUG_LINES in library.handlers:
        library.removeHandler(_DEBUG_LINES)
        library.setLevel(logging.NOTSET)


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


_DEBUG_LINES = logging.StreamHandler(sys.stderr)
_DEBUG_LINES.addFilter(_BelowWarning())
_DEBUG_LINES.setFormatter(logging.Formatter("%(name)s: %(message)s"))


#: Option names whose upper-cased name would say less than a word for what they take.
METAVARS = {
    "store": "DIR",
    "rows": "DIR",
    "snapshot_dir": "DIR",
    "now": "TIME",
    "as_of": "TIME",
    "from_": "TIME",
    "to": "TIME",
    "since": "TIME",
    "url": "URL",
}


def metavar_for(name: str) -> str:
    """The metavar of an option called ``name`` (its Python name): a word in capitals."""
    return METAVARS.get(name, name.rstrip("_").replace("_", "-").upper())


def _on_quiet(ctx: Any, param: Any, value: bool) -> None:
    if value:
        set_verbosity(Verbosity.QUIET)


def _on_verbose(ctx: Any, param: Any, value: bool) -> None:
    if value:
        set_verbosity(Verbosity.VERBOSE)


def _on_version(ctx: Any, param: Any, value: bool) -> None:
    if value:
        from ingestion import __version__

        typer.echo(f"{ctx.find_root().info_name} {__version__}")
        raise typer.Exit(0)


def _template(
    quiet: bool = typer.Option(False, "--quiet", "-q", expose_value=False, callback=_on_quiet,
                               help="Print only results and errors: no progress, no notes."),
    verbose: bool = typer.Option(False, "--verbose", "-v", expose_value=False, callback=_on_verbose,
                                 help="Also print each step (each request, each wait) and debug logs."),
    version: bool = typer.Option(False, "--version", expose_value=False, callback=_on_version,
                                 is_eager=True, help="Print the version and exit."),
) -> None:
    """Only here to build the shared options with typer's own machinery."""


def _shared_options() -> dict[str, TyperOption]:
    from typer.main import get_command

    options: dict[str, TyperOption] = {}
    for param in get_command(_fresh_app(_template)).params:
        if isinstance(param, TyperOption) and param.name in ("quiet", "verbose", "version"):
            options[param.name] = param
    return options


def _fresh_app(function: Any) -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command()(function)
    return app


def _commands(command: Any) -> list[Any]:
    found = [command]
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            found += _commands(sub)
    return found


def apply(root: Any, *, version: bool) -> Any:
    """Apply the conventions to ``root`` (a click command built by typer) and every command under it."""
    shared = _shared_options()
    root.context_settings.setdefault("help_option_names", ["-h", "--help"])  # inherited by every command
    for command in _commands(root):
        command.rich_markup_mode = None  # the plain formatter: wrapped to the terminal, no type noise
        names = {p.name for p in command.params}
        for param in command.params:
            takes_value = isinstance(param, TyperOption) and not (param.is_flag or param.count)
            if takes_value and param.metavar is None:
                param.metavar = metavar_for(param.name or "value")
            elif isinstance(param, TyperArgument):
                if param.metavar is None:
                    param.metavar = (param.name or "value").upper()
                if param.required and param.nargs == 1:  # `ingest snapshots show TARGET`, not `{TARGET}`
                    param.get_usage_pieces = lambda ctx, name=param.metavar: [name]  # type: ignore[method-assign,misc]
        extra = [copy.copy(shared[n]) for n in ("quiet", "verbose") if n not in names]
        if version and command is root:
            extra.append(copy.copy(shared["version"]))
        # before --help, so that help stays last
        at = next((i for i, p in enumerate(command.params) if p.name == "help"), len(command.params))
        command.params[at:at] = extra
    return root
