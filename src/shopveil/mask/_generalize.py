"""Generalization: dates to a coarser unit, ages to bands, codes to a prefix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError, SchemaError
from shopveil.mask._text import as_text

if TYPE_CHECKING:
    import polars as pl

__all__ = ["AgeBand", "DateUnit", "GeneralizeDate", "Truncate", "parse_dates"]


class DateUnit(StrEnum):
    """The unit a date is generalized to."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_FORMATS = {
    DateUnit.DAY: "%Y-%m-%d",
    DateUnit.WEEK: "%G-W%V",
    DateUnit.MONTH: "%Y-%m",
    DateUnit.YEAR: "%Y",
}


def parse_dates(values: pa.Array, column: str) -> pl.Series:
    """Values as a polars datetime series; text is parsed, and unparsable text is an error."""
    import polars as pl  # on use: a policy names these operators without running them

    parsed, rows = _parse_distinct(values, column)
    return parsed if rows is None else pl.Series(column, pc.take(parsed.to_arrow(), rows))


def _parse_distinct(values: pa.Array, column: str) -> tuple[pl.Series, pa.Array | None]:
    """Text parsed once per distinct value, and each row's index into the result.

    A column of dates repeats most of its values and parsing dominates the cost, so
    operators work on the distinct values and map their result back with ``take``. The
    index is ``None`` (the series is per row) for values that are not text.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return _parse_rows(values, column), None
    encoded = pc.dictionary_encode(values)
    try:
        # The dictionary keeps the order of first appearance, so Polars infers the
        # format from the same first value as it would over the rows.
        return _parse_rows(encoded.dictionary, column), encoded.indices
    except SchemaError:
        _parse_rows(values, column)  # the error counts rows, not distinct values
        raise


def _parse_rows(values: pa.Array, column: str) -> pl.Series:
    import polars as pl

    series = pl.Series(column, values)
    if series.dtype in (pl.Date, pl.Datetime) or isinstance(series.dtype, pl.Datetime):
        return series.cast(pl.Datetime("us"))
    if series.dtype != pl.String:
        raise SchemaError(f"column {column!r} holds {series.dtype}, not dates")
    try:
        parsed = series.str.strip_chars().str.to_datetime(strict=False, time_unit="us")
    except pl.exceptions.ComputeError:
        parsed = pl.Series(column, [None] * len(series), dtype=pl.Datetime("us"))
    bad = int((parsed.is_null() & series.is_not_null()).sum())
    if bad:
        raise SchemaError(
            f"column {column!r}: {bad} of {len(series)} values are not dates "
            "(ISO 8601 such as 2011-03-04 or 2011-03-04 10:15:00 is expected)"
        )
    return parsed


def _per_row(result: pl.Series, rows: pa.Array | None) -> pa.Array:
    text = result.to_arrow().cast(pa.string())
    return text if rows is None else pc.take(text, rows)


@dataclass(frozen=True)
class GeneralizeDate:
    """Coarsen a date or timestamp to a day, ISO week, month, quarter or year (as text)."""

    name: ClassVar[str] = "generalize_date"

    to: DateUnit = DateUnit.MONTH

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "to", DateUnit(self.to))
        except ValueError:
            choices = ", ".join(unit.value for unit in DateUnit)
            raise ParameterError(f"to must be one of {choices}, got {self.to!r}") from None

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        import polars as pl

        dates, rows = _parse_distinct(values, context.column)
        if self.to is DateUnit.QUARTER:
            text = dates.dt.year().cast(pl.String) + "-Q" + dates.dt.quarter().cast(pl.String)
        else:
            text = dates.dt.strftime(_FORMATS[self.to])
        return _per_row(text, rows)


@dataclass(frozen=True)
class AgeBand:
    """Ages, or birth dates turned into ages on the run's date, as bands like ``30-39``.

    Ages at or above ``top`` share one open band (``90+``), as HIPAA's safe harbour asks.
    """

    name: ClassVar[str] = "age_band"

    width: int = 10
    top: int = 90
    from_birth_date: bool = False

    def __post_init__(self) -> None:
        for field_name in ("width", "top"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{field_name} must be a positive integer, got {value!r}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        import polars as pl

        if self.from_birth_date:
            born = parse_dates(values, context.column)
            as_of = context.as_of
            had_birthday = (born.dt.month() < as_of.month) | (
                (born.dt.month() == as_of.month) & (born.dt.day() <= as_of.day)
            )
            ages = as_of.year - born.dt.year().cast(pl.Int64) - (~had_birthday).cast(pl.Int64)
        else:
            ages = _parse_ages(values, context.column)
        low = (ages // self.width) * self.width
        band = low.cast(pl.String) + "-" + (low + self.width - 1).cast(pl.String)
        top_band = pl.Series([f"{self.top}+"] * len(ages), dtype=pl.String)
        banded = pl.select(
            pl.when(ages.is_null()).then(None).when(ages >= self.top).then(top_band).otherwise(band)
        ).to_series()
        return banded.to_arrow().cast(pa.string())


def _parse_ages(values: pa.Array, column: str) -> pl.Series:
    import polars as pl

    series = pl.Series(column, values)
    ages = series.cast(pl.Float64, strict=False)
    bad = int((ages.is_null() & series.is_not_null()).sum())
    if bad or bool((ages < 0).any()):
        raise SchemaError(f"column {column!r}: {bad or 'some'} values are not ages (numbers >= 0)")
    return ages.floor().cast(pl.Int64)


@dataclass(frozen=True)
class Truncate:
    """Keep the first ``keep`` characters (e.g. a postcode's outward part) and drop the rest."""

    name: ClassVar[str] = "truncate"

    keep: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.keep, bool) or not isinstance(self.keep, int) or self.keep < 0:
            raise ParameterError(f"keep must be an integer >= 0, got {self.keep!r}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        text = pc.utf8_trim_whitespace(as_text(values, context.column))
        return pc.utf8_slice_codeunits(text, 0, self.keep)
