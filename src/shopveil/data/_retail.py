"""The UCI Online Retail layout: read its CSV and give every column its proper type."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from shopveil.data._io import open_source
from shopveil.errors import SourceError

__all__ = ["ONLINE_RETAIL_SCHEMA", "load_online_retail", "type_online_retail"]

ONLINE_RETAIL_SCHEMA = pa.schema(
    [
        ("InvoiceNo", pa.string()),
        ("StockCode", pa.string()),
        ("Description", pa.string()),
        ("Quantity", pa.int64()),
        ("InvoiceDate", pa.timestamp("us")),
        ("UnitPrice", pa.float64()),
        ("CustomerID", pa.string()),
        ("Country", pa.string()),
    ]
)

_INTEGER = r"^\s*[+-]?\d+\s*$"
_DECIMAL = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
# The Databricks export writes ISO times; the UCI spreadsheet saved as CSV writes US dates.
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")


def load_online_retail(path: str | os.PathLike[str]) -> pa.Table:
    """Read an Online Retail CSV (plain or gzipped) into a typed Arrow table.

    Parameters
    ----------
    path
        A CSV with the columns ``InvoiceNo, StockCode, Description, Quantity,
        InvoiceDate, UnitPrice, CustomerID, Country`` (extra columns are dropped).

    Returns
    -------
    pyarrow.Table
        The columns of :data:`ONLINE_RETAIL_SCHEMA`: ``Quantity`` int64, ``InvoiceDate``
        timestamp, ``UnitPrice`` float64, ``CustomerID`` as ``"17850"`` (null when empty),
        the rest strings, values otherwise unchanged.

    Raises
    ------
    SourceError
        The file is missing, is not CSV, lacks a column, or holds a value that does not
        parse (the message names the column and the line, never the value).
    """
    source = open_source(path)
    _check_columns(source.path, source.schema.names)
    batches = list(source.batches())
    raw = pa.Table.from_batches(batches, schema=source.schema)
    return type_online_retail(raw, name=source.path.name)


def type_online_retail(raw: pa.Table, *, name: str = "table") -> pa.Table:
    """Type a table of Online Retail text columns (as CSV reading gives them)."""
    _check_columns(Path(name), raw.schema.names)
    columns = {col: _as_string(raw.column(col)) for col in ONLINE_RETAIL_SCHEMA.names}
    quantity = _parse(columns["Quantity"], _INTEGER, pa.int64(), "Quantity", name)
    price = _parse(columns["UnitPrice"], _DECIMAL, pa.float64(), "UnitPrice", name)
    when = _parse_time(columns["InvoiceDate"], name)
    customer = pc.replace_substring_regex(
        pc.utf8_trim_whitespace(columns["CustomerID"]), r"\.0+$", ""
    )
    customer = pc.if_else(pc.equal(customer, ""), pa.scalar(None, pa.string()), customer)
    arrays = [
        columns["InvoiceNo"],
        columns["StockCode"],
        columns["Description"],
        quantity,
        when,
        price,
        customer,
        columns["Country"],
    ]
    return pa.Table.from_arrays(arrays, schema=ONLINE_RETAIL_SCHEMA)


def _check_columns(path: Path, names: list[str]) -> None:
    missing = [col for col in ONLINE_RETAIL_SCHEMA.names if col not in names]
    if missing:
        raise SourceError(
            f"{path.name}: not the Online Retail layout; missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(ONLINE_RETAIL_SCHEMA.names)})"
        )


def _as_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _parse(
    column: pa.ChunkedArray, pattern: str, to: pa.DataType, col: str, name: str
) -> pa.ChunkedArray:
    ok = pc.or_kleene(pc.is_null(column), pc.match_substring_regex(column, pattern))
    if not pc.all(ok).as_py():
        raise _bad_value(ok, col, name, "a number")
    return pc.cast(pc.utf8_trim_whitespace(column), to)


def _parse_time(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    for fmt in _TIME_FORMATS:
        try:
            parsed = pc.strptime(column, format=fmt, unit="us", error_is_null=True)
        except pa.ArrowInvalid:
            continue
        ok = pc.or_kleene(pc.is_null(column), pc.is_valid(parsed))
        if pc.all(ok).as_py():
            return parsed
    ok = pc.or_kleene(
        pc.is_null(column),
        pc.is_valid(pc.strptime(column, format=_TIME_FORMATS[0], unit="us", error_is_null=True)),
    )
    raise _bad_value(ok, "InvoiceDate", name, "a date and time such as 2010-12-01 08:26:00")


def _bad_value(ok: pa.ChunkedArray, col: str, name: str, wanted: str) -> SourceError:
    # Line numbers count the header as line 1; quoted descriptions never span lines here.
    first_bad = pc.index(ok, False).as_py()
    return SourceError(
        f"{name} line {first_bad + 2}: column {col} is not {wanted}; fix or remove that row"
    )
