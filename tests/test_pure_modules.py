"""Modules that call themselves pure are: importing one loads neither the database driver (psycopg) nor
the HTTP client (httpx), and none reads through a connection; the replay package's face only re-exports."""

from __future__ import annotations

import ast
import re
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

#: How a module's docstring says the module itself is pure: ``PURE``, a sentence that starts with "Pure"
#: (``Pure: bytes in, Structs out.``), or in its first paragraph "(pure)" or "a pure function of". Not "x is
#: pure" (a part of a module: ``fetch_runs`` is pure, ``replay_runs`` the shell), nor "(pure)" further down.
#: (``: pure`` and "a pure function from" in the first paragraph count too.)
_SAYS_PURE = re.compile(r"\bPURE\b|(?:^|[.:;!?]\s+)Pure\b", re.M)
_FIRST_SAYS_PURE = re.compile(r"\(pure\)|:\s+pure\b|\ba pure function (of|from)\b")
_DOCSTRING = re.compile(r'\A(?:#[^\n]*\n|\s)*[rRuU]?"""(.*?)"""', re.S)


def _says_pure(path: Path) -> bool:
    found = _DOCSTRING.match(path.read_text(encoding="utf-8"))
    doc = found.group(1) if found else ""
    return bool(_SAYS_PURE.search(doc) or _FIRST_SAYS_PURE.search(doc.split("\n\n")[0]))


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module whose docstring says it is pure (found, not listed: a new one is checked too).
SAYS_PURE = tuple(_module(p) for p in sorted(PACKAGE.rglob("*.py")) if _says_pure(p))

#: Modules that say they are pure and must not read through a connection (they take data).
NO_CONNECTION = tuple(dict.fromkeys((*PURE, *SAYS_PURE)))


def test_pure_modules_are_found_by_their_docstring() -> None:
    """The modules whose docstrings say pure are found (the list below is checked for connections), and a
    module with a pure part only is not taken for a pure one."""
    assert {
        "ingestion.replay.adopt",
        "ingestion.db.userdata",
        "ingestion.replay.scope",
        "ingestion.replay.stored_rows",
        "ingestion.calendar",
        "ingestion.server._time",
        "ingestion.store._log",
    } <= set(SAYS_PURE)
    assert "ingestion.ops.runs" not in SAYS_PURE and "ingestion.config" not in SAYS_PURE


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


def _reads_through_connection(module: str) -> list[str]:
    """The ``execute``/``fetchall``... calls and ``conn`` parameters in ``module``'s source."""
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
    return calls + connections


def test_pure_module_reads_through_no_connection() -> None:
    """A module that calls itself pure calls no ``execute``/``fetchall`` and takes no connection: its
    readers live in a shell module (adoption's in replay/load.py, the foreign keys in db/clean.py)."""
    assert {m: found for m in NO_CONNECTION if (found := _reads_through_connection(m))} == {}


def test_pure_module_check_sees_a_reader() -> None:
    """The check above can fail: a shell module with a pure part (ops/runs.py) is seen reading."""
    assert {"execute", "conn"} <= set(_reads_through_connection("ingestion.ops.runs"))


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
