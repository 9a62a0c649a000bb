"""A model of per-person spending: one row per person, as the ledger kept it before.

Tests check the compact store (spending classes and buckets of people) against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import Budget
from shopveil.dp import Renewal
from shopveil.store import Store
from shopveil.store._people import bucket_of
from shopveil.store._schema import dp_people_buckets, dp_spending_classes

PARTS = ("epsilon", "delta", "rho")
TOLERANCE = 1e-9
TIMES = [
    datetime(2026, 11, 30, 23),
    datetime(2026, 12, 1, 1),
    datetime(2026, 12, 1, 13),
    datetime(2026, 12, 2, 9),
    datetime(2027, 1, 1, 0),
]


@dataclass
class Row:
    """One person's spending, as the per-person table kept it."""

    never: list[float] = field(default_factory=lambda: [0.0] * 3)
    month: str = ""
    month_spent: list[float] = field(default_factory=lambda: [0.0] * 3)
    day: str = ""
    day_spent: list[float] = field(default_factory=lambda: [0.0] * 3)

    def now(self, at: datetime) -> list[float]:
        month, day = Renewal.MONTHLY.period(at), Renewal.DAILY.period(at)
        return [
            self.never[k]
            + (self.month_spent[k] if self.month == month else 0)
            + (self.day_spent[k] if self.day == day else 0)
            for k in range(3)
        ]

    def pay(self, rule: Renewal, at: datetime, cost: list[float]) -> None:
        """Add ``cost`` under ``rule``; a month or day part of another period starts again."""
        if rule is Renewal.NEVER:
            self.never = _plus(self.never, cost)
        elif rule is Renewal.MONTHLY:
            same = self.month == rule.period(at)
            self.month, self.month_spent = rule.period(at), _plus(self.month_spent, cost, same)
        else:
            same = self.day == rule.period(at)
            self.day, self.day_spent = rule.period(at), _plus(self.day_spent, cost, same)


def _plus(spent: list[float], cost: list[float], same: bool = True) -> list[float]:
    return [(a if same else 0.0) + b for a, b in zip(spent, cost, strict=True)]


def parts_of(budget: Budget) -> list[float]:
    return [float(getattr(budget, k, 0.0)) for k in PARTS]


def model_charge(
    model: dict[int, Row], pids: list[int], total: Budget, cost: Budget, rule: Renewal, at: datetime
) -> list[int]:
    cap, price = parts_of(total), parts_of(cost)
    left_out = []
    for pid in sorted(set(pids)):
        row = model.get(pid, Row())
        spent = row.now(at)
        if any(spent[k] > cap[k] * (1 + TOLERANCE) + 1e-15 - price[k] for k in range(3)):
            left_out.append(pid)
            continue
        row.pay(rule, at, price)
        model[pid] = row
    return left_out


def model_summary(
    model: dict[int, Row], at: datetime, total: Budget
) -> tuple[dict[str, float], int]:
    cap = parts_of(total)
    spent = [row.now(at) for row in model.values()]
    most = {k: max([s[i] for s in spent], default=0.0) for i, k in enumerate(PARTS)}
    exhausted = sum(any(s[i] >= cap[i] * (1 - 1e-6) for i in range(3) if cap[i] > 0) for s in spent)
    return most, exhausted


def stored_people(store: Store, namespace: str) -> dict[int, Row]:
    """Each stored person's spending, read back raw; checks the store's own invariants."""
    b, c = dp_people_buckets, dp_spending_classes
    with store.engine.connect() as conn:
        buckets = conn.execute(sa.select(b).where(b.c.namespace == namespace)).all()
        query = sa.select(c).where(c.c.namespace == namespace)
        classes = {row.class_id: row._mapping for row in conn.execute(query)}
    people: dict[int, Row] = {}
    members = dict.fromkeys(classes, 0)
    for bucket in buckets:
        pids = np.frombuffer(bucket.pids, "<i8")
        ids = np.frombuffer(bucket.classes, "<u4")
        assert pids.size == ids.size > 0
        assert np.all(np.diff(pids) > 0) and np.all(bucket_of(pids) == bucket.bucket)
        for pid, cid in zip(pids.tolist(), ids.tolist(), strict=True):
            members[cid] += 1
            state = classes[cid]
            people[pid] = Row(
                [state[f"never_{k}"] for k in PARTS],
                state["month"],
                [state[f"month_{k}"] for k in PARTS],
                state["day"],
                [state[f"day_{k}"] for k in PARTS],
            )
    # Each class counts its members, and no class is left without one.
    assert members == {cid: state["people"] for cid, state in classes.items()}
    assert all(members.values())
    return people
