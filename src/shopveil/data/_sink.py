"""Writing tables atomically: a locked partial file beside the target, renamed on success.

Rows go to a hidden ``.NAME.shopveil-XXXXXXXX.partial`` file beside the target, renamed
into place only when everything was written, so a failure never leaves a half-written
output and an earlier file of that name stays as it was. The partial file is locked while
it is written; the next write into that folder removes partial files no live writer holds
(left behind by a killed run). CSV outputs escape cells a spreadsheet would run as a
formula (see :func:`escape_formulas`). Parquet outputs keep min/max statistics for the
columns a reader filters by range (numbers, dates, times) and none for text, whose
minimum and maximum over unsorted rows (tokens, names, descriptions) let a reader skip
nothing and cost a fifth of the writer's time (see :func:`_range_columns`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shopveil.data._formats import check_column_names, is_tsv, table_format
from shopveil.errors import ParameterError, SinkError, SourceError

__all__ = ["escape_formulas", "write_table", "write_text", "writing_batches"]

_PARTIAL_TAG = ".shopveil-"
_PARTIAL_SUFFIX = ".partial"
# mkstemp's random part is 8 characters of [a-z0-9_]: only our own partial files match.
_PARTIAL_NAME = re.compile(rf"^\..+{re.escape(_PARTIAL_TAG)}[a-z0-9_]{{8}}\{_PARTIAL_SUFFIX}$")
# OWASP CSV injection: a cell starting with one of these may run as a formula.
_FORMULA_START = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def write_table(table: pa.Table, path: str | os.PathLike[str], *, csv_escape: bool = True) -> None:
    """Write ``table`` to ``path`` (format from the extension) atomically.

    ``csv_escape`` (CSV only) prefixes formula-like cells and headers with ``'``, see
    :func:`escape_formulas`.
    """
    with writing_batches(path, table.schema, csv_escape=csv_escape) as write:
        for batch in table.to_batches():
            write(batch)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a small text file atomically (temp file, then rename)."""
    path = Path(path)
    with _partial_beside(path) as tmp, _writing(path):
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


@contextmanager
def writing_batches(
    path: str | os.PathLike[str], schema: pa.Schema, *, csv_escape: bool = True
) -> Iterator[Callable[[pa.RecordBatch], None]]:
    """Yield a function that appends record batches; the file appears only on success.

    A write that fails (a full disk, a lost mount) raises :class:`SinkError`, and an
    existing file at ``path`` is left as it was. ``csv_escape`` (CSV only) prefixes
    formula-like cells and headers with ``'``, see :func:`escape_formulas`.
    """
    path = Path(path)
    fmt = table_format(path)
    if str(path).lower().endswith(".gz"):
        raise ParameterError(f"{path.name}: writing gzip is not supported; use .csv or .parquet")
    check_column_names(schema.names, path.name)
    escape = csv_escape and fmt == "csv"
    with _partial_beside(path) as tmp:
        with _writing(path):
            sink = _Sink(tmp, schema, fmt, "\t" if is_tsv(path) else ",", escape)
        try:

            def write(batch: pa.RecordBatch) -> None:
                with _writing(path):
                    sink.write(batch)

            yield write
            with _writing(path):
                sink.close()
                os.replace(tmp, path)
        finally:
            sink.abandon()


def escape_formulas(values: pa.Array) -> pa.Array:
    """Prefix text cells that start with ``=``, ``+``, ``-``, ``@``, tab or CR with ``'``.

    A spreadsheet opening the CSV would otherwise run them as formulas (OWASP "CSV
    injection"). Cells that are whole numbers in plain or scientific notation (``-5``,
    ``+3.2``, ``-1e3``) are left as they are: a spreadsheet reads them as the number, and
    mangling them would change the data. Non-text columns are returned unchanged.
    """
    if pa.types.is_dictionary(values.type) and _is_text(values.type.value_type):
        values = values.dictionary_decode()
    if not _is_text(values.type):
        return values
    risky = pc.match_substring_regex(values, _FORMULA_START)
    if not pc.any(risky).as_py():
        return values
    risky = pc.and_(risky, pc.invert(pc.match_substring_regex(values, _NUMBER)))
    quote = pa.scalar("'", values.type)
    empty = pa.scalar("", values.type)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, values, empty), values)


