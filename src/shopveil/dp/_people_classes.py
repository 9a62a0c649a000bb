"""Spending classes: the distinct spending states the people of a namespace are in.

A person's state is what they have spent under budgets that never renew, in one month
and on one day: nine numbers and two periods. Everyone in a release pays the same cost,
so people with the same history share a state, and the ledger keeps each state once, as
a class; a person is the id of their class (``shopveil.store._people``). Whether a
release fits is then decided per class, a handful, not per person.

What a person has spent *now* is the sum of the three parts, a month or day part only
while its period is current, so budgets of every renewal rule add up for the same person
and no rule resets another's spending. A charge under a monthly (daily) rule adds its
cost to the month (day) part, or starts it from the cost in a new period; the other
parts are kept as they are, even from a past period: cleared, they would count less than
before if the clock stepped back across a period boundary (two servers' clocks a second
apart at midnight), and keeping them costs a few more classes. A part that is all zero
has no period, so such states are one class whatever the date. A class's values never
change: the payers of a class move to
the class holding exactly their new state, created if none does. ``people`` counts each
class's members, so a summary of the namespace reads only its classes, and a class
nobody is in any more is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from shopveil.dp._ledger_values import TOLERANCE, Renewal
from shopveil.errors import StoreError
from shopveil.store import SPENT, read_classes, write_classes

__all__ = ["Classes", "load_classes", "move"]

_FIRST = {Renewal.NEVER: 0, Renewal.MONTHLY: 3, Renewal.DAILY: 6}  # in SPENT's order


@dataclass(frozen=True, eq=False)
class Classes:
    """The classes of a namespace, by row; one more row, the last, is the empty state.

    ``values`` holds the nine parts in the order never, month, day × ε, δ, ρ; ``month``
    and ``day`` the periods of the month and day parts ("" where those parts are zero).
    """

    namespace: str
    ids: np.ndarray
    values: np.ndarray
    month: np.ndarray
    day: np.ndarray
    people: np.ndarray

    @property
    def empty(self) -> int:
        """The row of the empty state: people with no spending yet."""
        return int(self.ids.size)

    def rows(self, class_ids: np.ndarray) -> np.ndarray:
        """The row of each class id; an id with no class means a damaged store."""
        lookup = np.full(int(self.ids.max(initial=-1)) + 1, -1, dtype=np.int64)
        lookup[self.ids] = np.arange(self.ids.size)
        beyond = class_ids.size and int(class_ids.max()) >= lookup.size
        rows = lookup[class_ids] if not beyond else lookup[:0]
        if beyond or (rows.size and rows.min() < 0):
            raise StoreError(
                f"the people of namespace {self.namespace!r} name a spending class the store "
                "does not have; restore the database from a backup"
            )
        return rows

    def spent_now(self, now: datetime) -> np.ndarray:
        """Per row, what its people have spent now: (rows, 3) for ε, δ, ρ."""
        month = (self.month == Renewal.MONTHLY.period(now))[:, None]
        day = (self.day == Renewal.DAILY.period(now))[:, None]
        v = self.values
        return v[:, 0:3] + np.where(month, v[:, 3:6], 0.0) + np.where(day, v[:, 6:9], 0.0)

    def cannot_pay(self, now: datetime, cost: np.ndarray, cap: np.ndarray) -> np.ndarray:
        """Per row, whether ``cost`` would take its people past ``cap``."""
        limit = cap * (1 + TOLERANCE) + 1e-15 - cost
        return np.asarray((self.spent_now(now) > limit).any(axis=1))

    def exhausted(self, now: datetime, cap: np.ndarray) -> np.ndarray:
        """Per row, whether its people have spent the whole of a part of ``cap`` that is not 0."""
        parts = cap > 0
        return np.asarray((self.spent_now(now)[:, parts] >= cap[parts] * (1 - 1e-6)).any(axis=1))

    def key(self, row: int) -> tuple[object, ...]:
        """The state of ``row``, as :func:`move` looks classes up by value."""
        return (*self.values[row].tolist(), self.month[row], self.day[row])


def load_classes(conn: sa.Connection, namespace: str) -> Classes:
    """Every class of ``namespace``, and the empty state last."""
    rows = read_classes(conn, namespace)
    values = np.zeros((len(rows) + 1, len(SPENT)), dtype=np.float64)
    if rows:
        values[:-1] = [row[1 : 1 + len(SPENT)] for row in rows]
    return Classes(
        namespace,
        np.array([row.class_id for row in rows], dtype=np.int64),
        values,
        np.array([row.month for row in rows] + [""], dtype=object),
        np.array([row.day for row in rows] + [""], dtype=object),
        np.array([row.people for row in rows], dtype=np.int64),
    )


def move(
    conn: sa.Connection,
    classes: Classes,
    rows: np.ndarray,
    rule: Renewal,
    now: datetime,
    cost: np.ndarray,
) -> np.ndarray:
    """Charge ``cost`` under ``rule`` to people in class ``rows`` (one row per payer).

    Writes the classes that change and returns, per row of ``classes``, the id of the
    class its payers move to (-1 for rows with no payer).
    """
    counts = np.bincount(rows, minlength=classes.empty + 1)
    moving = np.flatnonzero(counts)
    counts = counts[moving]
    values, month, day = _after(classes, moving, rule, now, cost)
    known = {classes.key(row): int(cid) for row, cid in enumerate(classes.ids.tolist())}
    before = dict(zip(classes.ids.tolist(), classes.people.tolist(), strict=True))
    people = dict(before)
    spare = iter(np.setdiff1d(np.arange(classes.empty + moving.size), classes.ids).tolist())
    target = np.full(classes.empty + 1, -1, dtype=np.int64)
    created = []
    for i, (row, count) in enumerate(zip(moving.tolist(), counts.tolist(), strict=True)):
        state = (*values[i].tolist(), month[i], day[i])
        cid = known.get(state)
        if cid is None:
            cid = known[state] = next(spare)
            created.append((cid, state))
        target[row] = cid
        people[cid] = people.get(cid, 0) + count
        if row != classes.empty:
            people[int(classes.ids[row])] -= count
    _write(conn, classes.namespace, before, people, created)
    return target


def _after(
    classes: Classes, moving: np.ndarray, rule: Renewal, now: datetime, cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The states of rows ``moving`` once they paid ``cost`` under ``rule``."""
    values, month, day = classes.values[moving], classes.month[moving], classes.day[moving]
    first = _FIRST[rule]
    if rule is not Renewal.NEVER:
        periods = month if rule is Renewal.MONTHLY else day
        # A part from an older (or newer) period starts again from this cost.
        values[periods != rule.period(now), first : first + 3] = 0.0
        periods[:] = rule.period(now)
    values[:, first : first + 3] += cost
    month[~values[:, 3:6].any(axis=1)] = ""
    day[~values[:, 6:9].any(axis=1)] = ""
    return values, month, day


def _write(
    conn: sa.Connection,
    namespace: str,
    before: dict[int, int],
    people: dict[int, int],
    created: list[tuple[int, tuple[object, ...]]],
) -> None:
    new = {cid for cid, _ in created}
    names = (*SPENT, "month", "day")
    write_classes(
        conn,
        namespace,
        [
            {"class_id": cid, "people": people[cid]} | dict(zip(names, state, strict=True))
            for cid, state in created
        ],
        {c: n for c, n in people.items() if n and c not in new and n != before[c]},
        [c for c, n in people.items() if n == 0 and c not in new],
    )
