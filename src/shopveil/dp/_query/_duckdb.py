"""DuckDB for DP queries: one in-process database, a cursor per query, binding and fetching.

Binding (parse, resolve columns and types) reads no data, so every error it raises
comes before the ledger is charged; fetching reads the data, after the charge.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopveil._core.extras import from_extra
from shopveil.dp._query._plan import SOURCE, Plan
from shopveil.dp._query._spec import AggregateFunction, Expr
from shopveil.errors import QueryError, SourceError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "UNFILTERED",
    "bind",
    "check_numeric",
    "check_numeric_args",
    "fetch",
    "open_data",
    "run",
    "table_name",
]

UNFILTERED = "_shopveil_unfiltered"  # the data as read; SOURCE is it, less left-out people


def table_name(path: str | os.PathLike[str]) -> str:
    """The default table name of a file: a name a query can write after ``FROM``.

    The file name without all its suffixes, each character other than an ASCII letter,
    a digit or ``_`` replaced by ``_``, and ``_`` put before a leading digit:
    ``orders.csv.gz`` is ``orders``, ``online_retail_2010-12_2011-09.csv.gz`` is
    ``online_retail_2010_12_2011_09`` and ``2011 sales.csv`` is ``_2011_sales``.
    """
    stem = Path(path).name.lstrip(".").split(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "_"
    return f"_{name}" if name[0].isdigit() else name


_DATABASE: tuple[int, duckdb.DuckDBPyConnection] | None = None  # (pid, database)
_DATABASE_LOCK = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    """A fresh connection to this process's in-memory DuckDB.

    Opening a database costs ~0.1 s, a cursor ~0.1 ms. Each query gets its own cursor,
    and tables registered on a cursor are visible to that cursor only. A forked child
    opens its own database rather than reuse the parent's threads.
    """
    global _DATABASE
    duckdb = _duckdb()
    with _DATABASE_LOCK:
        if _DATABASE is None or _DATABASE[0] != os.getpid():
            database = duckdb.connect()
            database.execute("SET enable_progress_bar = false")
            _DATABASE = (os.getpid(), database)
        return _DATABASE[1].cursor()


def _duckdb() -> Any:
    # Imported on use: the ledger and the mechanisms work without the ``dp`` extra.
    with from_extra("dp"):
        import duckdb
    return duckdb


def open_data(data: Any, table: str | None) -> tuple[duckdb.DuckDBPyConnection, str, list[str]]:
    duckdb = _duckdb()
    con = _cursor()
    try:
        if isinstance(data, str | os.PathLike):
            path = Path(data)
            if not path.is_file():
                raise SourceError(f"{path}: no such file")
            name = table or table_name(path)
            lower = path.name.lower()
            if lower.endswith((".parquet", ".pq")):
                con.register(UNFILTERED, con.read_parquet(str(path)))
            else:
                # A line that does not parse is skipped, never an error: whether a query
                # fails must not depend on one person's row.
                con.register(UNFILTERED, con.read_csv(str(path), ignore_errors=True))
        else:
            if table is None:
                raise QueryError("name the table of in-memory data with table=...")
            name = table
            con.register(UNFILTERED, data)
        con.register(SOURCE, con.table(UNFILTERED))
        # The relation's column names come from the registered scan: no query runs.
        columns = list(con.table(SOURCE).columns)
    except duckdb.Error as exc:
        con.close()
        raise SourceError(f"cannot read the data ({type(exc).__name__})") from None
    except BaseException:
        con.close()
        raise
    return con, name, columns


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    try:
        return con.execute(sql).fetchall()
    except _duckdb().Error as exc:
        raise _failed(exc) from None


def bind(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyRelation:
    """Parse and bind ``sql`` without running it: type errors surface, no data is read."""
    try:
        return con.sql(sql)
    except _duckdb().Error as exc:
        raise _failed(exc) from None


_NUMERIC = frozenset(
    {
        "tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
        "uinteger", "ubigint", "uhugeint", "float", "double", "decimal", "boolean",
    }
)  # fmt: skip


def check_numeric(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Refuse a sum, mean, quantile or histogram of text before anything is charged.

    The plan casts their arguments to DOUBLE, so text would fail only while the data is
    read, after the charge; the argument types are known from the schema alone.
    """
    check_numeric_args(
        con,
        [
            s.aggregate.arg
            for s in plan.steps
            if (s.aggregate.func.clamps or s.aggregate.func is AggregateFunction.HISTOGRAM)
            and s.aggregate.arg
        ],
    )


def check_numeric_args(con: duckdb.DuckDBPyConnection, args: list[Expr]) -> None:
    """Refuse ``args`` that are not numbers (from the schema alone)."""
    if not args:
        return
    types = bind(con, f"SELECT {', '.join(a.sql for a in args)} FROM {SOURCE}").types
    for arg, found in zip(args, types, strict=True):
        if found.id not in _NUMERIC:
            raise QueryError(
                f"{arg.text!r} is {found}, not a number; aggregate a numeric column, or "
                f"write CAST({arg.text} AS DOUBLE) if the text holds numbers (rows whose "
                "value does not convert are then left out)"
            )


def run(relation: duckdb.DuckDBPyRelation) -> list[tuple[Any, ...]]:
    try:
        return relation.fetchall()
    except _duckdb().Error as exc:
        raise _failed(exc, charged=True) from None


def _failed(exc: Exception, *, charged: bool = False) -> QueryError:
    # DuckDB's messages can quote cell values; name only the kind of failure.
    message = (
        f"DuckDB could not run the query ({type(exc).__name__}); check column types and functions"
    )
    if charged:
        message += (
            ". Its cost stays charged: the query failed while reading the data, and "
            "whether it fails can depend on the data"
        )
    return QueryError(message)
