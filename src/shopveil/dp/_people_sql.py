"""Charging millions of people at once: per spending class, not per person.

The people of a namespace are stored compactly (about 12 bytes each): in 4,096 buckets
of sorted person hashes with the id of each person's spending class
(:mod:`shopveil.store._people`), and each distinct spending state once, as a class
(:mod:`shopveil.dp._people_classes`). A charge locks the namespace's row, reads the
buckets its people fall in and the namespace's classes, and merges the release's sorted
people into the stored ones in one vectorized pass: a person found has a class, a new
person the empty state. Whether the release fits is decided per class; the people of
classes that cannot afford it are left out, the others move to the class of their new
state, and each bucket with a payer is written back whole. A million people are about
4,096 rows of 3 KB, not a million row versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import ZCDP, Budget
from shopveil.dp._ledger_values import PARTS, Renewal, kind_of, make, parts
from shopveil.dp._people import People, PeopleSpending
from shopveil.dp._people_classes import load_classes, move
from shopveil.errors import ParameterError
from shopveil.store import (
    bucket_of,
    dp_namespaces,
    insert_ignore,
    leave_class,
    read_buckets,
    write_buckets,
)

__all__ = [
    "charge_people",
    "forget_person",
    "lock_namespace",
    "people_spending",
    "person_spent",
    "spending_summary",
]


def lock_namespace(conn: sa.Connection, namespace: str, family: str, now: datetime) -> Any:
    """Lock the namespace for this transaction and return its row; refuse another family.

    ``family`` is ``"eps"`` for PureDP and ApproxDP budgets, ``"rho"`` for zCDP: a
    person's spending is kept in one family, so no two budgets of different families can
    each ignore what the other spent.
    """
    insert_ignore(
        conn,
        dp_namespaces,
        [{"namespace": namespace, "kind": family, "updated_at": now.isoformat()}],
    )
    row = conn.execute(
        sa.select(dp_namespaces).where(dp_namespaces.c.namespace == namespace).with_for_update()
    ).one()
    if row.kind != family:
        wanted = "ApproxDP or PureDP" if row.kind == "eps" else "ZCDP"
        raise ParameterError(
            f"the people of namespace {namespace!r} are accounted in {wanted} budgets; set "
            f"this dataset's budget as {wanted} (`shopveil budget set ... --epsilon/--rho`)"
        )
    return row


def charge_people(
    conn: sa.Connection,
    people: People,
    total: Budget,
    cost: Budget,
    rule: Renewal,
    now: datetime,
) -> np.ndarray:
    """Charge ``cost`` to everyone in ``people`` who can afford it; return who cannot.

    ``total`` is each person's budget; the namespace stays locked until the caller's
    transaction ends, so two releases never both spend a person's last ε.
    """
    family = "rho" if isinstance(total, ZCDP) else "eps"
    lock_namespace(conn, people.namespace, family, now)
    classes = load_classes(conn, people.namespace)
    pids, buckets = people.pids, bucket_of(people.pids)
    stored, stored_classes = read_buckets(conn, people.namespace, _distinct(buckets))
    at = np.searchsorted(stored, pids)
    rows = np.full(pids.size, classes.empty, dtype=np.int64)  # new people: the empty state
    found = np.zeros(pids.size, dtype=bool)
    if stored.size:
        probe = np.minimum(at, stored.size - 1)
        found = stored[probe] == pids
        rows[found] = classes.rows(stored_classes[probe[found]])
    cost_parts = _array(cost)
    pays = ~classes.cannot_pay(now, cost_parts, _array(total))[rows]
    if not pays.any():
        return pids
    everyone = bool(pays.all())
    target = move(conn, classes, rows if everyone else rows[pays], rule, now, cost_parts)
    old = found if everyone else found & pays
    stored_classes[at[old]] = target[rows[old]]
    new = ~found if everyone else ~found & pays
    at, added = (at, pids) if new.all() else (at[new], pids[new])
    write_buckets(
        conn,
        people.namespace,
        _insert(stored, at, added),
        _insert(stored_classes, at, np.uint32(target[classes.empty])),
        _distinct(buckets if everyone else buckets[pays]),
    )
    return pids[~pays]


def spending_summary(
    conn: sa.Connection, namespace: str, now: datetime, cap: dict[str, float]
) -> tuple[dict[str, float], int]:
    """The most any one person has spent now (per part), and how many are exhausted."""
    classes = load_classes(conn, namespace)
    spent = classes.spent_now(now)[: classes.empty]
    most = spent.max(axis=0, initial=0.0)
    # Exhausted: has spent the whole of some part of the cap that is not zero.
    full = classes.exhausted(now, np.array([cap[k] for k in PARTS]))[: classes.empty]
    exhausted = int(classes.people[full].sum())
    return dict(zip(PARTS, most.tolist(), strict=True)), exhausted


def people_spending(
    conn: sa.Connection, namespace: str, total: Budget, now: datetime
) -> PeopleSpending:
    """What the people of ``namespace`` have spent at ``now`` against a per-person ``total``."""
    top, exhausted = spending_summary(conn, namespace, now, parts(total))
    return PeopleSpending(namespace, total, make(kind_of(total), *top.values()), exhausted)


def person_spent(
    conn: sa.Connection, namespace: str, pid: int, total: Budget, now: datetime
) -> Budget | None:
    """What one person of ``namespace`` has spent at ``now``; None if never charged."""
    bucket = bucket_of(np.array([pid], dtype=np.int64))
    stored, stored_classes = read_buckets(conn, namespace, bucket)
    at = int(np.searchsorted(stored, pid))
    if at == stored.size or stored[at] != pid:
        return None
    classes = load_classes(conn, namespace)
    row = classes.rows(np.array([stored_classes[at]], dtype=np.int64))[0]
    return make(kind_of(total), *classes.spent_now(now)[row].tolist())


def forget_person(conn: sa.Connection, namespace: str, pid: int) -> None:
    """Remove one erased person from the namespace: nothing keyed by them stays."""
    locked = conn.execute(
        sa.select(dp_namespaces.c.namespace)
        .where(dp_namespaces.c.namespace == namespace)
        .with_for_update()
    ).first()
    if locked is None:
        return
    bucket = bucket_of(np.array([pid], dtype=np.int64))
    stored, stored_classes = read_buckets(conn, namespace, bucket)
    at = int(np.searchsorted(stored, pid))
    if at == stored.size or stored[at] != pid:
        return
    leave_class(conn, namespace, int(stored_classes[at]))
    write_buckets(conn, namespace, np.delete(stored, at), np.delete(stored_classes, at), bucket)


def _array(budget: Budget) -> np.ndarray:
    return np.array(list(parts(budget).values()), dtype=np.float64)


def _insert(values: np.ndarray, at: np.ndarray, new: Any) -> np.ndarray:
    """``values`` with ``new`` inserted before the positions ``at`` (non-decreasing)."""
    if not at.size:
        return values
    out = np.empty(values.size + at.size, dtype=values.dtype)
    if not values.size:
        out[:] = new
        return out
    where = at + np.arange(at.size)
    out[where] = new
    kept = np.ones(out.size, dtype=bool)
    kept[where] = False
    out[kept] = values
    return out


def _distinct(sorted_values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (faster than np.unique, which sorts again)."""
    if not sorted_values.size:
        return sorted_values
    return sorted_values[np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]])]
