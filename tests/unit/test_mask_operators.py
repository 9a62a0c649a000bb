"""Record-level masking operators: redaction, generalization, fake substitution."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError, SchemaError
from shopveil.keys import Keyring
from shopveil.mask import AgeBand, FakeKind, FakeSubstitute, GeneralizeDate, Redact, Truncate

AS_OF = date(2026, 11, 29)


def ctx(
    column: str = "c", keyring: Keyring | None = None, purpose: str = "analytics"
) -> OperatorContext:
    return OperatorContext(purpose=purpose, column=column, keys=keyring, as_of=AS_OF)


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("day", "2010-12-01 08:26:00", "2010-12-01"),
        ("week", "2011-01-02", "2010-W52"),  # ISO week belongs to the previous ISO year
        ("month", "2010-12-01 08:26:00", "2010-12"),
        ("quarter", "2011-05-30", "2011-Q2"),
        ("year", "2011-05-30", "2011"),
    ],
)
def test_generalize_date_units(unit: str, value: str, expected: str) -> None:
    out = GeneralizeDate(to=unit).apply(pa.array([value, None]), ctx())  # type: ignore[arg-type]
    assert out.to_pylist() == [expected, None]


def test_generalize_date_accepts_typed_timestamps() -> None:
    values = pa.array([date(2011, 3, 4), None], pa.date32())
    assert GeneralizeDate().apply(values, ctx()).to_pylist() == ["2011-03", None]


def test_text_that_is_not_a_date_is_an_error_not_a_null() -> None:
    with pytest.raises(SchemaError, match="not dates"):
        GeneralizeDate().apply(pa.array(["2011-03-04", "soon"]), ctx("InvoiceDate"))


@given(age=st.integers(0, 120), width=st.integers(1, 25))
def test_age_band_contains_the_age(age: int, width: int) -> None:
    band = AgeBand(width=width, top=90).apply(pa.array([str(age)]), ctx()).to_pylist()[0]
    if age >= 90:
        assert band == "90+"
    else:
        low, high = (int(x) for x in band.split("-"))
        assert low <= age <= high and high - low + 1 == width


@given(days_old=st.integers(0, 36_000))
def test_age_band_from_birth_date_matches_the_calendar_age(days_old: int) -> None:
    born = AS_OF - timedelta(days=days_old)
    age = AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))
    band = AgeBand(from_birth_date=True).apply(pa.array([born.isoformat()]), ctx()).to_pylist()[0]
    expected = "90+" if age >= 90 else f"{age // 10 * 10}-{age // 10 * 10 + 9}"
    assert band == expected


def test_truncate_and_redact_keep_nulls() -> None:
    assert Truncate(keep=3).apply(pa.array([" SW1A 1AA", None]), ctx()).to_pylist() == ["SW1", None]
    assert Redact().apply(pa.array(["x", None]), ctx()).to_pylist() == ["[REDACTED]", None]


def test_fake_substitution_is_consistent_keyed_and_safe(keyring: Keyring) -> None:
    values = pa.array(["Ann Lee", "Bob Stone", "Ann Lee", None])
    names = FakeSubstitute().apply(values, ctx("name", keyring)).to_pylist()
    assert names[0] == names[2] and names[3] is None
    assert all(n not in ("Ann Lee", "Bob Stone") for n in names[:3])
    other_purpose = FakeSubstitute().apply(values, ctx("name", keyring, "marketing")).to_pylist()
    emails = FakeSubstitute(kind=FakeKind.EMAIL).apply(values, ctx("email", keyring)).to_pylist()
    phones = FakeSubstitute(kind=FakeKind.PHONE).apply(values, ctx("phone", keyring)).to_pylist()
    assert names != other_purpose  # a different purpose gets a different key
    assert all(e.split("@")[1].startswith("example.") for e in emails[:3])
    assert all(p.startswith("+44 7700 900") for p in phones[:3])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GeneralizeDate(to="decade"), "to must be one of"),  # type: ignore[arg-type]
        (lambda: AgeBand(width=0), "width"),
        (lambda: Truncate(keep=-1), "keep"),
        (lambda: FakeSubstitute(kind="planet"), "kind must be one of"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_name_the_parameter(make: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        make()  # type: ignore[operator]