def _escaped_field(field: pa.Field) -> pa.Field:
    """The header as written, and the type of the column after :func:`escape_formulas`."""
    name = field.name
    if re.match(_FORMULA_START, name) and not re.match(_NUMBER, name):
        field = field.with_name("'" + name)
    if pa.types.is_dictionary(field.type) and _is_text(field.type.value_type):
        field = field.with_type(field.type.value_type)
    return field


def _range_columns(schema: pa.Schema) -> list[str]:
    """The top-level columns whose Parquet min/max statistics are worth writing."""
    return [
        field.name
        for field in schema
        if not _is_text(field.type)
        and not pa.types.is_dictionary(field.type)
        and not pa.types.is_nested(field.type)
    ]


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


class _Sink:
    """The open temporary file and the Arrow writer on it."""

    def __init__(
        self, tmp: Path, schema: pa.Schema, fmt: str, delimiter: str, escape: bool
    ) -> None:
        self._file = _open_sink(tmp)
        self._escape = escape
        self._writer: pq.ParquetWriter | pacsv.CSVWriter
        try:
            if fmt == "parquet":
                statistics = _range_columns(schema)
                self._writer = pq.ParquetWriter(
                    self._file, schema, write_statistics=statistics or False
                )
            else:
                if escape:
                    schema = pa.schema([_escaped_field(field) for field in schema])
                options = pacsv.WriteOptions(delimiter=delimiter)
                self._writer = pacsv.CSVWriter(self._file, schema, write_options=options)
        except BaseException:
            self._file.close()
            raise
        self._schema = schema
        self._closed = False

    def write(self, batch: pa.RecordBatch) -> None:
        if self._escape:
            columns = [escape_formulas(column) for column in batch.columns]
            batch = pa.RecordBatch.from_arrays(columns, schema=self._schema)
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()
        self._file.close()
        self._closed = True

    def abandon(self) -> None:
        """Release the file after a failure; the failure itself is what the caller sees."""
        if self._closed:
            return
        with suppress(Exception):
            self._writer.close()
        with suppress(Exception):
            self._file.close()


def _open_sink(tmp: Path) -> pa.NativeFile:
    return pa.OSFile(str(tmp), "wb")


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OS-level write failure into one :class:`SinkError` naming the file."""
    try:
        yield
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else "the write failed"
        raise SinkError(
            f"{path}: cannot write it ({reason}); nothing was written and any earlier "
            f"{path.name} is left as it was"
        ) from None


@contextmanager
def _partial_beside(path: Path) -> Iterator[Path]:
    """A locked, hidden temporary file beside ``path``, removed unless renamed into place.

    Stale partial files (ours by name, held by no live writer) are removed first.
    """
    if not path.parent.is_dir():
        raise SourceError(f"{path.parent}: the output folder does not exist")
    _sweep_partials(path.parent)
    with _writing(path):
        fd, name = tempfile.mkstemp(
            prefix=f".{path.name}{_PARTIAL_TAG}", suffix=_PARTIAL_SUFFIX, dir=path.parent
        )
    tmp = Path(name)
    try:
        # Held until this writer is done: a sweep by a concurrent run skips this file.
        _try_lock(fd)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)
        os.close(fd)


def _sweep_partials(folder: Path) -> None:
    """Remove the partial files a killed run left in ``folder``; skip ones still written."""
    with suppress(OSError):
        candidates = [entry for entry in os.scandir(folder) if _PARTIAL_NAME.match(entry.name)]
        for entry in candidates:
            with suppress(OSError):
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    if _try_lock(fd):
                        os.unlink(entry.path)
                finally:
                    os.close(fd)


if sys.platform == "win32":  # pragma: no cover

    def _try_lock(fd: int) -> bool:
        return False  # without flock a partial file is never known to be stale; keep it

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
