"""Tables in, tables out, and the integer encoding every metric and search works on.

Each column is encoded once into dense integer codes whose order is the order of the
values (numeric order for numbers, text order otherwise), so grouping, generalizing and
splitting are array lookups instead of Python loops over rows. Codes are stored in the
narrowest unsigned type that holds them (:func:`narrow_codes`): a quasi-identifier of a
few hundred values costs two bytes a row, not eight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.errors import ParameterError, SchemaError

__all__ = [
    "EncodedColumn",
    "TableLike",
    "encode_column",
    "format_number",
    "from_arrow",
    "group_ids",
    "narrow_codes",
    "require_columns",
    "to_arrow",
]

TableLike = TypeVar("TableLike", pa.Table, pl.DataFrame)


def to_arrow(table: pa.Table | pl.DataFrame) -> pa.Table:
    """The table as Arrow, without copying where the library allows it."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pl.DataFrame):
        return table.to_arrow()
    raise ParameterError(
        f"table: expected a pyarrow.Table or a polars.DataFrame, got {type(table).__name__}; "
        "convert it first (e.g. pa.Table.from_pandas(df))"
    )


def from_arrow(result: pa.Table, like: pa.Table | pl.DataFrame) -> pa.Table | pl.DataFrame:
    """Return ``result`` as the same kind of table the caller gave."""
    if isinstance(like, pl.DataFrame):
        frame = pl.from_arrow(result)
        assert isinstance(frame, pl.DataFrame)
        return frame
    return result


def require_columns(table: pa.Table, names: Sequence[str], role: str) -> None:
    """Raise :class:`SchemaError` naming the first of ``names`` that is not a column."""
    present = set(table.column_names)
    for name in names:
        if name not in present:
            raise SchemaError(
                f"{role} {name!r} is not a column of the table; "
                f"its columns are: {', '.join(table.column_names)}"
            )


@dataclass(frozen=True, eq=False)
class EncodedColumn:
    """One column as dense integer codes.

    Attributes
    ----------
    name
        The column name.
    codes
        One code per row, in ``0 .. cardinality - 1``, of the type :func:`narrow_codes`
        chooses: widen to ``int64`` before arithmetic that can leave that range.
    labels
        The text of each code (``None`` for a null), as written to an output.
    numbers
        The numeric value of each code, ascending, when the column is numeric; else ``None``.
    """

    name: str
    codes: np.ndarray
    labels: tuple[str | None, ...]
    numbers: np.ndarray | None

    @property
    def cardinality(self) -> int:
        return len(self.labels)

    @property
    def is_numeric(self) -> bool:
        return self.numbers is not None


def narrow_codes(codes: np.ndarray, cardinality: int) -> np.ndarray:
    """``codes`` as ``uint8``, ``uint16`` or ``uint32``, the first that holds ``cardinality``."""
    for kind in (np.uint8, np.uint16, np.uint32):
        if cardinality <= np.iinfo(kind).max + 1:
            return codes.astype(kind, copy=False)
    return codes.astype(np.int64, copy=False)


def format_number(value: float) -> str:
    """``39.0`` → ``"39"``; other floats keep their shortest exact form."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def encode_column(table: pa.Table, name: str) -> EncodedColumn:
    """Encode ``table[name]``; text that parses as numbers in every row counts as numeric."""
    column = table.column(name)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = array.type
    if not array.null_count and (
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    ):
        numbers = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        if np.all(np.isfinite(numbers)):
            values, codes = np.unique(numbers, return_inverse=True)
            labels = tuple(format_number(float(v)) for v in values)
            return EncodedColumn(name, narrow_codes(codes, len(values)), labels, values)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        array = pc.cast(array, pa.string())
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    # Parse the distinct values only: a text column of numbers becomes numeric.
    parsed = _parse_numbers(encoded.dictionary) if not array.null_count else None
    if parsed is not None:
        values, inverse = np.unique(parsed, return_inverse=True)
        labels = tuple(format_number(float(v)) for v in values)
        return EncodedColumn(name, narrow_codes(inverse, len(values))[indices], labels, values)
    raw = encoded.dictionary.to_pylist()
    order = sorted(range(len(raw)), key=lambda i: (raw[i] is not None, raw[i] or ""))
    remap = np.empty(len(order), dtype=np.int64)
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int64)
    codes = narrow_codes(remap, len(order))[indices]
    return EncodedColumn(name, codes, tuple(raw[i] for i in order), None)


def _parse_numbers(dictionary: pa.Array) -> np.ndarray | None:
    if len(dictionary) == 0:
        return None
    try:
        values = pc.cast(pc.utf8_trim_whitespace(dictionary), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    return numbers if np.all(np.isfinite(numbers)) else None


_MAX_KEY = 1 << 62


def group_ids(codes: Sequence[np.ndarray], cards: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by several code columns.

    Returns
    -------
    ids, sizes
        ``ids[row]`` is the row's group in ``0 .. len(sizes) - 1``; groups are numbered in
        the lexicographic order of their codes; ``sizes[g]`` is the number of rows in ``g``.
    """
    n = len(codes[0]) if codes else 0
    if not codes:
        return np.zeros(n, dtype=np.int64), np.array([n] if n else [], dtype=np.int64)
    key = codes[0].astype(np.int64, copy=True)
    span = max(int(cards[0]), 1)
    for column, card in zip(codes[1:], cards[1:], strict=True):
        card = max(int(card), 1)
        if span * card >= _MAX_KEY:
            # Re-number the groups seen so far so the mixed-radix key cannot overflow.
            _, key = np.unique(key, return_inverse=True)
            span = int(key.max()) + 1 if n else 1
        key = key * card + column
        span *= card
    if span <= max(2 * n, 1 << 10):
        counts = np.bincount(key, minlength=span)
        present = counts > 0
        dense = np.cumsum(present) - 1
        return dense[key], counts[present]
    _, ids, sizes = np.unique(key, return_inverse=True, return_counts=True)
    return ids.astype(np.int64), sizes.astype(np.int64)
