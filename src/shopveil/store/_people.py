"""Where the people of each namespace are kept: buckets of people, and spending classes.

A namespace's people are split by the top :data:`BUCKET_BITS` bits of their 63-bit hash
into 4,096 buckets; a bucket is one row holding its people's hashes, sorted, as int64
bytes and the ids of their spending classes as uint32 bytes at the same positions. Read
in bucket order, the buckets give every person of the namespace sorted by hash, so a
release's sorted people are merged with them in one vectorized pass, and a charge writes
a few thousand rows however many people it charges.

On PostgreSQL the rows are fetched in the binary protocol: bytea in text form (hex)
decodes several times slower.

A spending class is one row of ``shopveil_dp_spending_classes``: a state (the
:data:`SPENT` parts and the periods ``month`` and ``day``) and how many ``people`` are in
it. What the states mean is :mod:`shopveil.dp._people_classes`; here they are rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa

from shopveil.store._schema import dp_people_buckets, dp_spending_classes
from shopveil.store._sql import upsert_many

__all__ = [
    "BUCKET_BITS",
    "SPENT",
    "bucket_of",
    "leave_class",
    "read_buckets",
    "read_classes",
    "write_buckets",
    "write_classes",
]

BUCKET_BITS = 12
_SHIFT = 63 - BUCKET_BITS
_PIDS = np.dtype("<i8")
_CLASSES = np.dtype("<u4")
_TABLE = dp_people_buckets
_CLASSES_TABLE = dp_spending_classes

SPENT = tuple(
    f"{rule}_{p}" for rule in ("never", "month", "day") for p in ("epsilon", "delta", "rho")
)
"""A class's spending columns, in the order its values are read and written."""


def bucket_of(pids: np.ndarray) -> np.ndarray:
    """The bucket of each person hash (hashes are non-negative 63-bit integers)."""
    return np.asarray(pids, dtype=np.int64) >> _SHIFT


def read_buckets(
    conn: sa.Connection, namespace: str, buckets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The people of ``buckets`` (sorted, unique), sorted by hash, and their class ids."""
    if not buckets.size:
        return np.zeros(0, np.int64), np.zeros(0, np.uint32)
    if conn.dialect.name == "postgresql":
        rows = _read_binary(conn, namespace, buckets)
    else:
        query = sa.select(_TABLE.c.pids, _TABLE.c.classes).where(_TABLE.c.namespace == namespace)
        if buckets.size < 1 << BUCKET_BITS:
            query = query.where(_TABLE.c.bucket.in_(buckets.tolist()))
        rows = [tuple(row) for row in conn.execute(query.order_by(_TABLE.c.bucket))]
    pids = [np.frombuffer(p, _PIDS) for p, _ in rows]
    classes = [np.frombuffer(c, _CLASSES) for _, c in rows]
    return (
        np.concatenate([np.zeros(0, np.int64), *pids]).astype(np.int64, copy=False),
        np.concatenate([np.zeros(0, np.uint32), *classes]).astype(np.uint32, copy=False),
    )


def write_buckets(
    conn: sa.Connection,
    namespace: str,
    pids: np.ndarray,
    classes: np.ndarray,
    buckets: np.ndarray,
) -> None:
    """Replace ``buckets`` (sorted, unique) with their people among ``pids`` (sorted).

    ``classes`` are the class ids of ``pids``; a bucket left with no one is deleted.
    """
    if not buckets.size:
        return
    starts = np.searchsorted(bucket_of(pids), np.stack([buckets, buckets + 1]))
    pid_bytes = pids.astype(_PIDS, copy=False)
    class_bytes = classes.astype(_CLASSES, copy=False)
    rows, empty = [], []
    for bucket, start, end in zip(buckets.tolist(), *starts.tolist(), strict=True):
        if start == end:
            empty.append(bucket)
            continue
        rows.append(
            {
                "namespace": namespace,
                "bucket": bucket,
                "pids": pid_bytes[start:end].tobytes(),
                "classes": class_bytes[start:end].tobytes(),
            }
        )
    upsert_many(conn, _TABLE, rows, ("namespace", "bucket"))
    if empty:
        conn.execute(
            sa.delete(_TABLE).where((_TABLE.c.namespace == namespace) & _TABLE.c.bucket.in_(empty))
        )


def read_classes(conn: sa.Connection, namespace: str) -> list[Any]:
    """The classes of ``namespace``, by id.

    Each row is ``class_id``, the :data:`SPENT` parts, ``month``, ``day`` and ``people``.
    """
    t = _CLASSES_TABLE
    return list(
        conn.execute(
            sa.select(t.c.class_id, *(t.c[c] for c in SPENT), t.c.month, t.c.day, t.c.people)
            .where(t.c.namespace == namespace)
            .order_by(t.c.class_id)
        ).all()
    )


def write_classes(
    conn: sa.Connection,
    namespace: str,
    created: list[dict[str, Any]],
    people: dict[int, int],
    gone: list[int],
) -> None:
    """Insert the ``created`` classes, set the ``people`` of others and delete the ``gone``.

    A created class is ``class_id``, the :data:`SPENT` parts, ``month``, ``day`` and
    ``people``.
    """
    t = _CLASSES_TABLE
    if gone:
        conn.execute(sa.delete(t).where((t.c.namespace == namespace) & t.c.class_id.in_(gone)))
    if people:
        conn.execute(
            sa.update(t)
            .where((t.c.namespace == namespace) & (t.c.class_id == sa.bindparam("cid")))
            .values(people=sa.bindparam("n")),
            [{"cid": cid, "n": n} for cid, n in people.items()],
        )
    if created:
        conn.execute(sa.insert(t), [{"namespace": namespace} | row for row in created])


def leave_class(conn: sa.Connection, namespace: str, class_id: int) -> None:
    """One person leaves class ``class_id``; a class left with no one is deleted."""
    t = _CLASSES_TABLE
    this = (t.c.namespace == namespace) & (t.c.class_id == class_id)
    conn.execute(sa.update(t).where(this).values(people=t.c.people - 1))
    conn.execute(sa.delete(t).where(this & (t.c.people <= 0)))


def _read_binary(conn: sa.Connection, namespace: str, buckets: np.ndarray) -> list[Any]:
    where = "namespace = %s"
    params: list[object] = [namespace]
    if buckets.size < 1 << BUCKET_BITS:
        where += " AND bucket = ANY(%s)"
        params.append(buckets.tolist())
    raw = conn.connection.driver_connection
    assert raw is not None
    # The same connection, so the same transaction as ``conn``.
    with raw.cursor(binary=True) as cursor:
        cursor.execute(
            f"SELECT pids, classes FROM {_TABLE.name} WHERE {where} ORDER BY bucket", params
        )
        return cursor.fetchall()
