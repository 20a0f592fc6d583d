"""Settings: defaults, ``.env`` under the environment, paid-tier rates, one-line errors, no secret shown."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingestion.config import DEFAULT_BASE_URL, Settings, load_settings, parse_dotenv
from ingestion.errors import ConfigError, UsageError
from ingestion.masking import MASK

RATE_VARIABLES = ("OPENF1_RATE_PER_SECOND", "OPENF1_RATE_PER_MINUTE")


def test_config_defaults(tmp_path: Path) -> None:
    """With nothing set: the embedded database, the public OpenF1 API, the free tier's 3/s and 30/min."""
    s = load_settings(environ={}, cwd=tmp_path)
    assert s.database_url is None
    assert s.openf1_base_url == DEFAULT_BASE_URL == "https://api.openf1.org/v1"
    assert s.snapshot_dir == tmp_path / "snapshots"  # relative to the working directory, never the package
    assert s.pgdata_dir == tmp_path / ".pgdata"
    assert (s.openf1_username, s.openf1_password, s.has_credentials) == (None, None, False)
    assert (s.rate_per_second, s.rate_per_minute) == (3.0, 30)


def test_config_reads_environment(tmp_path: Path) -> None:
    """Every variable is read; relative paths start at the working directory; a trailing / is dropped."""
    s = load_settings(
        environ={
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/parc",
            "OPENF1_BASE_URL": "http://127.0.0.1:8000/v1/",
            "SNAPSHOT_DIR": "snaps",
            "EMBEDDED_PGDATA": "/var/tmp/pgdata",
            "OPENF1_RATE_PER_SECOND": "0.5",
            "OPENF1_RATE_PER_MINUTE": "12",
        },
        cwd=tmp_path,
    )
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/parc"
    assert s.openf1_base_url == "http://127.0.0.1:8000/v1"
    assert s.snapshot_dir == tmp_path / "snaps"
    assert s.pgdata_dir == Path("/var/tmp/pgdata")
    assert (s.rate_per_second, s.rate_per_minute) == (0.5, 12)


def test_config_dotenv_read_and_environment_wins(tmp_path: Path) -> None:
    """Values come from ``.env`` in the working directory unless the environment sets them."""
    (tmp_path / ".env").write_text(
        "# local settings\n"
        "export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/from_dotenv\n"
        "OPENF1_RATE_PER_SECOND = 2  # a comment\n"
        "OPENF1_RATE_PER_MINUTE='20'\n"
        'SNAPSHOT_DIR="my snapshots"\n'
        "\n",
        encoding="utf-8",
    )
    s = load_settings(environ={"OPENF1_RATE_PER_MINUTE": "25"}, cwd=tmp_path)
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/from_dotenv"
    assert s.rate_per_second == 2.0
    assert s.rate_per_minute == 25
    assert s.snapshot_dir == tmp_path / "my snapshots"


def test_config_dotenv_parse_rules() -> None:
    """``.env`` lines: comments, blanks, ``export``, quotes (keeping ``#`` inside), trailing comments."""
    assert parse_dotenv("A=1\n\n# x\nexport B = two words \nC='x # y'\nD=v # note\nE=\n") == {
        "A": "1",
        "B": "two words",
        "C": "x # y",
        "D": "v",
        "E": "",
    }


def test_config_dotenv_python_dotenv_rules() -> None:
    """python-dotenv's grammar: a double-quoted value spans lines and reads escapes; ``$`` stays literal (no
    expansion: a password may hold it); a bare name without ``=`` is an error naming its line."""
    text = 'KEY="line one\nline two"\nESC="a\\tb"\nPW=pa$$word\nQ=\'sin#gle\'\n'
    assert parse_dotenv(text) == {
        "KEY": "line one\nline two",  # a real newline inside the quotes
        "ESC": "a\tb",  # the escape read
        "PW": "pa$$word",
        "Q": "sin#gle",
    }
    with pytest.raises(ConfigError, match=r"^\.env: line 2 is not KEY=value$"):
        parse_dotenv("A=1\nLONELY\n")


