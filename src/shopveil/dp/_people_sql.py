"""Set-based statements for per-person spending: millions of people per charge.

A person's spending is kept per renewal period key: ``"-"`` for budgets that never
renew, ``"2026-12"`` for monthly ones, ``"2026-12-07"`` for daily ones. What a person
has spent *now* is the sum over the keys that are current, so releases under different
renewal rules still add up for the same person and no rule resets another's spending.

Hashes travel to the database as one text parameter per chunk (a JSON array for SQLite's
``json_each``, an array literal for PostgreSQL's ``unnest``): one statement per million
people instead of a million statements.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import ZCDP, Budget
from shopveil.dp._ledger_values import Renewal, _parts
from shopveil.dp._people import People
from shopveil.errors import ParameterError
from shopveil.store import insert_ignore
from shopveil.store._schema import dp_namespaces, dp_people

__all__ = [
    "cannot_afford",
    "charge_people",
    "current_periods",
    "forget_person",
    "lock_namespace",
    "spend",
    "spending_summary",
]

_CHUNK = 1_000_000
_PARTS = ("epsilon", "delta", "rho")
_TOLERANCE = 1e-9  # the ledger's relative slack for float sums such as 10 × 0.1


def current_periods(now: datetime) -> tuple[str, ...]:
    """The period keys whose spending counts now: never, this month, today."""
    return tuple(rule.period(now) for rule in Renewal)


def lock_namespace(conn: sa.Connection, namespace: str, family: str, now: datetime) -> None:
    """Lock the namespace for this transaction; refuse a budget of another family.

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


def cannot_afford(
    conn: sa.Connection,
    namespace: str,
    now: datetime,
    cost: dict[str, float],
    cap: dict[str, float],
) -> np.ndarray:
    """Hashes of the people of ``namespace`` for whom ``cost`` would overrun ``cap``."""
    people = dp_people.c
    limits = {k: cap[k] * (1 + _TOLERANCE) + 1e-15 - cost[k] for k in _PARTS}
    spent = {k: sa.func.sum(getattr(people, f"spent_{k}")) for k in _PARTS}
    query = (
        sa.select(people.pid)
        .where((people.namespace == namespace) & people.period.in_(current_periods(now)))
        .group_by(people.pid)
        .having(sa.or_(*(spent[k] > limits[k] for k in _PARTS)))
    )
    found = conn.execute(query).scalars().all()
    return np.unique(np.fromiter(found, dtype=np.int64, count=len(found)))


def spend(
    conn: sa.Connection, namespace: str, period: str, pids: np.ndarray, cost: dict[str, float]
) -> None:
    """Add ``cost`` to each person's spending in ``period``; set-based, chunked."""
    if conn.dialect.name == "postgresql":
        source = "unnest(CAST(:pids AS BIGINT[])) AS t(value)"
        encode = _pg_array
    else:
        source = "json_each(:pids)"
        encode = _json_array
    table = dp_people.name
    statement = sa.text(
        f"INSERT INTO {table} (namespace, pid, period, spent_epsilon, spent_delta, spent_rho) "
        f"SELECT :namespace, value, :period, :epsilon, :delta, :rho FROM {source} WHERE true "
        "ON CONFLICT (namespace, pid, period) DO UPDATE SET "
        + ", ".join(f"spent_{k} = {table}.spent_{k} + excluded.spent_{k}" for k in _PARTS)
    )
    for start in range(0, len(pids), _CHUNK):
        chunk = pids[start : start + _CHUNK]
        conn.execute(
            statement, {"pids": encode(chunk), "namespace": namespace, "period": period, **cost}
        )


def spending_summary(
    conn: sa.Connection, namespace: str, now: datetime, cap: dict[str, float]
) -> tuple[dict[str, float], int]:
    """The most any one person has spent now (per part), and how many are exhausted."""
    people = dp_people.c
    per_person = (
        sa.select(*(sa.func.sum(getattr(people, f"spent_{k}")).label(k) for k in _PARTS))
        .where((people.namespace == namespace) & people.period.in_(current_periods(now)))
        .group_by(people.pid)
        .subquery()
    )
    top = conn.execute(
        sa.select(*(sa.func.coalesce(sa.func.max(per_person.c[k]), 0.0) for k in _PARTS))
    ).one()
    floor = {k: cap[k] * (1 - 1e-6) for k in _PARTS}
    # Exhausted: has spent the whole of some part of the cap that is not zero.
    full = sa.or_(*(per_person.c[k] >= floor[k] for k in _PARTS if cap[k] > 0))
    exhausted = conn.execute(
        sa.select(sa.func.count()).select_from(per_person).where(full)
    ).scalar_one()
    return dict(zip(_PARTS, (float(v) for v in top), strict=True)), int(exhausted)


def _json_array(pids: np.ndarray) -> str:
    return "[" + ",".join(map(str, pids.tolist())) + "]"


def _pg_array(pids: np.ndarray) -> str:
    return "{" + ",".join(map(str, pids.tolist())) + "}"


def charge_people(
    conn: sa.Connection, people: People, total: Budget, cost: Budget, period: str, now: datetime
) -> np.ndarray:
    """Charge ``cost`` to everyone in ``people`` who can afford it; return who cannot.

    ``total`` is each person's budget; the namespace stays locked until the caller's
    transaction ends, so two releases never both spend a person's last ε.
    """
    lock_namespace(conn, people.namespace, "rho" if isinstance(total, ZCDP) else "eps", now)
    broke = cannot_afford(conn, people.namespace, now, _parts(cost), _parts(total))
    left_out = people.pids[np.isin(people.pids, broke, assume_unique=True)]
    paying = people.pids if not left_out.size else people.without(left_out).pids
    spend(conn, people.namespace, period, paying, _parts(cost))
    return left_out


def forget_person(conn: sa.Connection, namespace: str, pid: int) -> None:
    """Delete one erased person's spending rows: nothing keyed by them stays."""
    people = dp_people.c
    conn.execute(sa.delete(dp_people).where((people.namespace == namespace) & (people.pid == pid)))
