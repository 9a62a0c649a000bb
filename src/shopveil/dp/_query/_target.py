"""Whose budget a query spends: the dataset account, the privacy unit and the people.

Decided before anything is charged, from the catalog and the data's ids alone:

1. data named by a registered dataset's name, or a file that *is* one (same path), or a
   file holding mostly its people (a copy, a subset, a re-encoding, a renamed table)
   is that dataset: its account, its declared unit. A ``--privacy-unit`` naming
   another column is refused.
2. other data is its own account (the table name), with the unit the caller gives; a
   table in which a customer id column is detected is never released per row unless the
   unit was declared (a policy's ``dp.privacy_unit``, or the steward's catalog).
3. with a unit per customer, the people are read (their distinct ids, hashed); every one
   of them is charged, and the rows of those who cannot afford the release are removed
   before it is computed (:func:`exclude`).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._catalog import Catalog, Dataset
from shopveil.dp._ledger import Ledger
from shopveil.dp._query._duckdb import UNFILTERED
from shopveil.dp._query._people import FilePeople, file_people, person_columns
from shopveil.dp._query._plan import SOURCE
from shopveil.errors import QueryError, SourceError

if TYPE_CHECKING:
    import duckdb

__all__ = ["Target", "exclude", "registered_path", "resolve_target"]

_LEFT_OUT = "_shopveil_left_out"


@dataclass(frozen=True, eq=False)
class Target:
    """The account a release is charged to, its unit, and (per customer) its people."""

    dataset: str
    unit: PrivacyUnit
    registered: Dataset | None
    people: FilePeople | None


def registered_path(data: Any, catalog: Catalog | None) -> tuple[Any, Dataset | None]:
    """``data`` itself, or the path of the registered dataset it names."""
    if catalog is None or not isinstance(data, str) or os.path.exists(data):
        return data, None
    entry = catalog.find(data)
    if entry is None:
        raise SourceError(
            f"{data}: no such file, nor a registered dataset (`shopveil data list` shows them)"
        )
    return entry.path, entry


def resolve_target(
    con: duckdb.DuckDBPyConnection,
    columns: list[str],
    *,
    table: str,
    path: str | None,
    given: PrivacyUnit | None,
    declared: bool,
    ledger: Ledger,
    catalog: Catalog | None,
    named: Dataset | None = None,
) -> Target:
    """Decide the account, unit and people of a release over the registered source.

    ``given`` is the unit the caller asked for (None: the catalog's, or detect);
    ``declared`` says it comes from the steward (a policy), not from the analyst.
    """
    # Who is in the data depends on the id column, its id type and namespace, not on how
    # many rows per person a query keeps: read each once.
    seen: dict[tuple[str, str, str], FilePeople | None] = {}

    def people_of(unit: PerCustomer) -> FilePeople | None:
        key = (unit.id_column, unit.id_type.value, unit.namespace)
        if key not in seen:
            seen[key] = file_people(con, columns, unit, ledger)
        return seen[key]

    entry = named
    if entry is None and catalog is not None:
        entry = catalog.resolve(path, lambda u: _people(people_of(u)))
    if entry is not None:
        unit = _registered_unit(entry, given)
        if isinstance(unit, PerCustomer) and unit.id_column not in columns:
            raise QueryError(
                f"this data is the registered dataset {entry.name!r}, whose privacy unit "
                f"column {unit.id_column!r} it lacks; query the registered data instead"
            )
        found = people_of(unit) if isinstance(unit, PerCustomer) else None
        return Target(entry.name, unit, entry, found)
    persons = person_columns(columns)
    if persons and not declared:
        # Counting by rows, or by a column that is not a person's (an invoice, a country),
        # would charge no customer in the data: a fresh budget under another name.
        counted = given.id_column if isinstance(given, PerCustomer) else None
        if counted not in persons:
            raise QueryError(
                f"{table}: column {persons[0]!r} holds customer ids, so "
                f"{'one row' if counted is None else repr(counted)} is not one person: pass "
                f"--privacy-unit {shlex.quote(persons[0])}, or have the data steward register "
                "the data (`shopveil data add`) or declare its rows independent"
            )
    unit = given if given is not None else PerRow()
    found = people_of(unit) if isinstance(unit, PerCustomer) else None
    return Target(table, unit, None, found)


def exclude(con: duckdb.DuckDBPyConnection, target: Target, left_out: np.ndarray) -> None:
    """Remove the rows of the people ``left_out``, and of ids that are no one's."""
    import pyarrow as pa

    if target.people is None:
        return
    assert isinstance(target.unit, PerCustomer)
    raw = target.people.raw_ids_out(left_out)
    if not len(raw):
        return
    con.register(_LEFT_OUT, pa.table({"v": raw}))
    column = '"' + target.unit.id_column.replace('"', '""') + '"'
    kept = con.table(UNFILTERED).filter(
        f"{column} IS NULL OR {column} NOT IN (SELECT v FROM {_LEFT_OUT})"
    )
    con.unregister(SOURCE)
    con.register(SOURCE, kept)


def _people(found: FilePeople | None) -> Any:
    return found.people if found is not None else None


def _registered_unit(entry: Dataset, given: PrivacyUnit | None) -> PrivacyUnit:
    unit = entry.unit
    if given is None:
        return unit
    if isinstance(unit, PerRow):
        if isinstance(given, PerCustomer):
            return given  # a stricter unit than the steward's is always allowed
        return unit
    if not isinstance(given, PerCustomer) or given.id_column != unit.id_column:
        asked = given.id_column if isinstance(given, PerCustomer) else "one row"
        raise QueryError(
            f"this data is the registered dataset {entry.name!r}, whose privacy unit is "
            f"{unit.id_column!r}; a query may not count it by {asked!r}. Leave out "
            f"--privacy-unit, or pass --privacy-unit {shlex.quote(unit.id_column)}"
        )
    return replace(unit, max_contributions=given.max_contributions)
