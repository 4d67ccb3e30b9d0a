"""The Idempotency-Key header: an RFC 8941 sf-string, or a bare token for compatibility."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import HeaderError
from seawall.http._idempotency import MAX_KEY_LENGTH, parse_idempotency_key

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
BARE = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\,')


def sf_string(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("  abc \t", "abc"),
        ('"a key with spaces"', "a key with spaces"),
        ('"q\\"uote \\\\ back"', 'q"uote \\ back'),
        ("b64+/=", "b64+/="),
        ('"' + "x" * MAX_KEY_LENGTH + '"', "x" * MAX_KEY_LENGTH),
    ],
)
def test_valid_keys(value: str, key: str) -> None:
    assert parse_idempotency_key(value) == key


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ('""', "is empty"),
        ("x" * (MAX_KEY_LENGTH + 1), "256 characters long; at most 255"),
        ('"' + "x" * (MAX_KEY_LENGTH + 1) + '"', "256 characters long"),
        ("clé", "must be ASCII"),
        ("a\x00b", "control character (0x00)"),
        ("a\x7fb", "control character (0x7f)"),
        ('"a\nb"', "control character (0x0a)"),
        ('"unterminated', "missing its closing quote"),
        ('"trailing\\', "ends inside an escape"),
        ('"bad\\escape"', 'only \\" and \\\\ may be escaped'),
        ('"key";param=1', "after the closing quote"),
        ('"one", "two"', "after the closing quote"),
        ("one, two", "holds several keys"),
        ("two words", "may not contain ' ' unquoted"),
        ('ab"c', "may not contain '\"' unquoted"),
    ],
)
def test_malformed_keys_say_why(value: str, reason: str) -> None:
    with pytest.raises(HeaderError) as info:
        parse_idempotency_key(value)
    assert reason in info.value.reason
    assert info.value.header == "idempotency-key"


@given(st.text())
def test_any_text_parses_to_a_valid_key_or_a_header_error(value: str) -> None:
    try:
        key = parse_idempotency_key(value)
    except HeaderError as exc:
        assert exc.reason
        return
    assert 1 <= len(key) <= MAX_KEY_LENGTH
    assert all(0x20 <= ord(c) <= 0x7E for c in key)


@given(st.text(PRINTABLE, min_size=1, max_size=MAX_KEY_LENGTH))
def test_every_printable_key_round_trips_as_an_sf_string(key: str) -> None:
    assert parse_idempotency_key(sf_string(key)) == key


@given(st.text(BARE, min_size=1, max_size=MAX_KEY_LENGTH))
def test_a_bare_token_and_its_quoted_form_are_the_same_key(key: str) -> None:
    assert parse_idempotency_key(key) == parse_idempotency_key(sf_string(key)) == key
