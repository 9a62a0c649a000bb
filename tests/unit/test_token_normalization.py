"""Keyed-token normalization: one value written many ways gets one token (version 2),
and the version-1 folding stays reproducible."""

from __future__ import annotations

import base64
import hmac
import unicodedata

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.keys import Keyring
from shopveil.pseudo import KeyedToken, retokenize, token_rotation_map
from shopveil.pseudo._fold import fold_array, fold_text


def _tokens(keyring: Keyring, values: list[str | None], **params: object) -> list:
    context = OperatorContext(purpose="marketing", column="email", keys=keyring)
    return KeyedToken(**params).apply(pa.array(values, pa.string()), context).to_pylist()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spellings",
    [
        ["Straße 1", "STRASSE 1", "strasse 1"],  # full case folding: ß is ss
        [unicodedata.normalize("NFC", "josé@x.org"), unicodedata.normalize("NFD", "josé@x.org")],
        ["ann  lee", " ann lee ", "ann\tlee", "Ann\u00a0Lee"],  # blanks of every kind
        ["ａｎｎ@ｅｘａｍｐｌｅ.com", "ann@example.com"],  # full-width letters
    ],
)
def test_one_value_written_many_ways_gets_one_token(keyring: Keyring, spellings: list[str]) -> None:
    out = _tokens(keyring, spellings, normalize="casefold")
    assert len(set(out)) == 1
    assert out[0].startswith("tk1n2_")  # the prefix names the normalization version


def test_different_values_still_differ(keyring: Keyring) -> None:
    out = _tokens(keyring, ["ann lee", "annlee", "anne lee", None], normalize="casefold")
    assert len(set(out[:3])) == 3 and out[3] is None


def test_version_1_folding_stays_reproducible(keyring: Keyring) -> None:
    values = [" Ann@Example.com", "Straße"]
    old = _tokens(keyring, values, normalize="casefold_v1")
    key = keyring.derive("marketing", "token:email", version=1)
    for value, token in zip(values, old, strict=True):
        mac = hmac.digest(key, value.strip().lower().encode(), "sha256")
        assert token == "tk1_" + base64.urlsafe_b64encode(mac[:17]).decode()[:22]
    # A dataset holding only v1 tokens moves to v2 through a rotation map.
    context = OperatorContext(purpose="marketing", column="email", keys=keyring)
    rotation = token_rotation_map(
        pa.array(values),
        KeyedToken(normalize="casefold_v1"),
        KeyedToken(normalize="casefold"),
        context,
    )
    moved = retokenize(pa.array(old), rotation).to_pylist()
    assert moved == _tokens(keyring, values, normalize="casefold")


@given(values=st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30))
def test_the_arrow_folding_equals_the_reference(values: list[str | None]) -> None:
    # Lone surrogates cannot be Arrow strings.
    values = [v for v in values if v is None or not any(0xD800 <= ord(c) < 0xE000 for c in v)]
    out = fold_array(pa.array(values, pa.string())).to_pylist()
    assert out == [None if v is None else fold_text(v) for v in values]
