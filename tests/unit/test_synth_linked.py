"""Linked synthesis: keys that join, rows per customer that follow the real ones, one charge."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _noise import seeded
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer
from shopveil.data import RetailOptions, generate_retail
from shopveil.dp import Ledger
from shopveil.errors import ParameterError, SchemaError
from shopveil.store import Store
from shopveil.synth import Child, SynthOptions, synthesize_linked

MAX_ORDERS = 8
OPTIONS = SynthOptions(
    epsilon=4.0,
    exclude=("birth_date", "signup_date", "order_time", "description"),
    bounds={"quantity": (1, 24), "unit_price": (0, 20)},
)


@pytest.fixture(scope="module")
def shop() -> dict[str, pa.Table]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(generate_retail(2000, seed=5, options=RetailOptions(text=False)).tables)


def _orders_per_customer(customers: pa.Table, orders: pa.Table) -> np.ndarray:
    index = pc.index_in(orders["customer_id"], value_set=customers["customer_id"]).to_numpy()
    per = np.bincount(index, minlength=customers.num_rows).clip(0, MAX_ORDERS)
    return np.bincount(per, minlength=MAX_ORDERS + 1) / customers.num_rows


def test_keys_join_and_orders_per_customer_follow_the_real_distribution(
    shop: dict[str, pa.Table], store: Store
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(10.0, 1e-4))
    children = [
        Child(shop["orders"], "customer_id", "order_id", MAX_ORDERS),
        Child(shop["order_lines"], "order_id", None, 6),
    ]
    result = synthesize_linked(
        shop["customers"], "customer_id", children, OPTIONS, ledger=ledger, dataset="shop",
        request_id="linked-1", rng=seeded(4),
    )  # fmt: skip
    customers, orders, lines = result.tables
    assert pc.all(pc.is_in(orders["customer_id"], value_set=customers["customer_id"])).as_py()
    assert pc.all(pc.is_in(lines["order_id"], value_set=orders["order_id"])).as_py()
    assert pc.count_distinct(orders["order_id"]).as_py() == orders.num_rows
    # Stated distance: total variation ≤ 0.05 between the real (capped at 8) and synthetic
    # orders-per-customer distributions.
    real = _orders_per_customer(shop["customers"], shop["orders"])
    synthetic = _orders_per_customer(customers, orders)
    assert 0.5 * np.abs(real - synthetic).sum() <= 0.05
    assert "email" not in customers.column_names and "name" not in customers.column_names
    # One charge for the whole chain, per customer.
    unit = PerCustomer("customer_id")
    first = shop["customers"]["customer_id"][0].as_py()
    assert ledger.person_spent(first, unit, ApproxDP(10.0, 1e-4)) == OPTIONS.budget
    assert [h.request_id for h in ledger.history("shop", unit)] == ["linked-1"]


def test_a_child_column_that_does_not_exist_is_refused(shop: dict[str, pa.Table]) -> None:
    with pytest.raises(ParameterError, match="max_per_parent"):
        Child(shop["orders"], "customer_id", "order_id", 0)
    with pytest.raises(SchemaError, match="'client' is not in the child table"):
        Child(shop["orders"], "client")


# Each example fits three small models; the scratch ledger has room for all of them.
@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    orders_of=st.lists(st.integers(0, 5), min_size=1, max_size=40),
    lines=st.integers(1, 4),
    cap=st.integers(1, 3),
)
def test_every_synthetic_foreign_key_resolves(
    scratch_ledger: Ledger, orders_of: list[int], lines: int, cap: int
) -> None:
    people = len(orders_of)
    customers = pa.table({"cid": [f"c{i}" for i in range(people)], "tier": ["a"] * people})
    order_rows = [(f"o{i}-{k}", f"c{i}") for i, n in enumerate(orders_of) for k in range(n)]
    orders = pa.table(
        {
            "oid": pa.array([o for o, _ in order_rows], pa.string()),
            "cid": pa.array([c for _, c in order_rows], pa.string()),
            "x": pa.array(["u"] * len(order_rows), pa.string()),
        }
    )
    line_oids = [o for o, _ in order_rows for _ in range(lines)]
    items = pa.table(
        {"oid": pa.array(line_oids, pa.string()), "qty": pa.array([1] * len(line_oids), pa.int64())}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = synthesize_linked(
            customers, "cid",
            [Child(orders, "cid", "oid", cap), Child(items, "oid", None, cap)],
            SynthOptions(epsilon=2.0, bounds={"qty": (0, 5)}),
            ledger=scratch_ledger, dataset="p",
        )  # fmt: skip
    c, o, li = result.tables
    assert pc.all(pc.is_in(o["cid"], value_set=c["cid"])).as_py() in (True, None)
    assert pc.all(pc.is_in(li["oid"], value_set=o["oid"])).as_py() in (True, None)
    per_customer = pc.value_counts(o["cid"]).field("counts").to_pylist()
    assert max(per_customer, default=0) <= cap
