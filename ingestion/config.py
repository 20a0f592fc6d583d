"""Settings from the environment and a ``.env`` file in the working directory (the environment wins).

Default paths (``snapshots/``, ``.pgdata/``) are relative to the working directory, never to the installed
package; the Makefile runs from the checkout, so there they are the checkout's.

:func:`load_settings` is pure given its arguments: pass ``environ`` and ``cwd`` in tests.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
from dotenv.parser import parse_stream

from ingestion.errors import ConfigError
from ingestion.masking import mask_url

DEFAULT_BASE_URL = "https://api.openf1.org/v1"
#: Where f1db's releases are asked (GitHub's REST API for the f1db/f1db repository).
DEFAULT_F1DB_URL = "https://api.github.com/repos/f1db/f1db"
#: Every source there is, in the order a command that uses several runs them.
ALL_SOURCES = ("openf1", "f1db")

#: The source checkout's root, for its tests and tools only: never a default (installed, this is the parent
#: of site-packages).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

FREE_TIER = (3.0, 30)
PAID_TIER = (6.0, 60)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the pipeline reads from its environment."""

    database_url: str | None
    openf1_base_url: str = DEFAULT_BASE_URL
    snapshot_dir: Path
    pgdata_dir: Path
    openf1_username: str | None = None
    openf1_password: str | None = None
    rate_per_second: float = FREE_TIER[0]
    rate_per_minute: int = FREE_TIER[1]
    database_schema: str = "auto"  # DATABASE_SCHEMA: auto | snake | ef (see ingestion.db.naming)
    revalidate_days: int | None = 30  # REVALIDATE_DAYS; 0 in the environment: never by itself
    f1db_url: str = DEFAULT_F1DB_URL  # F1DB_URL: GitHub's API for f1db/f1db, or `ingest serve --f1db`
    github_token: str | None = None  # GITHUB_TOKEN: 5,000 API requests an hour instead of 60
    sources: tuple[str, ...] = ALL_SOURCES  # SOURCES: what fetch, sync, bulk and watch use

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(username, password) for the paid tier, or None (the free tier): the one credentials test."""
        if self.openf1_username and self.openf1_password:
            return (self.openf1_username, self.openf1_password)
        return None

    @property
    def has_credentials(self) -> bool:
        return self.credentials is not None

    def describe(self) -> dict[str, str]:
        """A printable view, secrets masked."""
        return {
            "DATABASE_URL": mask_url(self.database_url) if self.database_url else "(embedded PostgreSQL)",
            "OPENF1_BASE_URL": mask_url(self.openf1_base_url),
            "SNAPSHOT_DIR": str(self.snapshot_dir),
            "EMBEDDED_PGDATA": str(self.pgdata_dir),
            "OPENF1_USERNAME": self.openf1_username or "(none: free tier)",
            "OPENF1_PASSWORD": "***" if self.openf1_password else "(none)",
            "OPENF1_RATE_PER_SECOND": f"{self.rate_per_second:g}",
            "OPENF1_RATE_PER_MINUTE": str(self.rate_per_minute),
            "DATABASE_SCHEMA": self.database_schema,
            "REVALIDATE_DAYS": str(self.revalidate_days or 0),
            "F1DB_URL": mask_url(self.f1db_url),
            "GITHUB_TOKEN": "***" if self.github_token else "(none: 60 API requests an hour)",
            "SOURCES": ",".join(self.sources),
        }


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse a ``.env`` file with python-dotenv's parser: ``KEY=value`` lines, ``export`` prefix, single or
    double quotes (a double-quoted value may span lines and holds escapes), ``#`` comments. Values are taken
    literally (no ``${VAR}`` expansion: a password holding ``$`` stays as written). A line that is not an
    assignment is a :class:`ConfigError` naming its number, never its text (it may hold a secret)."""
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            raise ConfigError(".env", f"line {binding.original.line} is not KEY=value")
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


#: Accepted client rates: from one request an hour (a slower rate would wait for days on one request; 1e-9
#: waited for ever) to a million a second (beyond any server).
RATE_BOUNDS = {"OPENF1_RATE_PER_SECOND": (1 / 3600, 1e6), "OPENF1_RATE_PER_MINUTE": (1.0, 1e6)}


def _shown(raw: str) -> str:
    """``raw`` for a one-line message: quoted, at most 40 characters."""
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


def _positive_number(name: str, raw: str, *, integer: bool) -> float:
    low, high = RATE_BOUNDS.get(name, (0.0, float("inf")))
    try:
        value = float(int(raw)) if integer else float(raw)
    except (ValueError, OverflowError):
        if raw.strip().isdigit():  # more digits than Python converts: out of range, not malformed
            raise ConfigError(name, f"must be between {low:.6g} and {high:g}, got {_shown(raw)}") from None
        kind = "a whole number" if integer else "a number"
        raise ConfigError(name, f"must be {kind} greater than 0, got {_shown(raw)}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ConfigError(name, f"must be greater than 0, got {_shown(raw)}")
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low:.6g} and {high:g}, got {_shown(raw)}")
    return value


