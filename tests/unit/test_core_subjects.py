"""Canonical subject ids: every spelling of one person is one id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.subjects import IdType, canonical_id
from shopveil.errors import ParameterError


@pytest.mark.parametrize(
    "spelling", [17850, 17850.0, "17850", " 17850", "17850.0", "017850 ", "１７８５０"]
)
def test_spellings_of_one_customer_are_one_id(spelling: object) -> None:
    assert canonical_id(spelling) == "17850"
    assert canonical_id(spelling, IdType.INTEGER) == "17850"


def test_text_ids_fold_white_space_and_unicode_forms_but_keep_case() -> None:
    assert canonical_id("  ab\u00a0 12 ") == "ab 12"
    assert canonical_id("Ａb") == canonical_id("Ab")
    assert canonical_id("ab") != canonical_id("AB")
    assert canonical_id("17850", IdType.STRING) == "17850"


@pytest.mark.parametrize("bad", [None, True, float("nan"), 1.5, "", "   "])
def test_bad_ids_are_refused(bad: object) -> None:
    with pytest.raises(ParameterError):
        canonical_id(bad)


def test_integer_ids_refuse_text() -> None:
    with pytest.raises(ParameterError, match="integers"):
        canonical_id("C17850", IdType.INTEGER)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_an_integer_and_its_text_forms_agree(n: int) -> None:
    forms = [n, str(n), f" {n} ", f"{n}.0"]
    assert {canonical_id(f) for f in forms} == {str(n)}
