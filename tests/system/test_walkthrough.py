"""An analyst's day, end to end through the real command line, on a fresh home.

Protect the shop's orders under a policy, ask a DP question with automatic bounds,
train a private recommender, give a customer their recommendations, evaluate the model
file, erase a customer, assess the protected table, and verify the audit log: each in
its own process, as a person at a terminal runs them, each output checked for sense.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from shopveil.data import bundled_online_retail, product_catalogue, write_table

pytestmark = pytest.mark.slow

CUSTOMER = "17850"  # in the bundled slice, with purchases before and after the split
POLICY = """\
shopveil_policy: 1
name: shop
extends: gdpr
columns:
  CustomerID:
    class: direct_identifier
    kind: customer_id
    technique: erasable_token
"""


def _run(folder: Path, *args: str, code: int = 0) -> str:
    env = {**os.environ, "SHOPVEIL_HOME": str(folder / "home"), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", "from shopveil.cli import main; main()", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == code, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Warning:" not in done.stderr, done.stderr
    return done.stdout


def _ids(path: Path) -> list[str | None]:
    options = pacsv.ConvertOptions(
        column_types={"CustomerID": pa.string()}, strings_can_be_null=True
    )
    return pacsv.read_csv(path, convert_options=options).column("CustomerID").to_pylist()


def _shop(folder: Path) -> pa.Table:
    orders = bundled_online_retail()
    earlier = pc.less(orders["InvoiceDate"], pa.scalar(datetime(2010, 12, 9)))
    write_table(orders, folder / "orders.csv")
    write_table(orders.filter(earlier), folder / "earlier.csv")
    write_table(orders.filter(pc.invert(earlier)), folder / "later.csv")
    write_table(product_catalogue(), folder / "catalogue.csv")
    (folder / "shop.yaml").write_text(POLICY)
    return orders


def test_protect_query_train_recommend_evaluate_erase_assess_audit(tmp_path: Path) -> None:
    orders = _shop(tmp_path)
    raw_ids = orders.column("CustomerID").to_pylist()

    # Protect: the customer id becomes an erasable pseudonym; nothing raw is left.
    protect = ["anonymize", "orders.csv", "--policy", "shop.yaml", "--purpose", "analytics"]
    shown = _run(tmp_path, *protect, "-o", "orders.safe.csv")
    assert "erasable_token" in shown and "named in shop.yaml" in shown
    released = _ids(tmp_path / "orders.safe.csv")
    assert len(released) == orders.num_rows
    assert not {i for i in raw_ids if i} & {t for t in released if t}
    theirs = {t for i, t in zip(raw_ids, released, strict=True) if i == CUSTOMER}
    assert len(theirs) == 1 and next(iter(theirs)).startswith("et1_")
    # Another copy of the orders, kept by the analyst (not registered): erasure below
    # must still make the customer's pseudonym impossible to recompute from it.
    shutil.copy(tmp_path / "orders.csv", tmp_path / "extract.csv")

    # Query: the steward registers the orders; automatic bounds, no bounds given.
    _run(tmp_path, "data", "add", "orders", "orders.csv", "--unit", "CustomerID",
         "--budget", "5,1e-5")  # fmt: skip
    sql = (
        "SELECT COUNT(DISTINCT CustomerID) AS customers, SUM(Quantity * UnitPrice) AS revenue "
        "FROM orders"
    )
    answer = json.loads(_run(tmp_path, "query", sql, "--data", "orders", "--epsilon", "1",
                             "--json"))  # fmt: skip
    people = len({i for i in raw_ids if i})
    customers, revenue = answer["rows"][0]["customers"], answer["rows"][0]["revenue"]
    assert abs(customers["value"] - people) < 0.05 * people  # C = 1: noise of scale 1/0.4
    assert customers["bias"] == 0 and not customers["flag"]
    true_revenue = sum(
        q * p
        for q, p, i in zip(
            orders["Quantity"].to_pylist(), orders["UnitPrice"].to_pylist(), raw_ids, strict=True
        )
        if i
    )
    assert revenue["low_with_bias"] <= true_revenue <= revenue["high_with_bias"]
    assert answer["cost"] == {"epsilon": 1.0} and "bounds_selection" in answer["budget_split"]
    assert any("clipped to" in note for note in answer["notes"])

    # Train a private recommender on the first days, then recommend without paying.
    _run(tmp_path, "train", "--data", "earlier.csv", "--catalogue", "catalogue.csv", "--model",
         "dp-cobuy", "--epsilon", "1", "-o", "recs.npz")  # fmt: skip
    recs = json.loads(_run(tmp_path, "recommend", "--model", "recs.npz", "--customer", CUSTOMER,
                           "--history", "earlier.csv", "--k", "5", "--json"))  # fmt: skip
    (entry,) = recs["customers"]
    assert entry["customer"] == CUSTOMER and entry["known"]
    assert [p["rank"] for p in entry["items"]] == [1, 2, 3, 4, 5]
    catalogue = dict(zip(*(product_catalogue().column(c).to_pylist() for c in (0, 1)), strict=True))
    assert all(p["description"] == catalogue[p["item"]] for p in entry["items"])

    # Evaluate the model file on the later days: metrics with DP noise, charged once.
    metrics = json.loads(_run(tmp_path, "evaluate", "--model-file", "recs.npz", "--test",
                              "later.csv", "--train", "earlier.csv", "--json"))  # fmt: skip
    assert metrics["private"] and metrics["evaluation_cost"]["epsilon"] == 0.5
    low, high = metrics["intervals"]["recall@20"]
    assert 0 <= low <= high <= 1

    # Erase the customer: their rows leave the registered file, and their pseudonym can
    # no longer be made from any copy.
    erased = _run(tmp_path, "erase", "--subject", CUSTOMER)
    assert "row(s) of the subject deleted from the registered file" in erased
    assert CUSTOMER not in {i for i in _ids(tmp_path / "orders.csv") if i}
    _run(tmp_path, *protect[:1], "extract.csv", *protect[2:], "-o", "extract.safe.csv")
    again = _ids(tmp_path / "extract.safe.csv")
    assert {t for i, t in zip(raw_ids, again, strict=True) if i == CUSTOMER} == {None}
    assert not theirs & set(again)
    others = [(a, b) for i, a, b in zip(raw_ids, released, again, strict=True) if i != CUSTOMER]
    assert all(a == b for a, b in others)  # everyone else keeps their pseudonym

    # Assess the protected table: figures, then a verdict against the gates.
    verdict = _run(tmp_path, "assess", "orders.safe.csv", "--qi", "Country,InvoiceDate",
                   "--k", "2")  # fmt: skip
    assert "overall: PASS" in verdict and "k >= 2" in verdict

    # Audit: the chain verifies and holds every step, in order.
    assert _run(tmp_path, "audit", "verify").startswith("verified")
    actions = [e["action"] for e in json.loads(_run(tmp_path, "audit", "show", "--json"))]
    steps = ["anonymize.run", "catalog.add", "dp.charge", "vault.erase", "catalog.erase_rows"]
    assert [a for a in actions if a in steps] == [
        "anonymize.run", "catalog.add", "dp.charge", "dp.charge", "dp.charge", "vault.erase",
        "catalog.erase_rows", "anonymize.run",
    ]  # fmt: skip
    charges = json.loads(_run(tmp_path, "audit", "show", "--json", "--action", "dp.charge"))
    whats = [c["details"]["what"] for c in charges]
    assert whats[0].startswith("query on orders") and "dp-cobuy" in whats[1]
    assert whats[2].startswith("evaluate")