def _path(value: str, cwd: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else cwd / path


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) over ``cwd/.env`` (default the working dir)."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    merged: dict[str, str] = {}
    dotenv = cwd / ".env"
    if dotenv.is_file():
        try:
            text = dotenv.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = "is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else f"cannot be read ({exc})"
            raise ConfigError(".env", f"{dotenv} {reason}") from None
        merged.update(parse_dotenv(text))
    # The environment wins, but an empty value there (``DATABASE_URL=``) does not hide ``.env``'s.
    merged.update({k: v for k, v in environ.items() if v != "" or k not in merged})

    def get(name: str) -> str | None:
        value = merged.get(name)
        return value if value not in (None, "") else None

    database_url = get("DATABASE_URL")
    if database_url is None and "DATABASE_URL" in merged:
        raise ConfigError(
            "DATABASE_URL",
            "is set but empty: unset it to use the embedded PostgreSQL, or give a postgresql:// URL",
        )
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            "DATABASE_URL", "must start with postgresql:// (e.g. postgresql://user@host:5432/db)"
        )

    base_url = (get("OPENF1_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("OPENF1_BASE_URL", f"must be an http(s) URL, got {mask_url(base_url)!r}")

    username, password = get("OPENF1_USERNAME"), get("OPENF1_PASSWORD")
    if bool(username) != bool(password):
        missing = "OPENF1_PASSWORD" if username else "OPENF1_USERNAME"
        raise ConfigError(
            missing, "set both OPENF1_USERNAME and OPENF1_PASSWORD for the paid tier, or neither"
        )
    default_second, default_minute = PAID_TIER if username else FREE_TIER

    per_second_raw, per_minute_raw = get("OPENF1_RATE_PER_SECOND"), get("OPENF1_RATE_PER_MINUTE")
    per_second = (
        _positive_number("OPENF1_RATE_PER_SECOND", per_second_raw, integer=False)
        if per_second_raw is not None
        else default_second
    )
    per_minute = (
        int(_positive_number("OPENF1_RATE_PER_MINUTE", per_minute_raw, integer=True))
        if per_minute_raw is not None
        else default_minute
    )

    schema = _schema_setting(get("DATABASE_SCHEMA"))

    revalidate_raw = get("REVALIDATE_DAYS")
    revalidate_days = 30
    if revalidate_raw is not None:
        try:
            revalidate_days = int(revalidate_raw)
        except ValueError:
            revalidate_days = -1
        if revalidate_days < 0:
            problem = f"must be a whole number of days (0: never), got {revalidate_raw!r}"
            raise ConfigError("REVALIDATE_DAYS", problem)

    f1db_url = (get("F1DB_URL") or DEFAULT_F1DB_URL).rstrip("/")
    if not f1db_url.startswith(("http://", "https://")):
        raise ConfigError("F1DB_URL", f"must be an http(s) URL, got {mask_url(f1db_url)!r}")
    sources_raw = get("SOURCES")
    sources = parse_sources(sources_raw, "SOURCES") if sources_raw is not None else ALL_SOURCES

    snapshot_raw = get("SNAPSHOT_DIR")
    snapshot_dir = _path(snapshot_raw or "snapshots", cwd)  # relative to the working directory
    pgdata_raw = get("EMBEDDED_PGDATA")
    pgdata_dir = _path(pgdata_raw or ".pgdata", cwd)

    return Settings(
        database_url=database_url,
        openf1_base_url=base_url,
        snapshot_dir=snapshot_dir,
        pgdata_dir=pgdata_dir,
        openf1_username=username,
        openf1_password=password,
        rate_per_second=per_second,
        rate_per_minute=per_minute,
        database_schema=schema,
        revalidate_days=revalidate_days or None,
        f1db_url=f1db_url,
        github_token=get("GITHUB_TOKEN"),
        sources=sources,
    )


def parse_sources(raw: str, name: str = "--source") -> tuple[str, ...]:
    """``openf1``, ``f1db``, ``openf1,f1db`` or ``all`` as the sources, in :data:`ALL_SOURCES`' order;
    :class:`ConfigError` for anything else (an empty list included)."""
    wanted = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if "all" in wanted:
        wanted = set(ALL_SOURCES) | (wanted - {"all"})
    unknown = sorted(wanted - set(ALL_SOURCES))
    if unknown or not wanted:
        got = ", ".join(unknown) if unknown else "nothing"
        raise ConfigError(name, f"names the sources openf1, f1db (or all), got {got}")
    return tuple(source for source in ALL_SOURCES if source in wanted)


SCHEMA_SETTINGS = ("auto", "snake", "ef")


def _schema_setting(raw: str | None) -> str:
    value = (raw or "auto").strip().lower()
    if value not in SCHEMA_SETTINGS:
        raise ConfigError("DATABASE_SCHEMA", f"must be auto, snake or ef, got {raw!r}")
    return value
