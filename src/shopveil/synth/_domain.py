"""Columns as small integer codes: numeric columns in public bins, categorical ones by value.

Each column becomes one code per row in ``0..size-1``. A numeric column has ``bins``
equal-width bins over its public bounds plus one code for null. A categorical column
has one code per kept value plus one last code, ``other``, for nulls and for the values
not kept (too rare, or outside a public domain); ``other`` decodes to null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.errors import SchemaError

__all__ = ["Categorical", "Numeric", "column_kind", "value_counts"]


def column_kind(name: str, type_: pa.DataType) -> str:
    """``"numeric"`` or ``"categorical"``; other types are refused with the fix."""
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "numeric"
    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_dictionary(type_)
    ):
        return "categorical"
    raise SchemaError(
        f"column {name!r} has type {type_}, which synthesis cannot model; "
        f"leave it out (exclude={name!r}, or --exclude {name}) or cast it to text or a number"
    )


@dataclass(frozen=True)
class Numeric:
    """A numeric column in ``bins`` equal-width bins over public ``[low, high]``; code
    ``bins`` is null."""

    name: str
    type: pa.DataType
    low: float
    high: float
    bins: int

    @property
    def size(self) -> int:
        """Codes, null included."""
        return self.bins + 1

    def encode(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """One code per row; values outside the bounds are clamped into them."""
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        null = np.isnan(values)
        width = (self.high - self.low) / self.bins
        scaled = np.floor((np.clip(np.nan_to_num(values), self.low, self.high) - self.low) / width)
        codes = np.clip(scaled, 0, self.bins - 1).astype(np.int64)
        codes[null] = self.bins
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pa.Array:
        """Values drawn uniformly within each code's bin (integers for integer columns)."""
        width = (self.high - self.low) / self.bins
        values = self.low + (codes + rng.random(len(codes))) * width
        null = codes == self.bins
        if pa.types.is_integer(self.type):
            low, high = np.ceil(self.low), np.floor(self.high)
            values = np.clip(np.floor(values), low, high)
            return pa.array(values.astype(np.int64), mask=null).cast(self.type)
        values = np.clip(values, self.low, self.high)
        return pa.array(values, mask=null).cast(self.type)


@dataclass(frozen=True)
class Categorical:
    """A categorical column: one code per value in ``values``, then ``other`` (null)."""

    name: str
    type: pa.DataType
    values: tuple[object, ...]

    @property
    def size(self) -> int:
        """Codes, ``other`` included."""
        return len(self.values) + 1

    def encode(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """One code per row; nulls and values not in ``values`` get ``other``."""
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        if not self.values:
            return np.zeros(len(column), dtype=np.int64)
        lookup = pa.array(list(self.values), type=_plain(self.type))
        index = pc.index_in(column, value_set=lookup).to_numpy(zero_copy_only=False)
        codes = np.where(np.isnan(index.astype(np.float64)), len(self.values), index)
        return np.asarray(codes, dtype=np.int64)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pa.Array:
        """The value of each code; ``other`` is null."""
        lookup = pa.array([*self.values, None], type=_plain(self.type))
        return lookup.take(pa.array(codes))


def _plain(type_: pa.DataType) -> pa.DataType:
    return type_.value_type if pa.types.is_dictionary(type_) else type_


def value_counts(column: pa.ChunkedArray | pa.Array) -> tuple[list[object], np.ndarray]:
    """The distinct non-null values of ``column`` (in a data-independent order) and their counts."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    counted = pc.value_counts(pc.drop_null(column))
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_numpy(zero_copy_only=False)
    order = sorted(range(len(values)), key=lambda i: (str(type(values[i])), str(values[i])))
    return [values[i] for i in order], np.asarray(counts, dtype=np.int64)[order]
