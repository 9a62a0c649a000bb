"""Dates are parsed once per distinct value: the output is the row-by-row output exactly."""

from __future__ import annotations

from datetime import date

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.errors import SchemaError
from shopveil.mask import AgeBand, DateUnit, GeneralizeDate

AS_OF = date(2026, 11, 29)

# Several formats, padding, impossible dates, text that is no date, empty text and nulls.
MESSY = [
    "2011-03-04",
    "2011-03-04 10:15:00",
    "2011-03-04T10:15:00",
    "2010-12-01 08:26:00",
    " 2011-03-04 ",
    "2011/03/04",
    "04/03/2011",
    "13/03/2011",
    "2011-03-04T10:15:00Z",
    "2011-03-04 10:15:00+01:00",
    "2011-02-30",
    "2011-13-01",
    "soon",
    "",
    None,
]
_FORMATS = {"day": "%Y-%m-%d", "week": "%G-W%V", "month": "%Y-%m", "year": "%Y"}


def _rows_reference(values: list[str | None], unit: str) -> list[str | None] | str:
    """What parsing every row on its own gives (the error text when it fails)."""
    series = pl.Series("c", values, dtype=pl.String)
    try:
        parsed = series.str.strip_chars().str.to_datetime(strict=False, time_unit="us")
    except pl.exceptions.ComputeError:
        parsed = pl.Series("c", [None] * len(series), dtype=pl.Datetime("us"))
    bad = int((parsed.is_null() & series.is_not_null()).sum())
    if bad:
        return f"{bad} of {len(series)} values are not dates"
    if unit == "quarter":
        text = parsed.dt.year().cast(pl.String) + "-Q" + parsed.dt.quarter().cast(pl.String)
    else:
        text = parsed.dt.strftime(_FORMATS[unit])
    return text.to_list()


def _generalized(values: list[str | None], unit: str) -> list[str | None] | str:
    context = OperatorContext(purpose="analytics", column="c", keys=None, as_of=AS_OF)
    try:
        out = GeneralizeDate(to=DateUnit(unit)).apply(pa.array(values, pa.string()), context)
    except SchemaError as exc:
        return str(exc).split(": ", 1)[1].split(" (")[0]
    return out.to_pylist()


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.sampled_from(MESSY), max_size=40),
    unit=st.sampled_from([u.value for u in DateUnit]),
)
def test_distinct_parsing_matches_row_by_row_parsing(values: list[str | None], unit: str) -> None:
    assert _generalized(values, unit) == _rows_reference(values, unit)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.sampled_from([*MESSY[:5], None]), min_size=1, max_size=40))
def test_distinct_parsing_matches_on_clean_mixed_iso_text(values: list[str | None]) -> None:
    # ISO dates with and without a time of day parse in either order of appearance.
    assert _generalized(values, "day") == _rows_reference(values, "day")


def test_the_error_counts_rows_not_distinct_values() -> None:
    values = ["2011-03-04", "soon", "soon", "soon", None]
    context = OperatorContext(purpose="analytics", column="when", keys=None, as_of=AS_OF)
    with pytest.raises(SchemaError, match="'when': 3 of 5 values are not dates"):
        GeneralizeDate().apply(pa.array(values), context)


def test_chunked_and_large_text_and_birth_dates_map_back_to_every_row() -> None:
    context = OperatorContext(purpose="analytics", column="c", keys=None, as_of=AS_OF)
    chunked = pa.chunked_array([["2011-03-04", None], ["2011-03-04", "2012-01-31"]])
    month = GeneralizeDate().apply(chunked, context)  # type: ignore[arg-type]
    assert month.to_pylist() == ["2011-03", None, "2011-03", "2012-01"]
    large = pa.array(["1990-06-01", None, "1990-06-01"], pa.large_string())
    assert GeneralizeDate(to=DateUnit.YEAR).apply(large, context).to_pylist() == [
        "1990",
        None,
        "1990",
    ]
    bands = AgeBand(from_birth_date=True).apply(large, context).to_pylist()
    assert bands == ["30-39", None, "30-39"]
