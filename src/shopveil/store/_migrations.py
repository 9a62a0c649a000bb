"""Steps that bring a store made by an older ShopVeil to this version's tables.

``migrate`` runs the steps from the store's version up to ``SCHEMA_VERSION`` inside the
transaction that opens the store (after ``create_all`` made the tables that are new), so
a store is migrated wholly or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sqlalchemy as sa

from shopveil.store._people import bucket_of, write_buckets
from shopveil.store._schema import SCHEMA_VERSION, dp_spending_classes

__all__ = ["migrate"]

_OLD_PEOPLE = "shopveil_dp_people"
_PARTS = ("epsilon", "delta", "rho")
_CHUNK = 200_000


def migrate(conn: sa.Connection, found: int) -> None:
    """Bring a store of schema version ``found`` to :data:`SCHEMA_VERSION`."""
    for version in range(found, SCHEMA_VERSION):
        _STEPS[version](conn)


def _people_in_buckets(conn: sa.Connection) -> None:
    """Version 1 → 2: one row per person becomes spending classes and buckets of people.

    Each distinct state of the old rows becomes a class (a part that is all zero loses
    its period, as the ledger writes it); every person goes to the bucket of their hash
    with their class. The old table and the namespaces' ``ceiling_*`` columns go.
    """
    inspector = sa.inspect(conn)
    if inspector.has_table(_OLD_PEOPLE):
        _convert_people(conn)
        conn.exec_driver_sql(f"DROP TABLE {_OLD_PEOPLE}")
    columns = {c["name"] for c in inspector.get_columns("shopveil_dp_namespaces")}
    for part in _PARTS:
        if f"ceiling_{part}" in columns:
            conn.exec_driver_sql(f"ALTER TABLE shopveil_dp_namespaces DROP COLUMN ceiling_{part}")


def _convert_people(conn: sa.Connection) -> None:
    spent = [f"{rule}_{part}" for rule in ("never", "month", "day") for part in _PARTS]
    names = [*spent, "month", "day"]

    def state(table: str) -> list[str]:
        return [f"{table}{c}" for c in spent] + [_period(table, r) for r in ("month", "day")]

    conn.exec_driver_sql(
        f"INSERT INTO {dp_spending_classes.name} (namespace, class_id, {', '.join(names)}, people) "
        f"SELECT namespace, row_number() OVER (PARTITION BY namespace ORDER BY {', '.join(names)})"
        f" - 1, {', '.join(names)}, people FROM (SELECT namespace, "
        + ", ".join(f"{s} AS {n}" for s, n in zip(state(""), names, strict=True))
        + f", count(*) AS people FROM {_OLD_PEOPLE} GROUP BY namespace, {', '.join(state(''))})"
        " AS s"
    )
    same = " AND ".join(f"c.{n} = {s}" for s, n in zip(state("p."), names, strict=True))
    result = conn.exec_driver_sql(
        f"SELECT p.namespace, p.pid, c.class_id FROM {_OLD_PEOPLE} AS p "
        f"JOIN {dp_spending_classes.name} AS c ON c.namespace = p.namespace AND {same} "
        "ORDER BY p.namespace, p.pid",
        execution_options={"stream_results": True},
    )
    people: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for chunk in result.partitions(_CHUNK):
        namespaces = np.array([row[0] for row in chunk], dtype=object)
        pids = np.fromiter((row[1] for row in chunk), dtype=np.int64, count=len(chunk))
        classes = np.fromiter((row[2] for row in chunk), dtype=np.uint32, count=len(chunk))
        for namespace in dict.fromkeys(namespaces.tolist()):
            mine = namespaces == namespace
            people.setdefault(namespace, []).append((pids[mine], classes[mine]))
    for namespace, parts in people.items():
        pids = np.concatenate([p for p, _ in parts])
        classes = np.concatenate([c for _, c in parts])
        write_buckets(conn, namespace, pids, classes, np.unique(bucket_of(pids)))


def _period(table: str, rule: str) -> str:
    """SQL for the period of a month or day part: none ("") when the part is all zero."""
    zero = " AND ".join(f"{table}{rule}_{part} = 0" for part in _PARTS)
    return f"CASE WHEN {zero} THEN '' ELSE {table}{rule} END"


_STEPS: dict[int, Callable[[sa.Connection], None]] = {1: _people_in_buckets}
