"""A store of an older schema version is migrated when opened, in one transaction."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import sqlalchemy as sa
from _people_model import PARTS, TIMES, Row, model_charge, model_summary, stored_people

from shopveil._core.budgets import ZCDP, PureDP
from shopveil.dp import People, Renewal
from shopveil.dp._people_sql import charge_people, spending_summary
from shopveil.store import SCHEMA_VERSION, Store, _migrations
from shopveil.store._schema import dp_namespaces, dp_people_buckets, dp_spending_classes

# Version 1 kept one row per person, and a ceiling per namespace.
V1 = sa.MetaData()
V1_PEOPLE = sa.Table(
    "shopveil_dp_people",
    V1,
    sa.Column(
        "pid",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("namespace", sa.String(64), nullable=False),
    *(
        sa.Column(f"{rule}_{part}", sa.Float, nullable=False, server_default="0")
        for rule in ("never", "month", "day")
        for part in PARTS
    ),
    sa.Column("month", sa.String(7), nullable=False, server_default=""),
    sa.Column("day", sa.String(10), nullable=False, server_default=""),
)


def _version_1_rows() -> tuple[list[dict[str, object]], dict[str, dict[int, Row]]]:
    """People of two namespaces with states of every kind: stale, current, zero."""
    choice = np.random.default_rng(11)
    rows, models = [], {"customer": {}, "other": {}}  # type: ignore[var-annotated]
    for pid in choice.choice(2**63 - 1, size=600, replace=False).tolist():
        namespace = "customer" if pid % 5 else "other"
        scale = 0.1 if namespace == "customer" else 0.01
        row = Row(
            [scale * int(choice.integers(0, 4)), 0.0, 0.0],
            str(choice.choice(["", "2026-11", "2026-12"])),
            [scale * int(choice.integers(0, 3)), 0.0, 0.0],
            str(choice.choice(["", "2026-12-01", "2026-12-02"])),
            [scale * int(choice.integers(0, 3)), 0.0, 0.0],
        )
        if namespace == "other":  # a zCDP namespace spends ρ
            row.never, row.month_spent, row.day_spent = (
                [0.0, 0.0, v[0]] for v in (row.never, row.month_spent, row.day_spent)
            )
        models[namespace][pid] = row
        rows.append(
            {"pid": pid, "namespace": namespace, "month": row.month, "day": row.day}
            | {f"never_{k}": v for k, v in zip(PARTS, row.never, strict=True)}
            | {f"month_{k}": v for k, v in zip(PARTS, row.month_spent, strict=True)}
            | {f"day_{k}": v for k, v in zip(PARTS, row.day_spent, strict=True)}
        )
    return rows, models


def _make_version_1(url: str, rows: list[dict[str, object]]) -> None:
    store = Store.open(url)
    with store.transaction() as conn:
        dp_people_buckets.drop(conn)
        dp_spending_classes.drop(conn)
        V1.create_all(conn)
        for part in PARTS:
            conn.exec_driver_sql(
                f"ALTER TABLE shopveil_dp_namespaces ADD COLUMN ceiling_{part} "
                "FLOAT NOT NULL DEFAULT 0"
            )
        conn.execute(
            sa.insert(dp_namespaces),
            [
                {"namespace": "customer", "kind": "eps", "updated_at": "2026-12-01"},
                {"namespace": "other", "kind": "rho", "updated_at": "2026-12-01"},
            ],
        )
        conn.execute(sa.insert(V1_PEOPLE), rows)
        conn.exec_driver_sql("UPDATE shopveil_meta SET value = '1' WHERE key = 'schema_version'")
    store.close()


def test_people_of_version_1_move_into_classes_and_buckets(store_url: str) -> None:
    rows, models = _version_1_rows()
    _make_version_1(store_url, rows)
    store = Store.open(store_url)
    try:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "2"
        with store.engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert not inspector.has_table("shopveil_dp_people")
            columns = {c["name"] for c in inspector.get_columns("shopveil_dp_namespaces")}
            assert columns == {"namespace", "kind", "updated_at"}
        for namespace, model in models.items():
            total = PureDP(0.3) if namespace == "customer" else ZCDP(0.03)
            stored = stored_people(store, namespace)
            assert set(stored) == set(model)
            assert all(stored[p].now(t) == row.now(t) for p, row in model.items() for t in TIMES)
            for when in TIMES:
                cap = {"epsilon": 0.3, "delta": 0.0, "rho": 0.0}
                if namespace == "other":
                    cap = {"epsilon": 0.0, "delta": 0.0, "rho": 0.03}
                with store.engine.connect() as conn:
                    summary = spending_summary(conn, namespace, when, cap)
                assert summary == model_summary(model, when, total)
            # A charge after the migration leaves out whom the old rows would have.
            pids = [*sorted(model)[::2], 12345]
            cost = PureDP(0.1) if namespace == "customer" else ZCDP(0.01)
            at = datetime(2026, 12, 2, 10)
            with store.transaction() as conn:
                left_out = charge_people(
                    conn, People(namespace, pids), total, cost, Renewal.DAILY, at
                )
            assert left_out.tolist() == model_charge(model, pids, total, cost, Renewal.DAILY, at)
            assert 0 < left_out.size < len(pids)
    finally:
        store.close()


def test_a_migration_that_fails_changes_nothing(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, _ = _version_1_rows()
    _make_version_1(store_url, rows)
    convert = _migrations._STEPS[1]

    def fails_at_the_end(conn: sa.Connection) -> None:
        convert(conn)
        raise RuntimeError("the disk is full")

    monkeypatch.setitem(_migrations._STEPS, 1, fails_at_the_end)
    with pytest.raises(RuntimeError, match="disk is full"):
        Store.open(store_url)
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert not inspector.has_table("shopveil_dp_people_buckets")
            columns = {c["name"] for c in inspector.get_columns("shopveil_dp_namespaces")}
            assert {f"ceiling_{part}" for part in PARTS} <= columns
            assert conn.exec_driver_sql("SELECT count(*) FROM shopveil_dp_people").scalar() == 600
            version = "SELECT value FROM shopveil_meta WHERE key = 'schema_version'"
            assert conn.exec_driver_sql(version).scalar() == "1"
    finally:
        engine.dispose()
