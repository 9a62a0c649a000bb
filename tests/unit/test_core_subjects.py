"""Canonical subject ids: every spelling of one person is one id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.subjects import IdType, canonical_id, canonical_ids
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


def test_the_vectorized_form_agrees_with_the_scalar_form() -> None:
    import pyarrow as pa

    texts = ["17850.0", " 17850", "017850", "+5", "-0", "-007", "ab  12", "Ａb", "1.5", "", None]
    out = canonical_ids(pa.array(texts)).to_pylist()
    expected = [canonical_id(t) if t not in ("", None) else None for t in texts]
    assert out == expected
    assert canonical_ids(pa.array([17850.0, 1.5, None])).to_pylist() == ["17850", None, None]
    assert canonical_ids(pa.array([17850, None])).to_pylist() == ["17850", None]
    assert canonical_ids(pa.array(["17850", "C1"]), IdType.INTEGER).to_pylist() == ["17850", None]


@given(st.lists(st.one_of(st.integers(-(10**12), 10**12).map(str), st.text(max_size=8))))
def test_vectorized_and_scalar_agree_on_any_text(texts: list[str]) -> None:
    import pyarrow as pa

    out = canonical_ids(pa.array(texts, pa.string())).to_pylist()
    for text, got in zip(texts, out, strict=True):
        try:
            want = canonical_id(text)
        except ParameterError:
            want = None
        assert got == want
