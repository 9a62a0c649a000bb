"""Checksums: the vectorized masks agree with the one-value checks."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from shopveil.detect._ids import card_brand_ok
from shopveil.detect._patterns import card_mask, iban_mask, iban_ok, luhn_ok

_digits = st.from_regex(r"[0-9]{10,21}", fullmatch=True)
_ibanish = st.from_regex(r"(GB|DE|FR|NL|XX)[0-9]{2}[A-Z0-9]{10,24}", fullmatch=True)


@given(st.lists(st.one_of(_digits, st.none(), st.text(max_size=5)), max_size=30))
def test_card_mask_agrees_with_luhn_ok(values: list[str | None]) -> None:
    mask = card_mask(pa.array(values, pa.string()))
    digits = [None if v is None else v.replace(" ", "").replace("-", "") for v in values]
    expected = [d is not None and luhn_ok(d) and (len(d) > 12 or card_brand_ok(d)) for d in digits]
    assert mask.tolist() == expected


@given(st.lists(st.one_of(_ibanish, st.none()), max_size=30))
def test_iban_mask_agrees_with_iban_ok(values: list[str | None]) -> None:
    mask = iban_mask(pa.array(values, pa.string()))
    assert mask.tolist() == [v is not None and iban_ok(v) for v in values]


def test_known_values() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("0000000000000")  # passes the sum, but is no card
    assert iban_ok("GB82WEST12345698765432")
    assert not iban_ok("GB82WEST1234569876543")  # one short of GB's 22
    values = pa.array(["4111-1111-1111-1111", "GB82 WEST 1234 5698 7654 32", None])
    assert card_mask(values).tolist() == [True, False, False]
    assert iban_mask(values).tolist() == [False, True, False]
    sliced = values.slice(1)
    assert iban_mask(sliced).tolist() == [True, False]
