"""Masked views leave out the customers the consent register does not allow, as a release
does; a DuckDB view follows a withdrawal made after it was created."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from shopveil.audit import AuditLog
from shopveil.data import RetailOptions, generate_retail
from shopveil.errors import ParameterError, PolicyError
from shopveil.governance import (
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
    ConsentStatus,
)
from shopveil.keys import Keyring
from shopveil.pipeline import anonymize_file, create_masked_view, masked_view
from shopveil.policy import load_policy
from shopveil.store import Store

duckdb = pytest.importorskip("duckdb")

IDS = [f"c{i}" for i in range(40)]
OBJECTED = ["c3", "c17"]  # refused analytics
NO_SALE = ["c5"]  # refused sale_sharing: out of a CCPA marketing view


def _customers() -> pa.Table:
    return pa.table(
        {
            "customer_id": IDS,
            "email": [f"{c}@example.org" for c in IDS],
            "country": ["United Kingdom"] * len(IDS),
        }
    )


def _record(register: ConsentRegister, ids: list[str], purpose: str, status: str, day: int) -> None:
    at = datetime(2024, 1, day, tzinfo=UTC)
    record = ConsentRecord(ConsentPurpose(purpose), ConsentStatus(status), at, None, "test")
    register.record([ConsentRow("line 2", c, record) for c in ids], actor="t")


@pytest.fixture
def keys(store: Store, monkeypatch: pytest.MonkeyPatch) -> Keyring:
    master = secrets.token_bytes(32)
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", master.hex())  # for anonymize_file
    return Keyring.open(store, master_key=master)


@pytest.fixture
def register(store: Store, keys: Keyring) -> ConsentRegister:
    register = ConsentRegister(store, keys, AuditLog(store, keys))
    _record(register, OBJECTED, "analytics", "refused", 1)
    _record(register, NO_SALE, "sale_sharing", "refused", 1)
    return register


def _shown(view: pa.Table, everyone: pa.Table, allowed: list[str]) -> None:
    """``view`` is ``everyone`` (the same view without the register) less the rows of
    customers not in ``allowed``."""
    keep = pc.is_in(_customers()["customer_id"], value_set=pa.array(allowed))
    assert view.equals(everyone.filter(keep))


# GDPR analytics rests on objection; a CCPA marketing view also honours the opt-out of sale.
@pytest.mark.parametrize(
    ("law", "role", "out"), [("gdpr", "analyst", OBJECTED), ("ccpa", "marketer", NO_SALE)]
)
def test_masked_view_leaves_out_who_the_register_does_not_allow(
    store: Store, keys: Keyring, register: ConsentRegister, law: str, role: str, out: list[str]
) -> None:
    policy, table = load_policy(law), _customers()
    view = masked_view(table, policy, role, keys=keys, store=store)
    everyone = masked_view(table, policy, role, keys=keys, consent=False)
    assert everyone.num_rows == len(IDS)
    _shown(view, everyone, [c for c in IDS if c not in out])


def test_without_the_register_is_an_explicit_choice(store: Store, keys: Keyring) -> None:
    with pytest.raises(ParameterError, match="store="):
        masked_view(_customers(), load_policy("gdpr"), "analyst", keys=keys)
    con = duckdb.connect()
    con.register("customers", _customers())
    with pytest.raises(ParameterError, match="store="):
        create_masked_view(con, "customers", load_policy("gdpr"), "analyst", keys=keys)


def test_duckdb_view_follows_a_withdrawal(
    store: Store, keys: Keyring, register: ConsentRegister
) -> None:
    policy, table = load_policy("gdpr"), _customers()
    con = duckdb.connect()
    con.register("customers_arrow", table)
    con.execute("CREATE TABLE customers AS SELECT * FROM customers_arrow")
    view = create_masked_view(
        con, "customers", policy, "analyst", keys=keys, store=store, refresh=0
    )
    everyone = masked_view(table, policy, "analyst", keys=keys, consent=False)
    _shown(
        con.sql(f"SELECT * FROM {view}").to_arrow_table(),
        everyone,
        [c for c in IDS if c not in OBJECTED],
    )
    _record(register, ["c8"], "analytics", "withdrawn", 2)  # after the view was made
    after = con.sql(f"SELECT * FROM {view}").to_arrow_table()
    _shown(after, everyone, [c for c in IDS if c not in [*OBJECTED, "c8"]])


def test_minors_by_a_table_of_ages(
    store: Store, keys: Keyring, register: ConsentRegister, tmp_path: Path
) -> None:
    # GDPR marketing leaves out customers under 16; this table has no birth date.
    policy, table = load_policy("gdpr"), _customers()
    with pytest.raises(PolicyError, match="people="):
        masked_view(table, policy, "marketer", keys=keys, store=store)
    for name, minors in (("adults.csv", []), ("people.csv", ["c9", "c20"])):
        births = ["2015-06-01" if c in minors else "1980-06-01" for c in IDS]
        pacsv.write_csv(pa.table({"customer_id": IDS, "birth_date": births}), tmp_path / name)
    everyone = masked_view(
        table, policy, "marketer", keys=keys, consent=False, people=tmp_path / "adults.csv"
    )
    view = masked_view(
        table, policy, "marketer", keys=keys, store=store, people=tmp_path / "people.csv"
    )
    _shown(view, everyone, [c for c in IDS if c not in ("c9", "c20")])


def test_a_view_holds_what_a_release_holds(
    store: Store, keys: Keyring, register: ConsentRegister, tmp_path: Path
) -> None:
    # CCPA marketing: the register's sale_sharing refusals, the opt-out flag, minors by
    # birth date, all at once; the release and the view must be the same table.
    options = RetailOptions(orders_per_customer=0, sessions_per_customer=0, text=False)
    table = generate_retail(120, seed=3, options=options).tables["customers"]
    ids = table["customer_id"].to_pylist()
    _record(register, [str(c) for c in ids[1::5]], "sale_sharing", "refused", 1)
    pq.write_table(table, tmp_path / "customers.parquet")
    policy = load_policy("ccpa")
    anonymize_file(
        tmp_path / "customers.parquet",
        tmp_path / "out.parquet",
        policy=policy,
        purpose="marketing",
        role="marketer",
        store=store,
    )
    release = pq.read_table(tmp_path / "out.parquet")
    view = masked_view(table, policy, "marketer", keys=keys, store=store)
    assert view.num_rows <= len(ids) - len(ids[1::5])  # the refusals, at least, are out
    assert view.equals(release)
