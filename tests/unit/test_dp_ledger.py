"""The budget ledger on a real store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.clock import FixedClock
from shopveil._core.units import PerRow
from shopveil.dp import DEFAULT_TOTAL, Ledger, Renewal
from shopveil.errors import BudgetExceeded, ParameterError
from shopveil.store import Store
from shopveil.store._schema import dp_charges

ROW = PerRow()


def _charges(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(dp_charges)).scalar_one())


def test_first_use_gets_the_default_budget(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    charge = ledger.charge("r1", "orders", ROW, PureDP(0.25))
    assert charge.is_default and charge.total == DEFAULT_TOTAL
    assert charge.remaining == ApproxDP(0.75, 1e-6)
    state = ledger.show("orders", ROW)
    assert state.is_default and state.spent == ApproxDP(0.25, 0.0)


def test_a_retried_request_is_charged_once_and_replays_its_answer(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    first = ledger.charge("same", "orders", ROW, PureDP(0.3), answer='{"a": 1}')
    again = ledger.charge("same", "orders", ROW, PureDP(0.3), answer='{"a": 2}')
    assert not first.replayed and again.replayed
    assert again.answer == '{"a": 1}'
    assert ledger.show("orders", ROW).spent == ApproxDP(0.3, 0.0)
    assert _charges(store) == 1
    with pytest.raises(ParameterError, match="different charge"):
        ledger.charge("same", "orders", ROW, PureDP(0.4))


def test_over_budget_is_refused_and_nothing_changes(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", ROW, PureDP(1.0))
    ledger.charge("a", "orders", ROW, PureDP(0.7))
    with pytest.raises(BudgetExceeded, match="Nothing was charged"):
        ledger.check("orders", ROW, PureDP(0.4))
    with pytest.raises(BudgetExceeded):
        ledger.charge("b", "orders", ROW, PureDP(0.4))
    assert ledger.show("orders", ROW).spent == PureDP(0.7)
    assert _charges(store) == 1
    ledger.charge("c", "orders", ROW, PureDP(0.3))  # exactly what is left still fits


def test_ten_tenths_fit_in_one(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", ROW, PureDP(1.0))
    for i in range(10):
        ledger.charge(f"r{i}", "orders", ROW, PureDP(0.1))
    with pytest.raises(BudgetExceeded):
        ledger.charge("r10", "orders", ROW, PureDP(1e-6))


def test_sub_budgets_per_analyst_and_purpose(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", ROW, PureDP(2.0))
    ledger.set_sub_budget("orders", ROW, scope="analyst", name="ann", limit=PureDP(0.5))
    ledger.set_sub_budget("orders", ROW, scope="purpose", name="ads", limit=PureDP(0.8))
    ledger.charge("1", "orders", ROW, PureDP(0.5), analyst="ann")
    with pytest.raises(BudgetExceeded, match="analyst budget of 'ann'"):
        ledger.charge("2", "orders", ROW, PureDP(0.1), analyst="ann")
    ledger.charge("3", "orders", ROW, PureDP(0.5), analyst="bob", purpose="ads")
    with pytest.raises(BudgetExceeded, match="purpose budget of 'ads'"):
        ledger.charge("4", "orders", ROW, PureDP(0.5), analyst="bob", purpose="ads")
    state = ledger.show("orders", ROW)
    assert state.spent == PureDP(1.0)
    assert {(s.scope, s.name): s.spent for s in state.sub_budgets} == {
        ("analyst", "ann"): PureDP(0.5),
        ("purpose", "ads"): PureDP(0.5),
    }


def test_monthly_renewal(store: Store) -> None:
    november = Ledger(store, clock=FixedClock(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)))
    november.set_budget("orders", ROW, PureDP(1.0), renewal=Renewal.MONTHLY)
    november.charge("n1", "orders", ROW, PureDP(1.0))
    with pytest.raises(BudgetExceeded):
        november.charge("n2", "orders", ROW, PureDP(0.1))
    december = Ledger(store, clock=FixedClock(datetime(2026, 12, 1, 0, 1, tzinfo=UTC)))
    assert december.show("orders", ROW).spent == PureDP(0.0)
    december.charge("d1", "orders", ROW, PureDP(0.6))
    assert december.show("orders", ROW).remaining == PureDP(0.4)


def test_reset_and_unknown_datasets(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    with pytest.raises(ParameterError, match="unknown dataset"):
        ledger.show("nope", ROW)
    with pytest.raises(ParameterError, match="unknown dataset"):
        ledger.accounts("nope")
    with pytest.raises(ParameterError, match="unknown dataset"):
        ledger.reset("nope", ROW)
    ledger.charge("x", "orders", ROW, PureDP(0.5))
    assert ledger.reset("orders", ROW).spent == ApproxDP(0.0, 0.0)


def test_kinds_convert_where_sound(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("models", ROW, ZCDP(1.0))
    ledger.charge("p", "models", ROW, PureDP(1.0))  # enters as ρ = 0.5
    assert ledger.show("models", ROW).spent == ZCDP(0.5)
    with pytest.raises(ParameterError, match="cannot charge"):
        ledger.charge("q", "models", ROW, ApproxDP(0.1, 1e-9))
    ledger.set_budget("pure", ROW, PureDP(1.0))
    with pytest.raises(ParameterError, match="cannot charge"):
        ledger.charge("z", "pure", ROW, ZCDP(0.01))


# Fewer examples: each example charges a real ledger on every backend.
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(costs=st.lists(st.floats(0.0, 0.6), min_size=1, max_size=12))
def test_the_ledger_never_goes_below_zero(store: Store, costs: list[float]) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    dataset = f"d{uuid.uuid4().hex[:8]}"
    ledger.set_budget(dataset, ROW, PureDP(1.0))
    accepted = 0.0
    for cost in costs:
        try:
            ledger.charge(uuid.uuid4().hex, dataset, ROW, PureDP(cost))
            accepted += cost
        except BudgetExceeded:
            pass
        state = ledger.show(dataset, ROW)
        assert state.remaining.epsilon >= 0  # type: ignore[union-attr]
        assert state.spent.epsilon <= 1.0 * (1 + 1e-9)  # type: ignore[union-attr]
    assert abs(ledger.show(dataset, ROW).spent.epsilon - accepted) < 1e-9  # type: ignore[union-attr]


def test_an_answer_attached_after_the_charge_is_replayed_and_kept(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.charge("late", "orders", ROW, PureDP(0.2))
    assert ledger.charge("late", "orders", ROW, PureDP(0.2)).answer is None
    ledger.record_answer("late", '{"a": 1}')
    ledger.record_answer("late", '{"a": 2}')  # the first answer stays
    assert ledger.charge("late", "orders", ROW, PureDP(0.2)).answer == '{"a": 1}'
    assert ledger.show("orders", ROW).spent == ApproxDP(0.2, 0.0)
    with pytest.raises(ParameterError, match="no charge was recorded"):
        ledger.record_answer("never-charged", "{}")
