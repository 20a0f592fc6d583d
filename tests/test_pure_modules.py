"""Modules that call themselves pure are: importing one loads neither the database driver (psycopg) nor
the HTTP client (httpx), and none reads through a connection; the replay package's face only re-exports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ingestion"

#: The pure modules of the issue's list, and their neighbours: decode, normalize, identity, the calendar,
#: the fetch plan, the watch schedule, the check rules, adoption, the table specs.
PURE = (
    "ingestion.calendar",
    "ingestion.replay",
    "ingestion.replay.identity",
    "ingestion.replay.normalize",
    "ingestion.replay.adopt",
    "ingestion.replay.rows",
    "ingestion.replay.summary",
    "ingestion.fetch.plan",
    "ingestion.watch.schedule",
    "ingestion.ops.check",
    "ingestion.ops.check.rules",
)

#: Modules that say they are pure and must not read through a connection (they take data).
NO_CONNECTION = (*PURE, "ingestion.db.userdata", "ingestion.ops.verify_compare", "ingestion.replay.scope")


def _loaded(module: str) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in ('psycopg', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.split()


@pytest.mark.parametrize("module", PURE)
def test_pure_module_loads_no_driver(module: str) -> None:
    """Importing a pure module (in a fresh interpreter) loads neither psycopg nor httpx."""
    assert _loaded(module) == []


def _path(module: str) -> Path:
    parts = module.split(".")[1:]
    package = PACKAGE.joinpath(*parts)
    return package / "__init__.py" if package.is_dir() else package.with_suffix(".py")


@pytest.mark.parametrize("module", NO_CONNECTION)
def test_pure_module_reads_through_no_connection(module: str) -> None:
    """A module that calls itself pure calls no ``execute``/``fetchall`` and takes no connection."""
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
    calls = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"execute", "executemany", "fetchall", "fetchone", "cursor", "copy"}
    ]
    connections = [
        arg.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in node.args.args + node.args.kwonlyargs
        if arg.arg == "conn"
    ]
    assert calls == [] and connections == []


def test_pure_replay_face_only_reexports() -> None:
    """``ingestion/replay/__init__.py`` is under 40 lines and holds only imports and ``__all__``."""
    path = PACKAGE / "replay" / "__init__.py"
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 40
    body = ast.parse(text).body
    kinds = {type(node).__name__ for node in body[1:]}  # the docstring first
    assert kinds <= {"ImportFrom", "Import", "Assign"}
    assigned = [
        t.id for node in body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    ]
    assert assigned == ["__all__"]
