"""The data steward's catalog: registered datasets, their privacy unit and their people.

The steward registers each dataset once (``shopveil data add``): its path, schema, row
count, privacy unit, budget and a fingerprint of its people (the smallest keyed hashes
of their canonical ids, never the ids). A release names a registered dataset, or a
file; a file resolves to the registered dataset whose people it contains, so a copy, a
subset, a re-encoding or a renamed table is charged to the same account and keeps its
declared unit. The per-person budgets (:mod:`shopveil.dp._people`) hold even for a file
that resolves to nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import Budget
from shopveil._core.subjects import IdType
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._ledger import Ledger
from shopveil.dp._ledger_sql import record_event
from shopveil.dp._ledger_values import Renewal
from shopveil.dp._people import People, containment, sketch_of
from shopveil.dp._people_sql import forget_person
from shopveil.errors import ParameterError
from shopveil.store import datasets

__all__ = ["RESOLVE_SHARE", "Catalog", "Dataset", "unit_from_json", "unit_to_json"]

RESOLVE_SHARE = 0.5
"""A file resolves to a dataset when at least this share of its people are that dataset's."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: where it is, what one person is in it, what it holds."""

    name: str
    path: str
    unit: PrivacyUnit
    rows: int
    people: int
    columns: tuple[tuple[str, str], ...]
    registered_at: str
    registered_by: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (no data values)."""
        return {
            "name": self.name,
            "path": self.path,
            "unit": unit_to_json(self.unit),
            "rows": self.rows,
            "people": self.people,
            "columns": [{"name": n, "type": t} for n, t in self.columns],
            "registered_at": self.registered_at,
            "registered_by": self.registered_by,
        }


@dataclass(frozen=True)
class Contents:
    """What registering a file found in it: schema, row count and its people."""

    columns: tuple[tuple[str, str], ...]
    rows: int
    people: People | None


class Catalog:
    """Registered datasets in a store, changed by the steward and audited through ``ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.store = ledger.store

    def add(
        self,
        name: str,
        path: str | Path,
        unit: PrivacyUnit,
        contents: Contents,
        *,
        budget: Budget | None = None,
        renewal: Renewal = Renewal.NEVER,
        actor: str = "-",
    ) -> Dataset:
        """Register ``path`` as ``name`` with its unit, budget (per person) and contents.

        ``contents`` comes from reading the file (see
        :func:`shopveil.dp._query._people.read_contents`). Refuses a name already
        registered and a unit whose people the contents do not hold.
        """
        _check_dataset_name(name)
        if self.find(name) is not None:
            raise ParameterError(
                f"a dataset named {name!r} is registered already; remove it first with "
                f"`shopveil data remove {name}`"
            )
        if isinstance(unit, PerCustomer) and contents.people is None:
            raise ParameterError("a dataset per customer needs the people of its id column")
        people = contents.people
        now = self.ledger.clock.now().isoformat()
        entry = Dataset(
            name=name,
            path=str(Path(path).resolve()),
            unit=unit,
            rows=contents.rows,
            people=len(people) if people is not None else contents.rows,
            columns=contents.columns,
            registered_at=now,
            registered_by=actor,
        )
        self.ledger.set_budget(
            name, unit, budget or self.ledger.default_total, renewal=renewal, actor=actor
        )
        sketch = sketch_of(people) if people is not None else np.zeros(0, dtype=np.int64)
        with self.store.transaction() as conn:
            conn.execute(
                sa.insert(datasets).values(
                    name=name,
                    path=entry.path,
                    unit=json.dumps(unit_to_json(unit)),
                    row_count=entry.rows,
                    people=entry.people,
                    columns=json.dumps([list(c) for c in entry.columns]),
                    sketch=sketch.astype("<i8").tobytes(),
                    registered_at=now,
                    registered_by=actor,
                )
            )
            details = {k: v for k, v in entry.to_dict().items() if k != "columns"}
            self._audit(conn, actor, "catalog.add", details)
        return entry

    def find(self, name: str) -> Dataset | None:
        """The dataset registered as ``name``, or None."""
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(datasets).where(datasets.c.name == name)).first()
        return _dataset(row) if row is not None else None

    def get(self, name: str) -> Dataset:
        """The dataset registered as ``name``; an unknown name is a :class:`ParameterError`."""
        found = self.find(name)
        if found is None:
            known = ", ".join(d.name for d in self.datasets()) or "none yet"
            raise ParameterError(
                f"unknown dataset {name!r} (registered: {known}); register it with "
                f"`shopveil data add {name} PATH --unit COLUMN`"
            )
        return found

    def datasets(self) -> list[Dataset]:
        """Every registered dataset, by name."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(datasets).order_by(datasets.c.name)).all()
        return [_dataset(row) for row in rows]

    def remove(self, name: str, *, actor: str = "-") -> None:
        """Unregister ``name``; its account, charges and people's spending stay."""
        self.get(name)
        with self.store.transaction() as conn:
            conn.execute(sa.delete(datasets).where(datasets.c.name == name))
            self._audit(conn, actor, "catalog.remove", {"name": name})

    def erase_subject(self, subject_id: str | int, *, actor: str = "-") -> list[tuple[str, int]]:
        """Delete every row of one customer from every registered dataset, and their ledger.

        Each registered file per customer is rewritten without the subject's rows (every
        spelling of the id is one person), atomically, and its fingerprint, row and
        people counts are updated; the subject is removed from the per-person ledger.
        Returns ``(dataset, rows removed)`` per dataset; audited with counts only.
        """
        from shopveil.data import read_table, write_table

        removed: list[tuple[str, int]] = []
        for entry in self.datasets():
            if not isinstance(entry.unit, PerCustomer):
                continue
            target = self.ledger.hash_ids([subject_id], entry.unit)
            if target[0] < 0:
                raise ParameterError(
                    f"the subject id is not an id of {entry.name!r} ({entry.unit.id_type.value})"
                )
            table = read_table(entry.path)
            pids = self.ledger.hash_ids(table.column(entry.unit.id_column), entry.unit)
            keep = pids != target[0]
            count = int((~keep).sum())
            if count:
                # The steward's own data: written back as it was, formulas not escaped.
                write_table(table.filter(keep), entry.path, csv_escape=False)
            left = People(entry.unit.namespace, pids[keep & (pids >= 0)])
            with self.store.transaction() as conn:
                conn.execute(
                    sa.update(datasets)
                    .where(datasets.c.name == entry.name)
                    .values(
                        row_count=int(keep.sum()),
                        people=len(left),
                        sketch=sketch_of(left).astype("<i8").tobytes(),
                    )
                )
                forget_person(conn, entry.unit.namespace, int(target[0]))
                details = {"name": entry.name, "rows_removed": count}
                self._audit(conn, actor, "catalog.erase_rows", details)
            removed.append((entry.name, count))
        return removed

    def resolve(
        self, path: str | Path | None, people_of: Callable[[PerCustomer], People | None]
    ) -> Dataset | None:
        """The registered dataset a file is, or holds most of the people of; else None.

        ``people_of(unit)`` returns the file's people under a registered dataset's unit,
        or None when the file lacks that unit's id column.
        """
        registered = self.datasets()
        if path is not None:
            where = str(Path(path).resolve())
            for entry in registered:
                if entry.path == where:
                    return entry
        best, best_share = None, 0.0
        with self.store.engine.connect() as conn:
            sketches = dict(conn.execute(sa.select(datasets.c.name, datasets.c.sketch)).all())
        for entry in registered:
            if not isinstance(entry.unit, PerCustomer):
                continue
            people = people_of(entry.unit)
            if people is None:
                continue
            sketch = np.frombuffer(sketches[entry.name], dtype="<i8")
            share = containment(people, sketch)
            if share >= RESOLVE_SHARE and share > best_share:
                best, best_share = entry, share
        return best

    def _audit(self, conn: sa.Connection, actor: str, action: str, details: Any) -> None:
        record_event(conn, self.ledger.store, self.ledger.audit, actor, action, details)


