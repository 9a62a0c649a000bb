"""Set-based statements for per-person spending: millions of people per charge.

One row per person, keyed by the person hash alone (on SQLite the table's rowid, so an
upsert touches one B-tree). A row keeps what the person spent under budgets that never
renew, under monthly budgets this month and under daily budgets today. What a person has
spent *now* is the sum of the three, so releases under different renewal rules add up
for the same person and no rule resets another's spending.

Hashes travel to the database as one text parameter per chunk (a JSON array for SQLite's
``json_each``, an array literal for PostgreSQL's ``unnest``): one statement per million
people instead of a million statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import ZCDP, Budget
from shopveil.dp._ledger_values import Renewal, _parts
from shopveil.dp._people import People
from shopveil.errors import ParameterError
from shopveil.store import dp_namespaces, dp_people, insert_ignore

__all__ = [
    "cannot_afford",
    "charge_people",
    "forget_person",
    "lock_namespace",
    "spend",
    "spending_summary",
]

_CHUNK = 1_000_000
_PARTS = ("epsilon", "delta", "rho")
_TOLERANCE = 1e-9  # the ledger's relative slack for float sums such as 10 × 0.1
_TABLE = dp_people.name
_RULE_COLUMN = {Renewal.NEVER: "never", Renewal.MONTHLY: "month", Renewal.DAILY: "day"}


def _spent_now(part: str) -> str:
    """SQL for what a person has spent of ``part`` now, over every renewal rule."""
    return (
        f"(never_{part} + CASE WHEN month = :month THEN month_{part} ELSE 0 END"
        f" + CASE WHEN day = :day THEN day_{part} ELSE 0 END)"
    )


def _now(now: datetime) -> dict[str, str]:
    return {"month": Renewal.MONTHLY.period(now), "day": Renewal.DAILY.period(now)}


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


def cannot_afford(
    conn: sa.Connection,
    namespace: str,
    now: datetime,
    cost: dict[str, float],
    cap: dict[str, float],
) -> np.ndarray:
    """Hashes of the people of ``namespace`` for whom ``cost`` would overrun ``cap``."""
    over = " OR ".join(f"{_spent_now(k)} > :limit_{k}" for k in _PARTS)
    limits = {f"limit_{k}": cap[k] * (1 + _TOLERANCE) + 1e-15 - cost[k] for k in _PARTS}
    found = conn.execute(
        sa.text(f"SELECT pid FROM {_TABLE} WHERE namespace = :namespace AND ({over})"),
        {"namespace": namespace, **_now(now), **limits},
    ).scalars()
    return np.unique(np.fromiter(found, dtype=np.int64))


def spend(
    conn: sa.Connection,
    namespace: str,
    rule: Renewal,
    now: datetime,
    pids: np.ndarray,
    cost: dict[str, float],
) -> None:
    """Add ``cost`` to each person's spending under ``rule``; set-based, chunked."""
    if conn.dialect.name == "postgresql":
        source, encode = "unnest(CAST(:pids AS BIGINT[])) AS t(value)", _pg_array
    else:
        source, encode = "json_each(:pids)", _json_array
    column = _RULE_COLUMN[rule]
    spent = [f"{column}_{k}" for k in _PARTS]
    if rule is Renewal.NEVER:
        periods, values, renew = [], [], ""
        added = [f"{c} = {_TABLE}.{c} + excluded.{c}" for c in spent]
    else:
        # A row from an older month (day) starts this one from the new cost.
        same = f"{_TABLE}.{column} = excluded.{column}"
        periods, values, renew = [column], [":period"], f", {column} = excluded.{column}"
        added = [
            f"{c} = CASE WHEN {same} THEN {_TABLE}.{c} + excluded.{c} ELSE excluded.{c} END"
            for c in spent
        ]
    statement = sa.text(
        f"INSERT INTO {_TABLE} (pid, namespace, {', '.join(spent + periods)}) "
        f"SELECT value, :namespace, :epsilon, :delta, :rho{''.join(', ' + v for v in values)} "
        f"FROM {source} WHERE true ON CONFLICT (pid) DO UPDATE SET " + ", ".join(added) + renew
    )
    params = {"namespace": namespace, "period": rule.period(now), **cost}
    for start in range(0, len(pids), _CHUNK):
        conn.execute(statement, {"pids": encode(pids[start : start + _CHUNK]), **params})


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
    namespace = lock_namespace(conn, people.namespace, family, now)
    cost_parts, cap = _parts(cost), _parts(total)
    ceiling = {k: getattr(namespace, f"ceiling_{k}") + cost_parts[k] for k in _PARTS}
    if all(ceiling[k] <= cap[k] * (1 + _TOLERANCE) + 1e-15 for k in _PARTS):
        left_out = np.zeros(0, dtype=np.int64)  # no one has spent more than the ceiling
    else:
        broke = cannot_afford(conn, people.namespace, now, cost_parts, cap)
        left_out = people.pids[np.isin(people.pids, broke, assume_unique=True)]
    paying = people.pids if not left_out.size else people.without(left_out).pids
    spend(conn, people.namespace, rule, now, paying, cost_parts)
    conn.execute(
        sa.update(dp_namespaces)
        .where(dp_namespaces.c.namespace == people.namespace)
        .values(**{f"ceiling_{k}": ceiling[k] for k in _PARTS})
    )
    return left_out


def spending_summary(
    conn: sa.Connection, namespace: str, now: datetime, cap: dict[str, float]
) -> tuple[dict[str, float], int]:
    """The most any one person has spent now (per part), and how many are exhausted."""
    top = conn.execute(
        sa.text(
            "SELECT "
            + ", ".join(f"coalesce(max({_spent_now(k)}), 0)" for k in _PARTS)
            + f" FROM {_TABLE} WHERE namespace = :namespace"
        ),
        {"namespace": namespace, **_now(now)},
    ).one()
    # Exhausted: has spent the whole of some part of the cap that is not zero.
    full = " OR ".join(f"{_spent_now(k)} >= :floor_{k}" for k in _PARTS if cap[k] > 0) or "false"
    floors = {f"floor_{k}": cap[k] * (1 - 1e-6) for k in _PARTS}
    exhausted = conn.execute(
        sa.text(f"SELECT count(*) FROM {_TABLE} WHERE namespace = :namespace AND ({full})"),
        {"namespace": namespace, **_now(now), **floors},
    ).scalar_one()
    return dict(zip(_PARTS, (float(v) for v in top), strict=True)), int(exhausted)


def forget_person(conn: sa.Connection, pid: int) -> None:
    """Delete one erased person's spending row: nothing keyed by them stays."""
    conn.execute(sa.delete(dp_people).where(dp_people.c.pid == pid))


def _json_array(pids: np.ndarray) -> str:
    return "[" + ",".join(map(str, pids.tolist())) + "]"


def _pg_array(pids: np.ndarray) -> str:
    return "{" + ",".join(map(str, pids.tolist())) + "}"
