"""What a scan found: one finding per column, gathered in a report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopveil._core import ColumnClass, Kind
from shopveil.errors import ParameterError, SchemaError

__all__ = ["ColumnFinding", "ScanReport"]


@dataclass(frozen=True)
class ColumnFinding:
    """The class and kind detection assigns to one column, and why.

    ``evidence`` holds readable reasons ("column name matches 'email'", "97% of 2,000
    sampled values are emails"); it never quotes a sampled value.
    """

    column: str
    column_class: ColumnClass
    kind: Kind
    confidence: float
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.column_class, ColumnClass):
            raise ParameterError(f"column_class={self.column_class!r} is not a ColumnClass")
        if not isinstance(self.kind, Kind):
            raise ParameterError(f"kind={self.kind!r} is not a Kind")
        if not 0.0 <= self.confidence <= 1.0:
            raise ParameterError(f"confidence={self.confidence!r} must lie in [0, 1]")

    @property
    def is_personal(self) -> bool:
        """Whether the column was classified as holding personal data."""
        return self.column_class.is_personal

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON-ready values (never sample values)."""
        return {
            "column": self.column,
            "column_class": self.column_class.value,
            "kind": self.kind.value,
            "confidence": round(self.confidence, 3),
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class ScanReport:
    """Findings for every column of one table, in column order."""

    table: str
    rows_scanned: int
    columns: tuple[ColumnFinding, ...]

    def finding(self, column: str) -> ColumnFinding:
        """The finding for ``column``; :class:`SchemaError` when the table has no such column."""
        for found in self.columns:
            if found.column == column:
                return found
        names = ", ".join(found.column for found in self.columns)
        raise SchemaError(f"table {self.table!r} has no column {column!r}; it has: {names}")

    def labels(self) -> dict[str, tuple[ColumnClass, Kind]]:
        """Each column's (class, kind): what a policy compiles against."""
        return {found.column: (found.column_class, found.kind) for found in self.columns}

    def personal(self) -> tuple[ColumnFinding, ...]:
        """The findings whose class is not ``other``."""
        return tuple(found for found in self.columns if found.is_personal)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "table": self.table,
            "rows_scanned": self.rows_scanned,
            "columns": [found.to_dict() for found in self.columns],
        }
