"""Lazy imports for the CLI: a command's library is imported when the command runs, not when ``ingest``
starts (``ingest --help`` and every command paid for psycopg, httpx and the server before).

    if TYPE_CHECKING:
        from ingestion.db.naming import resolve
    else:
        resolve = lazy("ingestion.db.naming", "resolve")

Type checkers see the real import; at run time the name is a stand-in that imports on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule", "lazy"]


def lazy(module: str, name: str) -> Any:
    """A callable standing for ``module.name`` (a function or a class to call), imported on first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"lazy({module}.{name})"
    return call


class LazyModule:
    """A module imported on first attribute access: ``database = LazyModule("ingestion.db")``."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)
