"""DP queries and top-k obey a consent filter: the customers it does not allow are not
charged, and their rows are out of the input before anything is computed."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _people import PEOPLE_KEY

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.audit import AuditLog
from shopveil.dp import Ledger, QueryOptions, run_query, top_k
from shopveil.governance import (
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
    ConsentStatus,
)
from shopveil.keys import Keyring
from shopveil.store import Store

ROWS = 3000
REFUSED = [f"c{i}" for i in range(0, 300, 7)]  # customers who refused marketing
GRANTED = [f"c{i}" for i in range(1, 300, 5)]  # who granted it (on the same day: c21 both)


def _orders() -> pa.Table:
    rng = np.random.default_rng(2024)  # data generation only, never noise
    customers = [f"c{c}" for c in rng.integers(0, 300, ROWS)]
    customers[:40] = [None] * 40  # guests: rows without a customer id
    return pa.table({"customer_id": customers, "item": rng.choice(["a", "b", "c"], ROWS).tolist()})


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(1e7, 1e-3))
    store.close()


@pytest.fixture
def register(tmp_path: Path) -> Iterator[ConsentRegister]:
    store = Store.open(f"sqlite:///{tmp_path / 'register.db'}")
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    register = ConsentRegister(store, keyring, AuditLog(store, keyring))
    at = datetime(2024, 1, 1, tzinfo=UTC)

    def row(customer: str, status: ConsentStatus) -> ConsentRow:
        record = ConsentRecord(ConsentPurpose.MARKETING, status, at, None, "test")
        return ConsentRow("line 2", customer, record)

    register.record(
        [row(c, ConsentStatus.REFUSED) for c in REFUSED]
        + [row(c, ConsentStatus.GRANTED) for c in GRANTED],
        actor="t",
    )
    yield register
    store.close()


def _expected(law: str, per_customer: bool) -> int:
    ids = _orders()["customer_id"].to_pylist()
    if law == "gdpr":  # objection: refusals out, guests stay unless counted per customer
        return sum(c not in REFUSED if c else not per_customer for c in ids)
    return sum(c in GRANTED and c not in REFUSED for c in ids)  # consent: grants only


@pytest.mark.parametrize("law", ["gdpr", "lgpd"])
@pytest.mark.parametrize("unit", [PerRow(), PerCustomer("customer_id", 1000)])
def test_a_count_drops_exactly_the_rows_the_register_withholds(
    ledger: Ledger, register: ConsentRegister, law: str, unit: PerRow | PerCustomer
) -> None:
    options = QueryOptions(epsilon=PureDP(1e6), unit=unit, unit_declared=True, purpose="marketing")
    answer = run_query(
        "SELECT COUNT(*) AS n FROM orders",
        _orders(),
        table="orders",
        options=options,
        ledger=ledger,
        subjects=register.filter("marketing", law),
    )
    # Noise of scale 1000/1e6 at most: the count is exact.
    per_customer = isinstance(unit, PerCustomer)
    assert answer.value("n").value == _expected(law, per_customer)
    assert any("consent register, by 'customer_id'" in note for note in answer.notes)
    everyone = run_query(
        "SELECT COUNT(*) AS n FROM orders", _orders(), table="orders", options=options,
        ledger=ledger,
    )  # fmt: skip
    assert everyone.value("n").value > _expected(law, per_customer)


def test_withheld_customers_are_not_charged(tmp_path: Path, register: ConsentRegister) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'small.db'}")
    ledger = Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(1.0, 1e-6))
    unit = PerCustomer("customer_id")
    run_query(
        "SELECT COUNT(*) AS n FROM orders",
        _orders(),
        table="orders",
        options=QueryOptions(epsilon=PureDP(0.6), unit=unit),
        ledger=ledger,
        subjects=register.filter("marketing", "lgpd"),
    )
    # A second release at 0.6 leaves out exactly those who paid the first: the grants.
    present = {c for c in _orders()["customer_id"].to_pylist() if c}
    probe = ledger.charge(
        "probe", "other", unit, PureDP(0.6), people=ledger.people(sorted(present), unit)
    )
    paid = ledger.people(sorted(present & set(GRANTED) - set(REFUSED)), unit)
    assert np.array_equal(probe.left_out, paid.pids)
    store.close()


def test_top_k_counts_only_the_customers_allowed(ledger: Ledger, register: ConsentRegister) -> None:
    answer = top_k(
        _orders(),
        "item",
        3,
        epsilon=PureDP(1e6),
        ledger=ledger,
        table="orders",
        unit=PerCustomer("customer_id", 3),  # each customer counts in all of their items
        candidates=["a", "b", "c"],
        subjects=register.filter("marketing", "lgpd"),
    )
    data = _orders()
    allowed = set(GRANTED) - set(REFUSED)
    pairs = zip(data["customer_id"].to_pylist(), data["item"].to_pylist(), strict=True)
    seen = {(c, i) for c, i in pairs if c in allowed}
    buyers = {item: sum(i == item for _, i in seen) for item in "abc"}
    released = {row["item"]: row["count"].value for row in answer.rows}
    assert released == buyers
