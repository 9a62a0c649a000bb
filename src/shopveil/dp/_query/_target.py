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
4. with a consent filter (:class:`~shopveil._core.subjects.SubjectFilter`, the consent
   register's answer for the query's purpose), the customers it does not allow are
   withheld: not charged, and their rows removed with the others'. Whether a customer is
   withheld depends on their own record alone, so the release stays DP for everyone.
"""

from __future__ import annotations

import os
import shlex
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.budgets import Budget
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._catalog import Catalog, Dataset
from shopveil.dp._ledger import Charge, Ledger
from shopveil.dp._query._duckdb import UNFILTERED
from shopveil.dp._query._people import (
    FilePeople,
    customer_columns,
    distinct_ids,
    file_people,
    person_columns,
)
from shopveil.dp._query._plan import PERSON, SOURCE
from shopveil.dp._query._source import LeaveOut, RowSource
from shopveil.errors import QueryError, SourceError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["Target", "Withheld", "exclude", "identify", "registered_path", "resolve_target"]

_LEFT_OUT = "_shopveil_left_out"
_PEOPLE = "_shopveil_people"
_WITHHELD = "_shopveil_withheld"


@dataclass(frozen=True, eq=False)
class Withheld:
    """Rows the consent register keeps out of a release, by one customer id column.

    ``values`` are the column's distinct values whose customers it does not allow;
    ``nulls`` says rows without an id go too (the purpose needs a grant). ``note``
    says which law and basis decided, for the answer.
    """

    column: str | None
    values: pa.Array | None
    nulls: bool
    note: str


@dataclass(frozen=True, eq=False)
class Target:
    """The account a release is charged to, its unit, (per customer) its people, and the
    rows the consent register withholds."""

    dataset: str
    unit: PrivacyUnit
    registered: Dataset | None
    people: FilePeople | None
    withheld: Withheld | None = None


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
    con: duckdb.DuckDBPyConnection | RowSource,
    columns: list[str],
    *,
    table: str,
    path: str | None,
    given: PrivacyUnit | None,
    declared: bool,
    ledger: Ledger,
    catalog: Catalog | None,
    named: Dataset | None = None,
    subjects: SubjectFilter | None = None,
) -> Target:
    """Decide the account, unit and people of a release over the registered source.

    ``given`` is the unit the caller asked for (None: the catalog's, or detect);
    ``declared`` says it comes from the steward (a policy), not from the analyst.
    ``subjects`` withholds the customers it does not allow (see :func:`withhold`).
    """
    target = _resolve(con, columns, table, path, given, declared, ledger, catalog, named)
    return target if subjects is None else withhold(con, columns, target, subjects)


def _resolve(
    con: duckdb.DuckDBPyConnection | RowSource,
    columns: list[str],
    table: str,
    path: str | None,
    given: PrivacyUnit | None,
    declared: bool,
    ledger: Ledger,
    catalog: Catalog | None,
    named: Dataset | None,
) -> Target:
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


def withhold(
    con: duckdb.DuckDBPyConnection | RowSource,
    columns: list[str],
    target: Target,
    subjects: SubjectFilter,
) -> Target:
    """``target`` less the customers ``subjects`` does not allow: they are not charged,
    and :func:`exclude` removes their rows.

    The customers are read from the unit's id column (for the default ``customer``
    namespace), else from the first column whose name says it holds customer ids. Data
    without one is tied to no customer, and the consent register cannot limit it.
    """
    import pyarrow as pa

    unit, found = target.unit, customer_columns(columns)
    column = found[0] if found else None
    if isinstance(unit, PerCustomer) and unit.namespace == "customer":
        column = unit.id_column
    if column is not None and column not in columns:
        return target  # the query names a unit column the data lacks: refused when compiled
    if column is None:
        note = f"no customer id column: the consent register limits no row ({subjects.describe()})"
        return replace(target, withheld=Withheld(None, None, False, note))
    people = target.people
    if people is not None and isinstance(unit, PerCustomer) and unit.id_column == column:
        raw = people.raw
        ok = subjects.allowed(raw)
        out = np.unique(people.pids[~ok & (people.pids >= 0)])
        people = FilePeople(people.people.without(out), people.raw, people.pids)
    else:
        raw = distinct_ids(con, column)
        ok = subjects.allowed(raw)
    values = raw.filter(pa.array(~ok))
    note = f"consent register, by {column!r}: {subjects.describe()}"
    held = Withheld(column, values, subjects.requires_grant, note)
    return replace(target, people=people, withheld=held)


def charge_target(
    con: duckdb.DuckDBPyConnection | RowSource,
    ledger: Ledger,
    target: Target,
    cost: Budget,
    aliases: Sequence[str],
    *,
    request_id: str | None,
    analyst: str,
    purpose: str,
    processing: Mapping[str, Any] | None = None,
) -> Charge:
    """Charge the query's ``cost`` to ``target``'s people, then leave out who cannot pay.

    A replayed request is charged nothing and leaves the data as it is: its stored
    answer is returned instead.
    """
    charge = ledger.charge(
        request_id or uuid.uuid4().hex,
        target.dataset,
        target.unit,
        cost,
        people=target.people.people if target.people is not None else None,
        analyst=analyst,
        purpose=purpose,
        what=f"query on {target.dataset}: {', '.join(aliases)}",
        processing=processing,
    )
    if not charge.replayed:
        exclude(con, target, charge.left_out)
    return charge


def exclude(
    con: duckdb.DuckDBPyConnection | RowSource, target: Target, left_out: np.ndarray
) -> None:
    """Remove the rows of the people ``left_out``, of ids that are no one's, and the rows
    the consent register withholds."""
    rules = []
    if target.people is not None:
        assert isinstance(target.unit, PerCustomer)
        raw = target.people.raw_ids_out(left_out)
        if len(raw):
            rules.append(LeaveOut(target.unit.id_column, raw, nulls=False))
    held = target.withheld
    if held is not None and held.column is not None:
        values = held.values if held.values is not None and len(held.values) else None
        rules.append(LeaveOut(held.column, values, nulls=held.nulls))
    if not rules:
        return
    if isinstance(con, RowSource):
        con.leave_out(rules)
        return
    import pyarrow as pa

    conditions = []
    for i, rule in enumerate(rules):
        column = _quoted(rule.column)
        if rule.values is not None:
            name = (_LEFT_OUT, _WITHHELD)[min(i, 1)]
            con.register(name, pa.table({"v": rule.values}))
            allowed = f"{column} NOT IN (SELECT v FROM {name})"
        else:
            allowed = "TRUE"
        nulls = "FALSE" if rule.nulls else "TRUE"
        conditions.append(f"CASE WHEN {column} IS NULL THEN {nulls} ELSE {allowed} END")
    kept = _identified(con, target).filter(" AND ".join(conditions))
    con.unregister(SOURCE)
    con.register(SOURCE, kept)


def identify(con: duckdb.DuckDBPyConnection, target: Target) -> None:
    """Give each row of ``SOURCE`` its person (:data:`PERSON`), per customer.

    The ledger charges people by their canonical id, so one customer's ids spelled
    several ways (spaces, full-width digits, leading zeros) are one person to it; the
    query's contribution bounding and partition selection count the same people.
    """
    if target.people is None or not isinstance(target.unit, PerCustomer):
        return
    identified = _identified(con, target)
    con.unregister(SOURCE)
    con.register(SOURCE, identified)


def _identified(con: duckdb.DuckDBPyConnection, target: Target) -> Any:
    """The rows as read, with their person per customer (null: no one's id)."""
    if target.people is None or not isinstance(target.unit, PerCustomer):
        return con.table(UNFILTERED)
    import pyarrow as pa

    people = target.people
    known = people.pids >= 0
    found = {"_raw": people.raw.filter(pa.array(known)), "_person": people.pids[known]}
    con.register(_PEOPLE, pa.table(found))
    column = _quoted(target.unit.id_column)
    return con.sql(
        f"SELECT u.*, p._person AS {PERSON} FROM {UNFILTERED} u "
        f"LEFT JOIN {_PEOPLE} p ON u.{column} = p._raw"
    )


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


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
