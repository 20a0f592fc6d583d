"""The options several commands share, declared once: ``--store``, ``--json``, ``--wait``, ``--year``,
``--recent`` (each command adds only its own); and :func:`settings_for`, the settings with ``--store``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer

from ingestion.config import Settings, load_settings

__all__ = [
    "JsonOption",
    "RecentOption",
    "SourceOption",
    "StoreOption",
    "WaitOption",
    "YearsOption",
    "settings_for",
]

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="The snapshot store's folder (default: SNAPSHOT_DIR).", file_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of text.")]
WaitOption = Annotated[
    float | None,
    typer.Option(
        "--wait",
        metavar="SECONDS",
        min=0,
        help="How long to wait for another writer's lock (the store's, a replay's) (default: 10).",
    ),
]
YearsOption = Annotated[
    list[int] | None,
    typer.Option("--year", help="A season (repeatable). Default: the current one."),
]
RecentOption = Annotated[
    int | None,
    typer.Option("--recent", metavar="DAYS", help="Only meetings with a session in the last DAYS days."),
]

SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        metavar="SOURCE",
        help="openf1, f1db or all: the sources this command uses (default: the SOURCES setting, both).",
    ),
]


def settings_for(store: Path | None) -> Settings:
    """The settings, with ``--store`` (when given) in place of SNAPSHOT_DIR."""
    settings = load_settings()
    if store is not None:
        settings = msgspec.structs.replace(settings, snapshot_dir=store)
    return settings
