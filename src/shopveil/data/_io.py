"""Reading and writing tables: CSV (any common separator) and Parquet, as Arrow.

Reads stream in record batches so a file larger than memory still works. Writes are
atomic (see :mod:`shopveil.data._sink`). Errors name the file, the line or the column,
never a value (it may hold PII).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shopveil.data._formats import check_column_names, is_tsv, table_format
from shopveil.data._sink import escape_formulas, write_table, write_text, writing_batches
from shopveil.errors import SourceError

__all__ = [
    "MAX_CSV_ROW_BYTES",
    "TableSource",
    "check_column_names",
    "escape_formulas",
    "open_source",
    "read_table",
    "table_format",
    "write_table",
    "write_text",
    "writing_batches",
]

MAX_CSV_ROW_BYTES = 1 << 22
"""The longest CSV row Arrow parses in one block (4 MiB); a longer one is refused."""
_DICTIONARY_PAGE_BYTES = 1 << 20  # Arrow's writer leaves the dictionary past this


@dataclass(frozen=True)
class TableSource:
    """A table on disk, opened for streaming: its schema, an estimate of its size, its batches."""

    path: Path
    schema: pa.Schema
    total_bytes: int
    num_rows: int | None  # known for Parquet, None for CSV until read

    def estimate_rows(self) -> int:
        """The row count: exact for Parquet; for CSV, lines minus the header (cheap, no
        parsing; a value with an embedded newline counts twice)."""
        if self.num_rows is not None:
            return self.num_rows
        opener = gzip.open if self.path.name.lower().endswith(".gz") else open
        lines = 0
        with opener(self.path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                lines += chunk.count(b"\n")
        return max(lines - 1, 0)

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Yield the table's record batches; a malformed row raises :class:`SourceError`."""
        if table_format(self.path) == "parquet":
            yield from _parquet_batches(self.path, batch_size)
            return
        reader = _open_csv_reader(self.path, block_size=MAX_CSV_ROW_BYTES)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise _csv_error(self.path, exc) from None
            yield batch


def open_source(path: str | os.PathLike[str]) -> TableSource:
    """Open ``path`` (CSV, TSV, gzipped CSV, or Parquet) for streaming."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        if table_format(path) == "parquet":
            meta = pq.ParquetFile(path).metadata
            schema = meta.schema.to_arrow_schema()
            check_column_names(schema.names, path.name)
            return TableSource(path, schema, path.stat().st_size, meta.num_rows)
        # The same block size as the batches: a long row that reads later reads here too.
        reader = _open_csv_reader(path, block_size=MAX_CSV_ROW_BYTES)
        schema = reader.schema
        reader.close()
    except pa.ArrowInvalid as exc:
        if table_format(path) == "parquet":
            raise SourceError(f"{path}: cannot read it as Parquet (ArrowInvalid)") from None
        raise _csv_error(path, exc) from None
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"{path}: cannot read it ({type(exc).__name__})") from None
    return TableSource(path, schema, path.stat().st_size, None)


def read_table(path: str | os.PathLike[str]) -> pa.Table:
    """Read a whole table into memory."""
    source = open_source(path)
    return pa.Table.from_batches(list(source.batches()), schema=source.schema)


def _sniff_delimiter(path: Path) -> str:
    if is_tsv(path):
        return "\t"
    with _open_text(path) as handle:
        head = handle.readline()
    counts = {sep: head.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace", newline="")


def _open_csv_reader(path: Path, *, block_size: int) -> pacsv.CSVStreamingReader:
    """Every CSV column is read as text, so ids such as "00123" or "17850.0" and prices
    such as "2.55" pass through unchanged; operators parse what they need."""
    delimiter = _sniff_delimiter(path)
    with _open_text(path) as handle:
        try:
            header = next(csv.reader(handle, delimiter=delimiter), [])
        except csv.Error:
            raise SourceError(
                f"{path.name} line 1: the header row cannot be parsed as CSV; "
                "check its quotes and that it names each column"
            ) from None
    if not header:
        raise SourceError(f"{path.name}: the file is empty; a header row is needed")
    check_column_names(header, path.name)
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
        ),
    )


def _parquet_batches(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    """The file's batches in its own types, read the cheapest way Arrow offers.

    Text columns stored as a dictionary are read as that dictionary and each row's index
    into it, then turned back into text in one vectorized ``take``: about half the CPU of
    Arrow decoding them value by value. The reader's own threads are off: the pipeline
    reads ahead in a thread of its own, and Arrow's threads spent twice the CPU for no
    shorter wall time on two cores.
    """
    try:
        file = pq.ParquetFile(path)
        schema = file.schema_arrow
        # Arrow reads a damaged column chunk's metadata as an error when it reads the
        # chunk, but aborts the process when asked for it directly: read each row group's
        # first row before looking at its chunks.
        for group in range(file.metadata.num_row_groups):
            first = file.iter_batches(batch_size=1, row_groups=[group], use_threads=False)
            next(iter(first), None)
        dictionary = _dictionary_text_columns(file.metadata, schema)
        if dictionary:
            file = pq.ParquetFile(path, read_dictionary=dictionary)
        for batch in file.iter_batches(batch_size=batch_size, use_threads=False):
            yield batch.cast(schema) if dictionary else batch
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(
            f"{path.name}: cannot read it as Parquet ({type(exc).__name__}); "
            "the file is damaged or not Parquet"
        ) from None


def _dictionary_text_columns(meta: pq.FileMetaData, schema: pa.Schema) -> list[str]:
    """The top-level text columns whose every column chunk holds dictionary indices.

    A writer falls back from the dictionary to plain pages once the dictionary outgrows
    its page (1 MiB in Arrow); reading such a chunk as a dictionary would hash every
    value, which costs more than it saves. Indices take at most 4 bytes a value, text in
    plain pages at least 5 (its length, then its bytes), so a chunk within 4 bytes a
    value plus one dictionary page was written as indices.
    """
    text = {
        field.name
        for field in schema
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    }
    groups = [meta.row_group(group) for group in range(meta.num_row_groups)]
    if any(group.num_columns != meta.num_columns for group in groups):
        return []  # damaged metadata: leave it to the plain reader to refuse
    found = []
    for index in range(meta.num_columns):
        name = meta.schema.column(index).path
        if name not in text:
            continue
        chunks = [group.column(index) for group in groups]
        if chunks and all(
            chunk.has_dictionary_page
            and chunk.total_uncompressed_size <= 4 * chunk.num_values + _DICTIONARY_PAGE_BYTES
            for chunk in chunks
        ):
            found.append(name)
    return found


def _csv_error(path: Path, exc: pa.ArrowInvalid) -> SourceError:
    """Locate the first malformed row ourselves: Arrow's message quotes the row's content."""
    if "straddling" in str(exc):
        return SourceError(
            f"{path.name}: a row is longer than the {MAX_CSV_ROW_BYTES >> 20} MiB limit "
            "of one CSV row; shorten its long field or store the table as Parquet"
        )
    delimiter = _sniff_delimiter(path)
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        expected: int | None = None
        try:
            for row in reader:
                if expected is None:
                    expected = len(row)
                elif row and len(row) != expected:
                    return SourceError(
                        f"{path.name} line {reader.line_num}: expected {expected} columns, "
                        f"got {len(row)}; fix or remove that row"
                    )
        except csv.Error:
            return SourceError(
                f"{path.name} line {reader.line_num}: the row cannot be parsed as CSV; "
                "check its quotes"
            )
    kind = str(exc).split(":", 1)[0]
    return SourceError(f"{path.name}: cannot parse it as CSV ({kind})")
