"""Role-based dynamic masking: one table, a view per role, in Python and in DuckDB."""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from shopveil.data import RetailOptions, generate_retail
from shopveil.errors import AccessDenied, ParameterError
from shopveil.keys import Keyring
from shopveil.pipeline._dynamic import create_masked_view, masked_view
from shopveil.policy import load_policy
from shopveil.pseudo import luhn_valid
from shopveil.store import Store

duckdb = pytest.importorskip("duckdb")

pytestmark = pytest.mark.slow

DIRECT = ["name", "email", "phone", "street_address", "card_number", "ip_address"]


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    options = RetailOptions(orders_per_customer=0, sessions_per_customer=0, text=False)
    return generate_retail(300, seed=2, options=options).tables["customers"]


@pytest.fixture
def keys(store: Store) -> Keyring:
    return Keyring.open(store, master_key=secrets.token_bytes(32))


def _clear_values(view: pa.Table, table: pa.Table) -> list[str]:
    """Direct-identifier columns of ``view`` that still hold any original value."""
    leaked = []
    for column in DIRECT:
        if column in view.column_names:
            shown = set(view[column].drop_null().to_pylist())
            if shown & set(table[column].drop_null().to_pylist()):
                leaked.append(column)
    return leaked


def test_each_role_sees_only_its_view(customers: pa.Table, keys: Keyring, store: Store) -> None:
    policy = load_policy("gdpr")
    before = customers.combine_chunks()
    analyst = masked_view(customers, policy, "analyst", keys=keys, store=store)
    marketer = masked_view(customers, policy, "marketer", keys=keys, store=store)
    support = masked_view(
        customers, policy, "support_agent", purpose="support", keys=keys, store=store
    )
    assert analyst.num_rows == marketer.num_rows == customers.num_rows
    assert _clear_values(analyst, customers) == []
    assert _clear_values(marketer, customers) == []
    assert "name" in support.column_names and _clear_values(support, customers)
    # Tokens of one customer differ between the analyst's and the marketer's purposes.
    assert not set(analyst["customer_id"].to_pylist()) & set(marketer["customer_id"].to_pylist())
    assert customers.equals(before)  # the stored table is unchanged


def test_duckdb_views_match_the_python_call(
    customers: pa.Table, keys: Keyring, store: Store
) -> None:
    policy = load_policy("gdpr")
    con = duckdb.connect()
    con.register("customers_arrow", customers)
    con.execute("CREATE TABLE customers AS SELECT * FROM customers_arrow")
    for role in ("analyst", "marketer"):
        view = create_masked_view(con, "customers", policy, role, keys=keys, store=store)
        got = con.sql(f"SELECT * FROM {view}").to_arrow_table()
        expected = masked_view(customers, policy, role, keys=keys, store=store)
        assert got.column_names == expected.column_names
        for column in expected.column_names:
            assert got[column].to_pylist() == expected[column].to_pylist(), column
    # The view follows its table: a new row appears, masked.
    con.execute("INSERT INTO customers SELECT * FROM customers_arrow LIMIT 1")
    count = con.execute("SELECT count(*) FROM customers_marketer").fetchall()[0][0]
    assert count == customers.num_rows + 1


def test_refusals(customers: pa.Table, keys: Keyring, store: Store) -> None:
    policy = load_policy("gdpr")
    with pytest.raises(ParameterError, match="pass purpose="):
        masked_view(customers, policy, "support_agent", keys=keys, store=store)
    with pytest.raises(AccessDenied):
        masked_view(customers, policy, "marketer", purpose="support", keys=keys, store=store)
    con = duckdb.connect()
    with pytest.raises(ParameterError, match="identifier"):
        create_masked_view(
            con, "customers; DROP TABLE x", policy, "analyst", keys=keys, store=store
        )


POLICY = """\
shopveil_policy: 1
name: shop
extends: gdpr
columns:
  card_number:
    class: direct_identifier
    kind: card_number
    technique: mask_card
    purposes:
      fulfilment: {technique: fpe, params: {luhn: true}}
  email: {class: direct_identifier, kind: email, technique: mask_email}
  phone: {class: direct_identifier, kind: phone, technique: fpe, params: {keep_first: 2}}
  postcode:
    class: quasi_identifier
    kind: postcode
    technique: generalize_postcode
    params: {level: district}
"""


def test_a_policy_file_using_the_new_techniques(
    customers: pa.Table, keys: Keyring, store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(POLICY)
    policy = load_policy(path)
    support = masked_view(
        customers, policy, "support_agent", purpose="support", keys=keys, store=store
    )
    fulfilment = masked_view(
        customers, policy, "support_agent", purpose="fulfilment", keys=keys, store=store
    )
    cards = customers["card_number"].to_pylist()
    assert [c[-4:] for c in cards] == [c[-4:] for c in support["card_number"].to_pylist()]
    assert all(c.startswith("************") for c in support["card_number"].to_pylist())
    encrypted = fulfilment["card_number"].to_pylist()
    assert all(len(e) == 16 and e.isdigit() for e in encrypted) and encrypted != cards
    digits = np.array([[int(ch) for ch in e] for e in encrypted])
    assert luhn_valid(digits).all()
    assert all(e.startswith("***@") for e in support["email"].to_pylist())
    uk = [i for i, c in enumerate(customers["country"].to_pylist()) if c == "United Kingdom"]
    outward = [customers["postcode"][i].as_py().split(" ")[0] for i in uk]
    assert [support["postcode"][i].as_py() for i in uk] == outward
