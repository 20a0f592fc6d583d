"""Masking: a password in a URL, a ``password=`` pair or a known secret never survives into printed text."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ingestion.masking import MASK, mask_text, mask_url, url_secrets

TEMPLATE = "postgresql://parc:{}@127.0.0.1:5432/parc_db?sslmode=prefer"
REST = TEMPLATE.format("") + MASK

any_password = st.text(min_size=1, max_size=30)
raw_password = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=30)


@given(password=any_password)
def test_secrets_mask_url_hides_encoded_password(password: str) -> None:
    """Any password, percent-encoded in DATABASE_URL as it should be, is masked in every form."""
    encoded = quote(password, safe="")
    assume(password not in REST and encoded not in REST)
    masked = mask_url(TEMPLATE.format(encoded))
    assert masked == TEMPLATE.format(MASK)
    assert password not in masked and encoded not in masked


@given(password=raw_password)
def test_secrets_mask_url_hides_raw_password(password: str) -> None:
    """A password typed raw (with ``@ / : # ?`` and all) is masked too, however a parser reads the URL."""
    assume(password not in REST)
    masked = mask_url(TEMPLATE.format(password))
    assert password not in masked
    assert masked.startswith(f"postgresql://parc:{MASK}@")


@given(password=raw_password)
def test_secrets_url_secrets_mask_echoed_tokens(password: str) -> None:
    """Any part of the URL that libpq could echo as the password is masked by url_secrets()."""
    url = TEMPLATE.format(password)
    assume(password not in REST)
    message = f'invalid percent-encoded token: "{password}"'
    assert password not in mask_text(message, *url_secrets(url))


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:s3cret@127.0.0.1:1/x", f"postgresql://u:{MASK}@127.0.0.1:1/x"),
        ("postgresql://u:pa#ss@h/x", f"postgresql://u:{MASK}@h/x"),
        ("postgresql://u:p@ss@h/x", f"postgresql://u:{MASK}@h/x"),
        ("postgresql://:s3cret@h/x", f"postgresql://:{MASK}@h/x"),
        ("postgresql://u@h:5432/x", "postgresql://u@h:5432/x"),
        ("postgresql://postgres@/postgres?host=/tmp/pg", "postgresql://postgres@/postgres?host=/tmp/pg"),
        ("postgresql://u@h/x?password=s3cret&sslmode=require", f"postgresql://u@h/x?password={MASK}&sslmode=require"),
        ("https://api.openf1.org/v1", "https://api.openf1.org/v1"),
        ("not a url", "not a url"),
    ],
)
def test_secrets_mask_url_examples(url: str, masked: str) -> None:
    """mask_url keeps everything but the password, including URLs that have none."""
    assert mask_url(url) == masked


def test_secrets_mask_text_in_messages() -> None:
    """URLs and ``password=``/``token=`` pairs inside free text are masked, as are the secrets passed in."""
    text = (
        "failed at postgresql://u:s3cret@db:5432/x (timeout); dsn: host=db password='p w' user=u; "
        "token=abc123 and the key hunter2"
    )
    masked = mask_text(text, "hunter2", None, "")
    for secret in ("s3cret", "p w", "abc123", "hunter2"):
        assert secret not in masked
    assert masked.startswith(f"failed at postgresql://u:{MASK}@db:5432/x (timeout)")


def test_secrets_url_secrets_forms() -> None:
    """url_secrets lists the raw and the decoded password, and ``password=`` values."""
    assert url_secrets("postgresql://u:p%40ss@h/x") == ("p%40ss", "p@ss")
    assert url_secrets("postgresql://u@h/x?password=a%20b") == ("a%20b", "a b")
    assert url_secrets("postgresql://u@h/x") == ()
