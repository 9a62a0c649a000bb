"""Who counts as a minor: ages counted to the day, as a Hypothesis property against the
textbook rule, for birth dates (typed and as text) and age columns."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.classes import Kind
from shopveil.governance import not_minors
from shopveil.policy import MinorCheck, UnknownAge


def _age(born: date, on: date) -> int:
    """The textbook rule: whole years, one less before this year's birthday."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _check(age: int, unknown: UnknownAge, on: date, kind: Kind = Kind.BIRTH_DATE) -> MinorCheck:
    return MinorCheck(age, unknown, "guardian_consent", on, "born", kind)


@given(
    births=st.lists(st.dates(date(1900, 1, 1), date(2030, 12, 31)), min_size=1, max_size=40),
    on=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    threshold=st.integers(12, 18),
    as_text=st.booleans(),
)
def test_a_row_stays_exactly_when_the_customer_is_of_age(
    births: list[date], on: date, threshold: int, as_text: bool
) -> None:
    column = pa.array([b.isoformat() for b in births]) if as_text else pa.array(births)
    keep = not_minors(pa.table({"born": column}), _check(threshold, UnknownAge.EXCLUDE, on))
    expected = [0 <= _age(b, on) <= 130 and _age(b, on) >= threshold for b in births]
    assert keep.tolist() == expected


@given(
    guardian=st.lists(st.sampled_from(["true", "yes", "1", "false", "no", "", None, "maybe"]),
                      min_size=1, max_size=20),
    unknown=st.sampled_from(list(UnknownAge)),
)  # fmt: skip
def test_a_guardian_lets_a_minor_in_and_unknown_ages_follow_the_law(
    guardian: list[str | None], unknown: UnknownAge
) -> None:
    on = date(2026, 1, 1)
    n = len(guardian)
    table = pa.table(
        {
            "born": pa.array([["2020-01-01", None, "not a date"][i % 3] for i in range(n)]),
            "guardian_consent": pa.array(guardian, pa.string()),
        }
    )
    keep = not_minors(table, _check(16, unknown, on))
    for i, flag in enumerate(guardian):
        consented = flag in ("true", "yes", "1")
        if i % 3 == 0:  # a six-year-old
            assert keep[i] == consented
        else:  # no birth date, or one that cannot be read
            assert keep[i] == (consented or unknown is UnknownAge.INCLUDE)


def test_an_age_column_reads_numbers_and_leaves_bands_unknown() -> None:
    table = pa.table({"born": ["15", "16", " 40 ", "30-39", None, "-3", "200"]})
    keep = not_minors(table, _check(16, UnknownAge.EXCLUDE, date(2026, 1, 1), Kind.AGE))
    assert keep.tolist() == [False, True, True, False, False, False, False]
    keep = not_minors(table, _check(16, UnknownAge.INCLUDE, date(2026, 1, 1), Kind.AGE))
    assert keep.tolist() == [False, True, True, True, True, True, True]
