"""Reading and writing tables: CSV (any common separator) and Parquet, as Arrow.

Reads stream in record batches so a file larger than memory still works. Writes are
atomic: rows go to a temporary file beside the target, which is renamed into place only
when everything was written, so a failure never leaves a half-written output.
Errors name the file and the line, never the row's content (it may hold PII).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shopveil.errors import ParameterError, SourceError

__all__ = [
    "TableSource",
    "open_source",
    "read_table",
    "table_format",
    "write_table",
    "write_text",
    "writing_batches",
]

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"parquet"``, from the file name."""
    name = str(path).lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise ParameterError(
        f"cannot tell the format of {Path(path).name!r}: use a .csv, .tsv, .csv.gz or .parquet name"
    )


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
        """Yield the table's record batches; a malformed CSV row raises :class:`SourceError`."""
        if table_format(self.path) == "parquet":
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=batch_size)
            return
        reader = _open_csv_reader(self.path, block_size=1 << 22)
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
            return TableSource(path, schema, path.stat().st_size, meta.num_rows)
        reader = _open_csv_reader(path, block_size=1 << 16)
        schema = reader.schema
        reader.close()
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc) from None
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"{path}: cannot read it ({type(exc).__name__})") from None
    return TableSource(path, schema, path.stat().st_size, None)


def read_table(path: str | os.PathLike[str]) -> pa.Table:
    """Read a whole table into memory."""
    source = open_source(path)
    return pa.Table.from_batches(list(source.batches()), schema=source.schema)


def write_table(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write ``table`` to ``path`` (format from the extension) atomically."""
    with writing_batches(path, table.schema) as write:
        for batch in table.to_batches():
            write(batch)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a small text file atomically (temp file, then rename)."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


@contextmanager
def writing_batches(path: str | os.PathLike[str], schema: pa.Schema) -> Iterator[_BatchWriter]:
    """Yield a function that appends record batches; the file appears only on success."""
    path = Path(path)
    fmt = table_format(path)
    if str(path).lower().endswith(".gz"):
        raise ParameterError(f"{path.name}: writing gzip is not supported; use .csv or .parquet")
    if not path.parent.exists():
        raise SourceError(f"{path.parent}: the output folder does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "parquet":
            with pq.ParquetWriter(tmp, schema) as pq_writer:
                yield pq_writer.write_batch
        else:
            options = pacsv.WriteOptions(delimiter="\t" if _is_tsv(path) else ",")
            with pacsv.CSVWriter(tmp, schema, write_options=options) as csv_writer:
                yield csv_writer.write_batch
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class _BatchWriter:  # the type of the function ``writing_batches`` yields
    def __call__(self, batch: pa.RecordBatch) -> None: ...


def _is_tsv(path: Path) -> bool:
    return path.name.lower().endswith((".tsv", ".tsv.gz"))


def _sniff_delimiter(path: Path) -> str:
    if _is_tsv(path):
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
        header = next(csv.reader(handle, delimiter=delimiter), [])
    if not header:
        raise SourceError(f"{path.name}: the file is empty; a header row is needed")
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
        ),
    )


def _csv_error(path: Path, exc: pa.ArrowInvalid) -> SourceError:
    """Locate the first malformed row ourselves: Arrow's message quotes the row's content."""
    delimiter = _sniff_delimiter(path)
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        expected: int | None = None
        for row in reader:
            if expected is None:
                expected = len(row)
            elif row and len(row) != expected:
                return SourceError(
                    f"{path.name} line {reader.line_num}: expected {expected} columns, "
                    f"got {len(row)}; fix or remove that row"
                )
    kind = str(exc).split(":", 1)[0]
    return SourceError(f"{path.name}: cannot parse it as CSV ({kind})")
