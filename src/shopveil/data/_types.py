"""The types a CSV's text columns hold, so a release keeps numbers, dates and booleans.

CSV columns are read as text (:func:`~shopveil.data.open_source`), so ids such as
``"00123"`` or ``"17850.0"`` reach the operators as written. A column a release passes
through unchanged should come out as what it holds: a number stays a number in Parquet
and unquoted in CSV. :class:`TextTypes` reads every value of such columns once and keeps,
per column, the first type every value is written in:

========================  ===================================================
``int64``                 ``-12``, ``0``, ``17850`` (no ``+``, no leading zero)
``float64``               ``2.55``, ``-0.5``, ``1e-3``, ``17850.0``
``date32``                ``2011-01-31``
``timestamp[s]``          ``2010-12-01 08:26:00`` (or with ``T``)
``timestamp[us]``         the same with a fraction of a second
``bool``                  ``true``, ``false`` (any case)
========================  ===================================================

anything else stays text. A value with a leading zero (``"00123"``) or an integer part
longer than 15 digits keeps its column text: it is a code or an id, and a number would
change it. The rules are strict on purpose: a value that converts always converts to the
same number, date or time, whatever the other rows hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["TextTypes", "apply_types"]

_DIGITS = r"(?:0|[1-9][0-9]{0,14})"
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[ T][0-9]{2}:[0-9]{2}:[0-9]{2}"
# (type, the pattern every value must match, then a cast that must succeed), in order.
_CANDIDATES: tuple[tuple[pa.DataType, str], ...] = (
    (pa.int64(), rf"^-?{_DIGITS}$"),
    (pa.float64(), rf"^-?{_DIGITS}(?:\.[0-9]+)?(?:[eE][+-]?[0-9]{{1,3}})?$"),
    (pa.date32(), rf"^{_DAY}$"),
    (pa.timestamp("s"), rf"^{_DAY}{_TIME}$"),
    (pa.timestamp("us"), rf"^{_DAY}{_TIME}(?:\.[0-9]{{1,6}})?$"),
    (pa.bool_(), r"^(?i:true|false)$"),
)


class TextTypes:
    """The types still possible for each text column, narrowed batch by batch."""

    def __init__(self, columns: Iterable[str]) -> None:
        self._possible = {name: list(_CANDIDATES) for name in columns}
        self._seen: set[str] = set()

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Drop the types some value of ``batch`` is not written in."""
        for name, possible in self._possible.items():
            if not possible or name not in batch.schema.names:
                continue
            values = batch.column(name)
            if not _is_text(values.type):
                possible.clear()
                continue
            values = pc.drop_null(values)
            if not len(values):
                continue
            self._seen.add(name)
            possible[:] = [(t, p) for t, p in possible if _written_as(values, t, p)]

    def types(self) -> dict[str, pa.DataType]:
        """Per column with at least one value, the type all its values are written in."""
        return {
            name: possible[0][0]
            for name, possible in self._possible.items()
            if possible and name in self._seen
        }


Tabular = TypeVar("Tabular", pa.RecordBatch, pa.Table)


def apply_types(data: Tabular, types: Mapping[str, pa.DataType]) -> Tabular:
    """``data`` with the columns named in ``types`` converted to those types."""
    if not types:
        return data
    columns = [
        pc.cast(column, types[name]) if name in types else column
        for name, column in zip(data.schema.names, data.columns, strict=True)
    ]
    return type(data).from_arrays(columns, names=data.schema.names)


def _written_as(values: pa.Array | pa.ChunkedArray, to: pa.DataType, pattern: str) -> bool:
    if not pc.all(pc.match_substring_regex(values, pattern)).as_py():
        return False
    try:
        pc.cast(values, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False  # out of range: a day 2011-02-30, an integer past 2^63
    return True


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))