def test_config_dotenv_bad_line_names_the_line(tmp_path: Path) -> None:
    """A ``.env`` line that is not KEY=value is an error naming ``.env`` and the line number, not its text."""
    (tmp_path / ".env").write_text("A=1\nthis is s3cret\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, cwd=tmp_path)
    assert str(caught.value) == ".env: line 2 is not KEY=value"
    assert "s3cret" not in str(caught.value)


def test_config_dotenv_not_utf8(tmp_path: Path) -> None:
    """A ``.env`` that is not UTF-8 is a one-line ConfigError, not a traceback."""
    (tmp_path / ".env").write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"^\.env: .* is not UTF-8 text$"):
        load_settings(environ={}, cwd=tmp_path)


def test_config_empty_value_means_unset(tmp_path: Path) -> None:
    """A variable set to the empty string is as good as unset: the default applies."""
    s = load_settings(environ={"OPENF1_RATE_PER_SECOND": ""}, cwd=tmp_path)
    assert s.rate_per_second == 3.0


def test_config_empty_environment_value_does_not_hide_dotenv(tmp_path: Path) -> None:
    """An empty ``DATABASE_URL=`` in the environment leaves ``.env``'s value in force (it silently switched
    to the embedded server); the same for every variable."""
    (tmp_path / ".env").write_text(
        "DATABASE_URL=postgresql://x@127.0.0.1/y\nOPENF1_RATE_PER_SECOND=2\n", encoding="utf-8"
    )
    s = load_settings(environ={"DATABASE_URL": "", "OPENF1_RATE_PER_SECOND": ""}, cwd=tmp_path)
    assert s.database_url == "postgresql://x@127.0.0.1/y"
    assert s.rate_per_second == 2.0


def test_config_empty_database_url_alone_is_a_config_error(tmp_path: Path) -> None:
    """``DATABASE_URL=`` set but empty, with nothing in ``.env``: one line, not a silent embedded server."""
    with pytest.raises(ConfigError, match=r"^DATABASE_URL: is set but empty"):
        load_settings(environ={"DATABASE_URL": ""}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OPENF1_RATE_PER_SECOND", "1e-9"),
        ("OPENF1_RATE_PER_SECOND", "0.0001"),
        ("OPENF1_RATE_PER_SECOND", "1e300"),
        ("OPENF1_RATE_PER_MINUTE", "1" + "0" * 40),
        ("OPENF1_RATE_PER_MINUTE", "9" * 5000),
    ],
)
def test_config_absurd_rate_is_one_line(tmp_path: Path, variable: str, value: str) -> None:
    """A rate that would wait for days per request (1e-9/s waited for ever) or is beyond any server is
    refused with one line naming the variable and the accepted range."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value}, cwd=tmp_path)
    assert str(caught.value).startswith(f"{variable}: must be between ")
    assert len(str(caught.value)) < 200


def test_config_credentials_switch_default_rates(tmp_path: Path) -> None:
    """With both OpenF1 credentials the default rates are the paid tier's 6/s and 60/min."""
    s = load_settings(environ={"OPENF1_USERNAME": "ada", "OPENF1_PASSWORD": "pw"}, cwd=tmp_path)
    assert s.has_credentials
    assert (s.rate_per_second, s.rate_per_minute) == (6.0, 60)


def test_config_explicit_rates_win_over_tier(tmp_path: Path) -> None:
    """Explicit rates are kept with credentials too."""
    s = load_settings(
        environ={
            "OPENF1_USERNAME": "ada",
            "OPENF1_PASSWORD": "pw",
            "OPENF1_RATE_PER_SECOND": "1.5",
            "OPENF1_RATE_PER_MINUTE": "40",
        },
        cwd=tmp_path,
    )
    assert (s.rate_per_second, s.rate_per_minute) == (1.5, 40)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"OPENF1_USERNAME": "ada"}, "OPENF1_PASSWORD"),
        ({"OPENF1_PASSWORD": "s3cretpw"}, "OPENF1_USERNAME"),
    ],
)
def test_config_half_credentials_is_an_error(tmp_path: Path, environ: dict[str, str], variable: str) -> None:
    """Only one of username/password is a ConfigError naming the missing one (and never the password)."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ, cwd=tmp_path)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "s3cretpw" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OPENF1_RATE_PER_SECOND", "fast"),
        ("OPENF1_RATE_PER_SECOND", "0"),
        ("OPENF1_RATE_PER_SECOND", "-1"),
        ("OPENF1_RATE_PER_SECOND", "nan"),
        ("OPENF1_RATE_PER_SECOND", "inf"),
        ("OPENF1_RATE_PER_SECOND", "1e999"),
        ("OPENF1_RATE_PER_MINUTE", "2.5"),
        ("OPENF1_RATE_PER_MINUTE", "0"),
        ("OPENF1_RATE_PER_MINUTE", "9" * 400),
        ("DATABASE_URL", "mysql://root:s3cretpw@localhost/db"),
        ("OPENF1_BASE_URL", "ftp://api.openf1.org"),
    ],
)
def test_config_bad_value_names_variable(tmp_path: Path, variable: str, value: str) -> None:
    """A bad value is a one-line ConfigError (exit 2) that names the variable and shows no password."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value}, cwd=tmp_path)
    error = caught.value
    assert error.variable == variable
    assert str(error).startswith(f"{variable}: ")
    assert "\n" not in str(error)
    assert "s3cretpw" not in str(error)
    assert isinstance(error, UsageError) and error.exit_code == 2


