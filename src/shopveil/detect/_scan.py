"""Scan a table or a streamed source: sample the first rows, classify every column."""

from __future__ import annotations

import pyarrow as pa

from shopveil.data import TableSource
from shopveil.detect._columns import classify_column
from shopveil.detect._report import ScanReport
from shopveil.errors import ParameterError

__all__ = ["scan_source", "scan_table"]

DEFAULT_SAMPLE_ROWS = 20_000


def _check_sample_rows(sample_rows: int) -> None:
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise ParameterError(f"sample_rows={sample_rows!r} must be a positive integer, e.g. 20_000")


def scan_table(
    table: pa.Table, *, name: str = "table", sample_rows: int = DEFAULT_SAMPLE_ROWS
) -> ScanReport:
    """Classify every column of ``table`` from its name and its first ``sample_rows`` rows.

    Parameters
    ----------
    table
        Any Arrow table; string columns (as CSV gives them) and typed columns both work.
    name
        The table's name, carried into the report.
    sample_rows
        How many leading rows to read values from.

    Returns
    -------
    ScanReport
        One :class:`ColumnFinding` per column, in column order.
    """
    _check_sample_rows(sample_rows)
    if not isinstance(table, pa.Table):
        raise ParameterError(f"scan_table needs a pyarrow.Table, got {type(table).__name__}")
    sample = table.slice(0, sample_rows)
    findings = tuple(
        classify_column(column, sample.column(index).combine_chunks())
        for index, column in enumerate(sample.column_names)
    )
    return ScanReport(table=name, rows_scanned=sample.num_rows, columns=findings)


def scan_source(
    source: TableSource, *, name: str | None = None, sample_rows: int = DEFAULT_SAMPLE_ROWS
) -> ScanReport:
    """Scan a streamed source, reading only the first batches that hold ``sample_rows`` rows.

    The report is named after the file unless ``name`` is given.
    """
    _check_sample_rows(sample_rows)
    batches: list[pa.RecordBatch] = []
    rows = 0
    for batch in source.batches():
        batches.append(batch)
        rows += batch.num_rows
        if rows >= sample_rows:
            break
    table = pa.Table.from_batches(batches, schema=source.schema)
    label = name if name is not None else source.path.name
    return scan_table(table, name=label, sample_rows=sample_rows)
