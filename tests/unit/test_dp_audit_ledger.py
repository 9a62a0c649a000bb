"""Ledger charges in the audit log, and queries charged before they read data."""

from __future__ import annotations

import contextlib
import json
import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerRow
from shopveil.audit import AuditLog
from shopveil.dp import Ledger, QueryOptions, run_query
from shopveil.errors import BudgetExceeded, ParameterError, QueryError, StoreError
from shopveil.keys import Keyring
from shopveil.store import Store
from shopveil.store._schema import dp_charges

ROW = PerRow()


@pytest.fixture
def audit(store: Store) -> AuditLog:
    return AuditLog(store, Keyring.open(store, master_key=secrets.token_bytes(32)))


@pytest.fixture
def ledger(store: Store, audit: AuditLog) -> Ledger:
    return Ledger(store, people_key=PEOPLE_KEY, audit=audit)


def _charges(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(dp_charges.c.request_id)).scalars())


def _orders(rows: int = 600) -> pa.Table:
    data = np.random.default_rng(3)  # data generation only, never noise
    amounts = np.round(data.uniform(0, 100, rows), 2)
    return pa.table(
        {
            "country": data.choice(["FR", "DE"], rows).tolist(),
            "amount": amounts,
            "note": [f"{a}" if i else "not a number" for i, a in enumerate(amounts)],
        }
    )


def test_a_charge_appends_one_event_with_names_and_cost(ledger: Ledger, audit: AuditLog) -> None:
    ledger.charge(
        "r1", "orders", ROW, PureDP(0.25), analyst="ana", purpose="analytics", what="q on orders"
    )
    (event,) = audit.events(action="dp.charge")
    assert event.actor == "ana"
    assert dict(event.details) == {
        "dataset": "orders",
        "unit": "row",
        "request_id": "r1",
        "cost": {"epsilon": 0.25, "delta": 0.0},  # in the default total's kind (approx)
        "analyst": "ana",
        "purpose": "analytics",
        "what": "q on orders",
        "period": "-",
    }
    assert audit.verify() == 1


def test_replays_and_refusals_append_nothing(ledger: Ledger, audit: AuditLog) -> None:
    ledger.set_budget("orders", ROW, PureDP(1.0))
    ledger.charge("r1", "orders", ROW, PureDP(0.6))
    ledger.charge("r1", "orders", ROW, PureDP(0.6))  # a retry
    with pytest.raises(BudgetExceeded):
        ledger.charge("r2", "orders", ROW, PureDP(0.6))
    assert [e.details["request_id"] for e in audit.events(action="dp.charge")] == ["r1"]
    assert audit.verify() == 2  # dp.budget_set and one dp.charge


