"""The ledger replayed from the audit log: spending lowered in the database is caught."""

from __future__ import annotations

import contextlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core import FixedClock
from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.units import PerRow
from shopveil.audit import AuditLog
from shopveil.dp import Ledger, Renewal
from shopveil.dp._ledger_check import check_ledger
from shopveil.errors import BudgetExceeded
from shopveil.keys import Keyring
from shopveil.store import Store

DAY1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

ROW = PerRow()


@pytest.fixture
def keyring_of(store: Store) -> Keyring:
    return Keyring.open(store, master_key=secrets.token_bytes(32))


def _ledger(store: Store, keyring: Keyring, at: datetime = DAY1) -> Ledger:
    """A ledger and its audit log on one clock, as the CLI opens them."""
    clock = FixedClock(at)
    return Ledger(store, clock=clock, audit=AuditLog(store, keyring, clock=clock))


def _sql(store: Store, statement: str) -> None:
    with store.transaction() as conn:
        conn.execute(sa.text(statement))


def _history(store: Store, keyring: Keyring) -> Ledger:
    """Every kind of ledger change: budgets, sub-budgets, charges, a reset, renewals."""
    ledger = _ledger(store, keyring)
    ledger.set_budget("orders", ROW, PureDP(2.0), actor="steward")
    ledger.set_sub_budget(
        "orders", ROW, scope="analyst", name="ana", limit=PureDP(1.0), actor="steward"
    )
    ledger.charge("q1", "orders", ROW, PureDP(0.25), analyst="ana", purpose="bi")
    ledger.charge("q2", "orders", ROW, PureDP(0.5), analyst="bob", purpose="bi")
    ledger.charge("q3", "sessions", ROW, PureDP(0.1))  # opens a default account
    ledger.set_budget("orders", ROW, ApproxDP(3.0, 1e-6), actor="steward")
    ledger.charge("q4", "orders", ROW, ApproxDP(0.2, 1e-8), analyst="bob")
    ledger.reset("sessions", ROW, actor="steward")
    ledger.charge("q5", "sessions", ROW, PureDP(0.3))
    ledger.set_budget("daily", ROW, ZCDP(0.5), renewal=Renewal.DAILY, actor="steward")
    ledger.charge("q6", "daily", ROW, ZCDP(0.2))
    later = _ledger(store, keyring, DAY1 + timedelta(days=1))
    later.charge("q7", "daily", ROW, ZCDP(0.1))  # a new day: spending starts again
    later.set_budget("orders", ROW, ApproxDP(3.0, 1e-6), renewal=Renewal.MONTHLY)
    later.charge("q8", "orders", ROW, PureDP(0.1), analyst="ana")
    return later


def test_an_untouched_ledger_matches_its_audited_history(store: Store, keyring_of: Keyring) -> None:
    ledger = _history(store, keyring_of)
    assert ledger.audit is not None and ledger.audit.verify() == 14
    assert check_ledger(store, ledger.audit) == []


def test_spending_set_back_to_zero_is_caught(store: Store, keyring_of: Keyring) -> None:
    ledger = _history(store, keyring_of)
    assert ledger.audit is not None
    _sql(store, "UPDATE shopveil_dp_accounts SET spent_epsilon = 0 WHERE dataset = 'orders'")
    assert ledger.show("orders", ROW).spent.epsilon == 0  # type: ignore[union-attr]
    assert ledger.audit.verify() == 14  # the chain itself is intact
    assert check_ledger(store, ledger.audit) == [
        "ledger account 'orders' (row) records less spending than its audited "
        "charges: budget was given back"
    ]


def test_a_sub_budget_given_back_is_caught(store: Store, keyring_of: Keyring) -> None:
    ledger = _history(store, keyring_of)
    assert ledger.audit is not None
    _sql(store, "UPDATE shopveil_dp_sub_budgets SET spent_epsilon = 0")
    (problem,) = check_ledger(store, ledger.audit)
    assert "analyst sub-budget 'ana', records less spending" in problem


def test_a_deleted_account_is_caught(store: Store, keyring_of: Keyring) -> None:
    ledger = _history(store, keyring_of)
    assert ledger.audit is not None
    _sql(store, "DELETE FROM shopveil_dp_charges")
    _sql(
        store,
        "DELETE FROM shopveil_dp_accounts WHERE dataset = 'sessions'",
    )
    assert check_ledger(store, ledger.audit) == [
        "ledger account 'sessions' (row) has audited history but no row: it was deleted, "
        "and the next charge would open it again with a fresh default budget"
    ]


def test_a_raised_total_and_an_unaudited_account_are_caught(
    store: Store, keyring_of: Keyring
) -> None:
    ledger = _history(store, keyring_of)
    assert ledger.audit is not None
    _sql(store, "UPDATE shopveil_dp_accounts SET total_rho = 50 WHERE dataset = 'daily'")
    Ledger(store).charge("q9", "shadow", ROW, PureDP(0.5))  # no audit log
    assert check_ledger(store, ledger.audit) == [
        "ledger account 'shadow' (row) has no dp.budget_set or dp.charge event: it was "
        "written outside the ledger, or by a ledger without an audit log",
        "ledger account 'daily' (row) has a total other than its last dp.budget_set event",
    ]


_STEP = st.one_of(
    st.tuples(st.just("charge"), st.sampled_from([0.05, 0.1, 0.3]), st.sampled_from(["a", "b"])),
    st.tuples(st.just("reset"), st.just(0.0), st.just("-")),
    st.tuples(st.just("next_day"), st.just(0.0), st.just("-")),
    st.tuples(st.just("sub"), st.sampled_from([0.2, 0.5]), st.sampled_from(["a", "b"])),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_STEP, min_size=1, max_size=12), cut=st.floats(0.0, 0.99))
def test_any_history_replays_and_any_refund_is_caught(
    tmp_path: Path, steps: list[tuple[str, float, str]], cut: float
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / f'{secrets.token_hex(4)}.db'}")
    try:
        keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
        at = DAY1
        ledger = _ledger(store, keyring, at)
        ledger.set_budget("orders", ROW, PureDP(1.0), renewal=Renewal.DAILY)
        for i, (op, amount, who) in enumerate(steps):
            if op == "charge":
                with contextlib.suppress(BudgetExceeded):
                    ledger.charge(f"r{i}", "orders", ROW, PureDP(amount), analyst=who)
            elif op == "reset":
                ledger.reset("orders", ROW)
            elif op == "next_day":
                at += timedelta(days=1)
                ledger = _ledger(store, keyring, at)
            else:
                ledger.set_sub_budget(
                    "orders", ROW, scope="analyst", name=who, limit=PureDP(amount)
                )
        assert ledger.audit is not None
        assert check_ledger(store, ledger.audit) == []
        with store.engine.connect() as conn:
            spent = conn.execute(sa.text("SELECT spent_epsilon FROM shopveil_dp_accounts")).scalar()
        if spent:
            _sql(store, f"UPDATE shopveil_dp_accounts SET spent_epsilon = {spent * cut!r}")
            (problem,) = check_ledger(store, ledger.audit)
            assert "records less spending than its audited charges" in problem
    finally:
        store.close()