def unit_to_json(unit: PrivacyUnit) -> dict[str, Any]:
    """A privacy unit as JSON: ``{"kind": "row"}`` or the customer unit's fields."""
    if isinstance(unit, PerRow):
        return {"kind": "row"}
    return {
        "kind": "customer",
        "id_column": unit.id_column,
        "max_contributions": unit.max_contributions,
        "id_type": unit.id_type.value,
        "namespace": unit.namespace,
    }


def unit_from_json(data: dict[str, Any]) -> PrivacyUnit:
    """The inverse of :func:`unit_to_json`."""
    if data.get("kind") == "row":
        return PerRow()
    return PerCustomer(
        data["id_column"],
        int(data["max_contributions"]),
        IdType(data["id_type"]),
        data["namespace"],
    )


def _dataset(row: Any) -> Dataset:
    return Dataset(
        name=row.name,
        path=row.path,
        unit=unit_from_json(json.loads(row.unit)),
        rows=int(row.row_count),
        people=int(row.people),
        columns=tuple((str(n), str(t)) for n, t in json.loads(row.columns)),
        registered_at=row.registered_at,
        registered_by=row.registered_by,
    )


def _check_dataset_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ParameterError(
            f"dataset name {name!r}: use letters, digits, '_', '.' or '-', starting with a "
            "letter (at most 100 characters), e.g. orders"
        )