def test_if_the_audit_write_fails_nothing_is_charged(
    ledger: Ledger, audit: AuditLog, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise StoreError("the audit table is unavailable")

    monkeypatch.setattr(AuditLog, "append_in", broken)
    with pytest.raises(StoreError, match="unavailable"):
        ledger.charge("r1", "orders", ROW, PureDP(0.25))
    assert _charges(store) == []
    monkeypatch.undo()
    ledger.charge("r1", "orders", ROW, PureDP(0.25))  # the id was not used up
    assert _charges(store) == ["r1"] and audit.verify() == 1


def test_an_audit_log_in_another_store_is_written_before_the_charge_commits(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Store.open(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        audit = AuditLog(other, Keyring.open(other, master_key=secrets.token_bytes(32)))
        ledger = Ledger(store, people_key=PEOPLE_KEY, audit=audit)
        ledger.charge("r1", "orders", ROW, PureDP(0.25))
        assert [e.details["request_id"] for e in audit.events()] == ["r1"]

        def broken(*args: object, **kwargs: object) -> None:
            raise StoreError("the audit database is down")

        monkeypatch.setattr(AuditLog, "append", broken)
        with pytest.raises(StoreError):
            ledger.charge("r2", "orders", ROW, PureDP(0.25))
        assert _charges(store) == ["r1"]
    finally:
        other.close()


def test_two_store_objects_on_one_database_share_the_charge_transaction(
    store_url: str, store: Store
) -> None:
    other = Store.open(store_url)  # the same database through a second engine
    try:
        audit = AuditLog(other, Keyring.open(other, master_key=secrets.token_bytes(32)))
        Ledger(store, people_key=PEOPLE_KEY, audit=audit).charge("r1", "orders", ROW, PureDP(0.25))
        assert [e.details["request_id"] for e in audit.events()] == ["r1"]
    finally:
        other.close()


def test_budget_changes_are_audited_with_their_actor(ledger: Ledger, audit: AuditLog) -> None:
    ledger.set_budget("orders", ROW, ApproxDP(2.0, 1e-6), actor="officer")
    ledger.set_sub_budget(
        "orders", ROW, scope="analyst", name="ana", limit=PureDP(0.5), actor="officer"
    )
    ledger.reset("orders", ROW, actor="officer")
    events = audit.events()
    assert [(e.actor, e.action) for e in events] == [
        ("officer", "dp.budget_set"),
        ("officer", "dp.sub_budget_set"),
        ("officer", "dp.budget_reset"),
    ]
    assert events[0].details["total"] == {"epsilon": 2.0, "delta": 1e-6}
    assert events[1].details["limit"] == {"epsilon": 0.5}


def test_a_query_is_audited_without_any_data_value(ledger: Ledger, audit: AuditLog) -> None:
    options = QueryOptions(
        epsilon=PureDP(0.5), bounds={"total": (0, 100)}, keys={"country": ("FR", "DE")}
    )
    answer = run_query(
        "SELECT country, SUM(amount) AS total FROM orders GROUP BY country",
        _orders(),
        table="orders",
        options=options,
        ledger=ledger,
    )
    (event,) = audit.events(action="dp.charge")
    assert event.details["request_id"] == answer.request_id
    assert event.details["what"] == "query on orders: total"
    text = json.dumps(event.to_dict())
    for row in answer.rows:  # neither the released values nor the true sums
        assert str(row["total"].value) not in text
    data = _orders()
    for country in ("FR", "DE"):
        mask = np.asarray(data["country"].to_pylist()) == country
        assert f"{data['amount'].to_numpy()[mask].sum():.2f}" not in text


def test_a_value_that_does_not_convert_leaves_its_row_out_and_charges_once(
    ledger: Ledger, audit: AuditLog
) -> None:
    # Failing on one row's value would tell about that row: the row is left out instead.
    options = QueryOptions(epsilon=PureDP(0.5), bounds={"s": (0, 100)})
    sql = "SELECT SUM(CAST(note AS DOUBLE)) AS s FROM orders"
    first = run_query(
        sql, _orders(), table="orders", options=options, ledger=ledger, request_id="x"
    )
    again = run_query(
        sql, _orders(), table="orders", options=options, ledger=ledger, request_id="x"
    )
    assert again.replayed and again.rows[0]["s"] == first.rows[0]["s"]
    assert ledger.show("orders", ROW).spent == ApproxDP(0.5, 0.0)


def test_a_failure_while_reading_data_keeps_the_charge_and_is_not_replayed(
    ledger: Ledger, audit: AuditLog, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "orders.parquet"
    pq.write_table(_orders(20_000), path)
    damaged = bytearray(path.read_bytes())
    middle = slice(8, len(damaged) // 2)  # data pages no longer decompress; footer intact
    damaged[middle] = b"\xab" * (middle.stop - middle.start)
    path.write_bytes(bytes(damaged))
    options = QueryOptions(epsilon=PureDP(0.5), bounds={"s": (0, 100)})
    sql = "SELECT SUM(amount) AS s FROM orders"
    with pytest.raises(QueryError, match="stays charged"):
        run_query(sql, path, options=options, ledger=ledger, request_id="x")
    assert ledger.show("orders", ROW).spent == ApproxDP(0.5, 0.0)
    assert [e.details["request_id"] for e in audit.events(action="dp.charge")] == ["x"]
    with pytest.raises(ParameterError, match=r"no stored answer.*Nothing was charged now"):
        run_query(sql, path, options=options, ledger=ledger, request_id="x")
    assert ledger.show("orders", ROW).spent == ApproxDP(0.5, 0.0)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT SUM(note) AS s FROM orders",  # text: refused from the schema
        "SELECT SUM(amount) AS s FROM orders WHERE country > 3",  # binder error
        "SELECT COUNT(*) AS s FROM orders WHERE nosuch = 1",
    ],
)
def test_errors_known_from_the_schema_charge_nothing(
    ledger: Ledger, store: Store, audit: AuditLog, sql: str
) -> None:
    options = QueryOptions(epsilon=PureDP(0.5), bounds={"s": (0, 100)})
    with pytest.raises(Exception) as raised:
        run_query(sql, _orders(), table="orders", options=options, ledger=ledger)
    assert "stays charged" not in str(raised.value)
    assert _charges(store) == [] and audit.events() == []


def test_a_retry_safe_query_replays_its_stored_answer_uncharged(
    ledger: Ledger, audit: AuditLog
) -> None:
    options = QueryOptions(epsilon=PureDP(0.5), keys={"country": ("FR", "DE")})
    sql = "SELECT country, COUNT(*) AS n FROM orders GROUP BY country"
    first = run_query(
        sql, _orders(), table="orders", options=options, ledger=ledger, request_id="r"
    )
    again = run_query(
        sql, _orders(), table="orders", options=options, ledger=ledger, request_id="r"
    )
    assert again.replayed and again.rows == first.rows
    assert len(audit.events(action="dp.charge")) == 1


# Fewer examples: each example opens a real store and ledger on every backend.
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(costs=st.lists(st.sampled_from([0.1, 0.25, 0.4]), min_size=1, max_size=8))
def test_audited_costs_add_up_to_what_was_spent_and_never_exceed_the_budget(
    store_url: str, tmp_path: Path, costs: list[float]
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / f'{secrets.token_hex(4)}.db'}")
    try:
        audit = AuditLog(store, Keyring.open(store, master_key=secrets.token_bytes(32)))
        ledger = Ledger(store, people_key=PEOPLE_KEY, audit=audit)
        ledger.set_budget("orders", ROW, PureDP(1.0))
        for i, cost in enumerate(costs):
            with contextlib.suppress(BudgetExceeded):
                ledger.charge(f"r{i}", "orders", ROW, PureDP(cost))
        audited = sum(e.details["cost"]["epsilon"] for e in audit.events(action="dp.charge"))
        spent = ledger.show("orders", ROW).spent
        assert isinstance(spent, PureDP)
        assert audited == pytest.approx(spent.epsilon) and spent.epsilon <= 1.0 + 1e-9
        assert audit.verify() == 1 + len(audit.events(action="dp.charge"))
    finally:
        store.close()
