"""Ground truth that comes with a synthetic dataset: what each column and text span is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from shopveil._core import ColumnClass, Kind
from shopveil._core.spans import TextSpan, check_span
from shopveil.errors import ParameterError

__all__ = ["ColumnTruth", "RetailDataset", "SpanTruth"]


@dataclass(frozen=True, slots=True)
class ColumnTruth:
    """The true privacy class and semantic kind of one column."""

    table: str
    column: str
    column_class: ColumnClass
    kind: Kind

    def __post_init__(self) -> None:
        if not isinstance(self.column_class, ColumnClass):
            raise ParameterError(
                f"column_class={self.column_class!r} is not a ColumnClass; "
                "pass e.g. ColumnClass.DIRECT_IDENTIFIER"
            )
        if not isinstance(self.kind, Kind):
            raise ParameterError(f"kind={self.kind!r} is not a Kind; pass e.g. Kind.EMAIL")


@dataclass(frozen=True, slots=True)
class SpanTruth:
    """One piece of personal data embedded in a free-text cell: where, and its span.

    ``start``, ``end`` and ``kind`` are those of :attr:`span`: Python ``str`` (code point)
    offsets, ``end`` exclusive, so ``text[start:end]`` is the embedded value.
    """

    table: str
    column: str
    row: int
    start: int
    end: int
    kind: Kind

    def __post_init__(self) -> None:
        check_span(self.start, self.end, "SpanTruth")
        if self.row < 0:
            raise ParameterError(f"row={self.row} is negative; rows count from 0")

    @property
    def span(self) -> TextSpan:
        """The span in the cell's text, as :func:`shopveil.detect.find_text_pii` reports one."""
        return TextSpan(self.start, self.end, self.kind)


@dataclass(frozen=True)
class RetailDataset:
    """A synthetic retail dataset and its ground truth.

    Attributes
    ----------
    tables
        ``customers``, ``orders``, ``order_lines``, ``sessions`` and, unless text was
        skipped, ``chats`` and ``reviews``.
    columns
        The class and kind of every column of every table.
    spans
        Every piece of personal data embedded in the free-text columns.
    """

    tables: Mapping[str, pa.Table]
    columns: tuple[ColumnTruth, ...]
    spans: tuple[SpanTruth, ...]

    def __post_init__(self) -> None:
        for truth in self.columns:
            table = self.tables.get(truth.table)
            if table is None or truth.column not in table.column_names:
                raise ParameterError(
                    f"ground truth names {truth.table}.{truth.column}, which the dataset lacks"
                )

    def truth_for(self, table: str) -> dict[str, ColumnTruth]:
        """The ground truth of ``table``'s columns, by column name."""
        if table not in self.tables:
            raise ParameterError(
                f"table={table!r} is not in this dataset; choose one of {', '.join(self.tables)}"
            )
        return {t.column: t for t in self.columns if t.table == table}

    def spans_for(self, table: str, column: str | None = None) -> tuple[SpanTruth, ...]:
        """The spans embedded in ``table`` (and ``column``, when given), in row order."""
        if table not in self.tables:
            raise ParameterError(
                f"table={table!r} is not in this dataset; choose one of {', '.join(self.tables)}"
            )
        return tuple(
            s for s in self.spans if s.table == table and (column is None or s.column == column)
        )
