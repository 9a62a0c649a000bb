"""Data a DP query reads that is not a DuckDB table: what it must answer before the charge.

The query engine reads a source three ways before its answer is computed: the distinct
ids of a customer column (whom to charge), rows to leave out (who cannot pay, whom the
consent register withholds), and, after the charge, the bounded aggregates themselves.
DuckDB does all three on one machine; a :class:`RowSource` (a Spark DataFrame, see
:mod:`._spark`) does the first two here, and the third in its own engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LeaveOut", "RowSource"]


@dataclass(frozen=True, eq=False)
class LeaveOut:
    """Rows to remove: those whose ``column`` is one of ``values`` and, with ``nulls``,
    those whose ``column`` is null."""

    column: str
    values: pa.Array | None
    nulls: bool


@runtime_checkable
class RowSource(Protocol):
    """A table the query engine reads through its own engine rather than DuckDB."""

    def distinct_ids(self, column: str) -> pa.Array:
        """The distinct non-null values of ``column`` in the rows not left out."""
        ...

    def leave_out(self, rules: Sequence[LeaveOut]) -> None:
        """Remove, from every later read, the rows any of ``rules`` matches."""
        ...
