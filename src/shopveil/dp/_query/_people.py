"""Who is in a file: its distinct customer ids read with DuckDB, hashed into People.

Used before a release is charged (the ids are read, nothing is computed on them) and
when the steward registers a dataset. Reading the distinct ids cannot fail on a value:
the column is read as it is and canonicalized in Arrow, where a value that is not an id
becomes no one.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.classes import Kind
from shopveil._core.subjects import IdType, canonical_ids
from shopveil._core.units import PerCustomer, PrivacyUnit
from shopveil.dp._catalog import Contents
from shopveil.dp._ledger import Ledger
from shopveil.dp._people import People
from shopveil.dp._query._duckdb import fetch, open_data
from shopveil.dp._query._plan import SOURCE
from shopveil.dp._query._source import RowSource
from shopveil.errors import ParameterError, SchemaError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "FilePeople",
    "customer_columns",
    "distinct_ids",
    "file_people",
    "person_columns",
    "read_contents",
]

# Kinds of column that name one person: a table holding one is never released per row
# unless the steward declared its rows independent.
PERSON_KINDS = frozenset({Kind.CUSTOMER_ID, Kind.LOYALTY_ID, Kind.EMAIL})


@dataclass(frozen=True, eq=False)
class FilePeople:
    """The people of one file under one unit, and how to find their rows again.

    ``raw`` holds the distinct id values as the file has them, ``pids`` each one's
    person hash (-1: not an id, so no one).
    """

    people: People
    raw: pa.Array
    pids: np.ndarray

    def raw_ids_out(self, left_out: np.ndarray) -> pa.Array:
        """The id values whose rows must go: the people ``left_out``, and values that are
        no one's id (nobody was charged for them)."""
        return self.raw.filter((self.pids < 0) | np.isin(self.pids, left_out))


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def distinct_ids(con: duckdb.DuckDBPyConnection | RowSource, column: str) -> pa.Array:
    """The distinct non-null values of ``column`` in the registered source."""
    if isinstance(con, RowSource):
        return con.distinct_ids(column)
    col = _quoted(column)
    relation = con.sql(f"SELECT DISTINCT {col} FROM {SOURCE} WHERE {col} IS NOT NULL")
    return relation.to_arrow_table().column(0).combine_chunks()


def file_people(
    con: duckdb.DuckDBPyConnection | RowSource,
    columns: list[str],
    unit: PerCustomer,
    ledger: Ledger,
) -> FilePeople | None:
    """The people of the source under ``unit``; None when it lacks the id column."""
    if unit.id_column not in columns:
        return None
    raw = distinct_ids(con, unit.id_column)
    pids = ledger.hash_ids(raw, unit)
    return FilePeople(People(unit.namespace, pids[pids >= 0]), raw, pids)


def person_columns(columns: list[str]) -> tuple[str, ...]:
    """The columns that name one person (a customer id, an email), in table order.

    Decided from the column names alone, never from values: whether a query is refused
    must not depend on anyone's data.
    """
    return tuple(c for c, kind in _kinds(tuple(columns)) if kind in PERSON_KINDS)


def customer_columns(columns: list[str]) -> tuple[str, ...]:
    """The columns that hold customer ids, in table order, from the names alone."""
    return tuple(c for c, kind in _kinds(tuple(columns)) if kind is Kind.CUSTOMER_ID)


@functools.lru_cache(maxsize=256)
def _kinds(columns: tuple[str, ...]) -> tuple[tuple[str, Kind], ...]:
    # Cached: a table's names classify the same on every query (a pure function).
    import pyarrow as pa

    from shopveil.detect import scan_table

    names_only = pa.table({name: pa.array([], pa.string()) for name in columns})
    report = scan_table(names_only, name="data")
    return tuple((f.column, f.kind) for f in report.columns)


def read_contents(path: str | os.PathLike[str], unit: PrivacyUnit, ledger: Ledger) -> Contents:
    """Schema, row count and people of a file, for registering it in the catalog.

    Refuses a unit column that does not exist, ids that are not ids of the unit's type,
    and (with ``IdType.AUTO``) a column that mixes whole-number ids with text ids.
    """
    con, _, columns = open_data(path, "data")
    try:
        types = con.table(SOURCE).types
        schema = tuple((name, str(kind)) for name, kind in zip(columns, types, strict=True))
        rows = int(fetch(con, f"SELECT count(*) FROM {SOURCE}")[0][0])
        if not isinstance(unit, PerCustomer):
            return Contents(schema, rows, None)
        if unit.id_column not in columns:
            raise SchemaError(
                f"{path}: no column {unit.id_column!r} for the privacy unit; it has: "
                f"{', '.join(columns)}"
            )
        raw = distinct_ids(con, unit.id_column)
    finally:
        con.close()
    _check_ids(raw, unit, path)
    people = ledger.people(raw, unit)
    return Contents(schema, rows, people)


def _check_ids(raw: pa.Array, unit: PerCustomer, path: Any) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    canonical = canonical_ids(raw, unit.id_type)
    bad = canonical.null_count
    if bad:
        raise ParameterError(
            f"{path}: {bad} distinct value(s) of {unit.id_column!r} are not "
            f"{unit.id_type.value} ids (fractional numbers, or text where integers are "
            "declared); fix them, or declare --id-type string"
        )
    if unit.id_type is IdType.AUTO and (
        pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)
    ):
        whole = pc.match_substring_regex(canonical, r"^-?[0-9]+$")
        n_whole = int(pc.sum(whole).as_py() or 0)
        if 0 < n_whole < len(canonical):
            raise ParameterError(
                f"{path}: {unit.id_column!r} mixes whole-number ids with text ids; declare "
                "--id-type integer or --id-type string so each id has one spelling"
            )
