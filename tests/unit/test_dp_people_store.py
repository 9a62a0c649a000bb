"""The compact people store (classes and buckets) against a plain per-person model.

The model (``_people_model.py``) is the ledger as it was with one row per person: what
each person spent under budgets that never renew, in a month and on a day. Whatever the
sequence of charges, the store must leave out exactly the people the model leaves out
and report the same most spent and the same number of exhausted people, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from _people import PEOPLE_KEY
from _people_model import (
    PARTS,
    TIMES,
    Row,
    model_charge,
    model_summary,
    parts_of,
    stored_people,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.clock import FixedClock
from shopveil._core.units import PerCustomer
from shopveil.dp import Catalog, Ledger, People, Renewal
from shopveil.dp._people_sql import charge_people, forget_person, spending_summary
from shopveil.dp._query._people import read_contents
from shopveil.store import Store
from shopveil.store._people import BUCKET_BITS
from shopveil.store._schema import dp_spending_classes

TOP = 2**63 - 1
EDGE = 1 << (63 - BUCKET_BITS)
# Hashes that share buckets, sit on their edges and spread over the whole range.
POOL = [0, 1, 2, EDGE - 1, EDGE, EDGE + 7, 3 * EDGE, TOP - 1, TOP] + [
    (TOP // 13) * k for k in range(1, 13)
]
charges = st.lists(
    st.tuples(
        st.lists(st.sampled_from(POOL), max_size=len(POOL)),
        st.sampled_from([0.05, 0.1, 0.25, 0.4, 1 / 3]),
        st.sampled_from(list(Renewal)),
        st.sampled_from(TIMES),
        st.sampled_from([0.5, 1.0]),
    ),
    min_size=1,
    max_size=14,
)


# Each example runs up to 14 transactions on a real database, PostgreSQL included.
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(releases=charges, zcdp=st.booleans())
def test_the_store_agrees_with_a_row_per_person(
    store: Store, releases: list[tuple[list[int], float, Renewal, datetime, float]], zcdp: bool
) -> None:
    namespace = f"n{uuid.uuid4().hex[:12]}"  # a namespace per example: a fresh ledger
    model: dict[int, Row] = {}
    for pids, price, rule, at, cap in releases:
        cost = ZCDP(price / 10) if zcdp else ApproxDP(price, price / 1000)
        total = ZCDP(cap / 10) if zcdp else ApproxDP(cap, cap / 1000)
        with store.transaction() as conn:
            left_out = charge_people(conn, People(namespace, pids), total, cost, rule, at)
        assert left_out.tolist() == model_charge(model, pids, total, cost, rule, at)
        for when in (at, TIMES[-1]):
            with store.engine.connect() as conn:
                summary = spending_summary(
                    conn, namespace, when, dict(zip(PARTS, parts_of(total), strict=True))
                )
            assert summary == model_summary(model, when, total)
    stored = stored_people(store, namespace)
    assert set(stored) == set(model)
    for pid, row in model.items():
        # The same spending now, at every time, whatever periods the store wrote.
        assert all(stored[pid].now(when) == row.now(when) for when in TIMES)


def test_a_million_people_share_a_few_classes(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'many.db'}")
    pids = np.random.default_rng(5).integers(0, TOP, 1_000_000)
    crowd, half = People("customer", pids), People("customer", pids[::2])
    now, cap = datetime(2026, 12, 1), {"epsilon": 1.0, "delta": 0.0, "rho": 0.0}
    classes = []
    try:
        for people, cost, left_out in (
            (crowd, 0.4, []),
            (half, 0.4, []),
            (crowd, 0.4, half.pids),
            (crowd, 0.1, []),
        ):
            with store.transaction() as conn:
                out = charge_people(conn, people, PureDP(1.0), PureDP(cost), Renewal.NEVER, now)
                assert np.array_equal(out, left_out)
                query = sa.select(dp_spending_classes.c.people).order_by("people")
                classes.append(conn.execute(query).scalars().all())
            with store.engine.connect() as conn:
                summary = spending_summary(conn, "customer", now, cap)
    finally:
        store.close()
    n = len(crowd)
    # Paid 0.4 | 0.4 and 0.4 + 0.4 | 0.4 + 0.4 for all | then + 0.1: one class for everyone.
    assert classes == [[n], [n - len(half), len(half)], [n], [n]]
    assert summary == ({"epsilon": 0.4 + 0.4 + 0.1, "delta": 0.0, "rho": 0.0}, 0)


def test_erasure_removes_the_person_from_the_ledger(store: Store, tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("CustomerID,amount\n" + "".join(f"{i},{i % 7}\n" for i in range(40)))
    unit = PerCustomer("CustomerID")
    ledger = Ledger(store, people_key=PEOPLE_KEY, clock=FixedClock(datetime(2026, 12, 1)))
    catalog = Catalog(ledger)
    catalog.add("orders", orders, unit, read_contents(orders, unit, ledger), budget=PureDP(1.0))
    everyone = ledger.people([str(i) for i in range(40)], unit)
    ledger.charge("a", "orders", unit, PureDP(0.5), people=everyone)
    ledger.charge("b", "orders", unit, PureDP(0.5), people=ledger.people(["7", "8"], unit))
    assert ledger.spending("customer", PureDP(1.0)).exhausted == 2
    (seven,) = ledger.people(["7"], unit).pids.tolist()
    assert catalog.erase_subject("7") == [("orders", 1)]
    stored = stored_people(store, "customer")
    assert seven not in stored and len(stored) == 39
    assert ledger.spending("customer", PureDP(1.0)).exhausted == 1
    with store.transaction() as conn:
        forget_person(conn, "customer", seven)  # again: nothing left to remove
        forget_person(conn, "nobody", seven)
    # Should their id come back, it is a new person with their whole budget.
    again = ledger.charge("c", "other", unit, PureDP(1.0), people=ledger.people(["7", "8"], unit))
    assert again.left_out.tolist() == ledger.people(["8"], unit).pids.tolist()