def test_config_base_url_error_masks_password(tmp_path: Path) -> None:
    """An unusable OPENF1_BASE_URL carrying a password is reported without it."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"OPENF1_BASE_URL": "ftp://ada:s3cretpw@api.openf1.org"}, cwd=tmp_path)
    assert "s3cretpw" not in str(caught.value)
    assert MASK in str(caught.value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variable=st.sampled_from(RATE_VARIABLES), value=st.text(max_size=30))
def test_config_rate_garbage_is_valid_or_one_line_error(tmp_path: Path, variable: str, value: str) -> None:
    """Any text as a rate either parses to a finite number > 0 or is a one-line ConfigError naming it."""
    try:
        s = load_settings(environ={variable: value}, cwd=tmp_path)
    except ConfigError as error:
        assert error.variable == variable
        assert str(error).startswith(f"{variable}: ")
        assert "\n" not in str(error) and "\r" not in str(error)
    else:
        rate = s.rate_per_second if variable == "OPENF1_RATE_PER_SECOND" else s.rate_per_minute
        assert 0 < rate < float("inf")
        if variable == "OPENF1_RATE_PER_MINUTE":
            assert isinstance(rate, int)


@given(value=st.floats(min_value=1 / 3600, max_value=1e6))
def test_config_rate_per_second_round_trips(value: float) -> None:
    """A rate in the accepted range (one request an hour to a million a second) is read back exactly."""
    s = load_settings(environ={"OPENF1_RATE_PER_SECOND": repr(value)}, cwd=Path("/nonexistent"))
    assert s.rate_per_second == value


# Passwords: printable, no whitespace (a shell variable), at least 4 characters.
passwords = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=4, max_size=24)


def _with_password(password: str) -> Settings:
    return Settings(
        database_url=f"postgresql://parc:{quote(password, safe='')}@db.example:5432/parc",
        snapshot_dir=Path("/s"),
        pgdata_dir=Path("/p"),
        openf1_username="ada",
        openf1_password=password,
    )


@given(password=passwords)
def test_config_describe_masks_passwords(password: str) -> None:
    """Settings.describe() shows neither the database password nor OPENF1_PASSWORD: its output does not
    depend on the passwords at all."""
    shown = _with_password(password).describe()
    baseline = _with_password("x").describe()
    assert shown == baseline
    text = "\n".join(f"{k}={v}" for k, v in shown.items())
    assume(password not in "\n".join(f"{k}={v}" for k, v in baseline.items()))
    assert password not in text
    assert quote(password, safe="") not in text
    assert shown["DATABASE_URL"] == f"postgresql://parc:{MASK}@db.example:5432/parc"
    assert shown["OPENF1_PASSWORD"] == MASK


def test_config_describe_without_secrets(tmp_path: Path) -> None:
    """describe() names the embedded server and the free tier when nothing is configured."""
    shown = load_settings(environ={}, cwd=tmp_path).describe()
    assert shown["DATABASE_URL"] == "(embedded PostgreSQL)"
    assert shown["OPENF1_PASSWORD"] == "(none)"
    assert shown["OPENF1_RATE_PER_SECOND"] == "3"
    assert shown["OPENF1_RATE_PER_MINUTE"] == "30"
