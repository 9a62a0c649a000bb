"""The budget follows people: no copy, subset, re-encoding or new name buys a fresh budget.

End to end through the command line, on the bundled Online Retail slice, in a fresh home:
the steward registers ``orders``, a DP recommender spends ε = 0.6 of every customer's
budget of 1, and then every way of asking about the same customers again at ε = 0.6 is
refused or answered without them (``COUNT(DISTINCT CustomerID)`` near 0, not ~500).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from shopveil.data import bundled_online_retail, product_catalogue

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn.NoSignalWarning")

runner = CliRunner()
COUNT = "SELECT COUNT(DISTINCT CustomerID) AS n FROM {table}"
# A count of distinct customers at ε = 0.6 has noise of scale 1/0.6: 30 is far beyond it,
# and far below the ~500 customers of the slice.
NEAR_ZERO = 30


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def shop(tmp_path: Path) -> dict[str, Path]:
    """orders.csv registered as ``orders``; a dp-cobuy model already spent ε = 0.6."""
    files = {"orders": tmp_path / "orders.csv", "catalogue": tmp_path / "catalogue.csv"}
    table = bundled_online_retail()
    pacsv.write_csv(table, files["orders"])
    pacsv.write_csv(product_catalogue(), files["catalogue"])
    _ok(["data", "add", "orders", str(files["orders"]), "--unit", "CustomerID"])
    _ok(
        ["train", "--data", str(files["orders"]), "--model", "dp-cobuy", "--epsilon", "0.6",
         "--catalogue", str(files["catalogue"]), "-o", str(tmp_path / "model.npz")]
    )  # fmt: skip
    return files


def _refused_or_without_them(path: Path, table: str, *extra: str) -> None:
    result = runner.invoke(
        app,
        ["query", COUNT.format(table=table), "--data", str(path), "--epsilon", "0.6", "--json",
         *extra],
    )  # fmt: skip
    if result.exit_code == 1:
        assert "Nothing was charged" in result.stderr
        return
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert abs(answer["rows"][0]["n"]["value"]) < NEAR_ZERO


def _variants(shop: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    table = pacsv.read_csv(shop["orders"])
    out = {"copy": tmp_path / "copy.csv", "half": tmp_path / "half.csv"}
    shutil.copy(shop["orders"], out["copy"])
    pacsv.write_csv(table.slice(0, table.num_rows // 2), out["half"])
    out["parquet"] = tmp_path / "orders_pq.parquet"
    pq.write_table(table, out["parquet"])
    out["shuffled"] = tmp_path / "shuffled.csv"
    order = pa.array(list(range(table.num_rows - 1, -1, -1)))
    pacsv.write_csv(table.take(order), out["shuffled"])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("unit", [[], ["--privacy-unit", "CustomerID"]])
def test_no_copy_subset_conversion_or_name_buys_a_fresh_budget(
    shop: dict[str, Path], tmp_path: Path, unit: list[str]
) -> None:
    _refused_or_without_them(shop["orders"], "orders", *unit)
    _refused_or_without_them(shop["orders"], "anything", "--table", "anything", *unit)
    for name, path in _variants(shop, tmp_path).items():
        table = path.name.split(".")[0]
        _refused_or_without_them(path, table, *unit)
        _refused_or_without_them(path, f"{name}2", "--table", f"{name}2", *unit)


@pytest.mark.slow
def test_an_unregistered_file_used_twice_under_two_names(tmp_path: Path) -> None:
    first, second = tmp_path / "people_a.csv", tmp_path / "people_b.csv"
    pacsv.write_csv(bundled_online_retail(), first)
    shutil.copy(first, second)
    args = ["--epsilon", "0.6", "--privacy-unit", "CustomerID", "--json"]
    answer = json.loads(_ok(["query", COUNT.format(table="people_a"), "--data", str(first), *args]))
    assert answer["rows"][0]["n"]["value"] > 300  # everyone paid the first time
    again = json.loads(_ok(["query", COUNT.format(table="people_b"), "--data", str(second), *args]))
    assert abs(again["rows"][0]["n"]["value"]) < NEAR_ZERO
    assert "left out" in " ".join(again["notes"])


@pytest.mark.slow
def test_every_charge_is_one_audit_event_and_the_budget_shows_people(
    shop: dict[str, Path], tmp_path: Path
) -> None:
    _ok(
        ["evaluate", "--data", str(shop["orders"]), "--split-at", "2010-12-09", "--model",
         "dp-popularity", "--epsilon", "0.1", "--catalogue", str(shop["catalogue"]), "--json"]
    )  # fmt: skip
    _ok(["query", COUNT.format(table="orders"), "--data", "orders", "--epsilon", "0.1"])
    charges = json.loads(_ok(["audit", "show", "--json", "--action", "dp.charge"]))
    assert [c["details"]["dataset"] for c in charges] == ["orders"] * 3
    whats = " ".join(c["details"]["what"] for c in charges)
    assert "dp-cobuy" in whats and "dp-popularity" in whats and "query on orders" in whats
    actions = [e["action"] for e in json.loads(_ok(["audit", "show", "--json"]))]
    assert "catalog.add" in actions and "dp.budget_set" in actions
    assert _ok(["audit", "verify"]).startswith("verified")
    (shown,) = json.loads(_ok(["budget", "show", "orders", "--json"]))
    most = shown["people"]["most_spent_by_one_person"]["epsilon"]
    assert shown["registered"] and most == "0.8"
    # dp-cobuy spent every customer's whole δ = 1e-6: all ~500 are exhausted for δ > 0.
    assert shown["people"]["people_exhausted"] == "100-999"
    assert len(shown["charges"]) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "SELECT COUNT(*) FROM x", "--data", "nosuch", "--epsilon", "1"], "nosuch"),
        (["data", "show", "nosuch"], "unknown dataset 'nosuch'"),
        (["data", "add", "x", "{orders}", "--unit", "Nope"], "no column 'Nope'"),
        (["data", "add", "x", "{mixed}", "--unit", "CustomerID"], "mixes whole-number ids"),
        (["data", "add", "x", "{orders}", "--unit", "CustomerID", "--budget", "one"], "EPSILON"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_charges_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    orders, mixed = tmp_path / "orders.csv", tmp_path / "mixed.csv"
    pacsv.write_csv(bundled_online_retail().slice(0, 200), orders)
    mixed.write_text("CustomerID,Quantity\n17850,1\nC-17851,2\n")
    args = [a.format(orders=orders, mixed=mixed) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert json.loads(_ok(["budget", "show", "--json"])) == []
    assert json.loads(_ok(["data", "list", "--json"])) == []


@pytest.mark.parametrize("spelling", ["17850", "17850.0", " 17850"])
def test_erasure_deletes_the_customers_rows_from_registered_data(
    tmp_path: Path, spelling: str
) -> None:
    orders = tmp_path / "orders.csv"
    table = bundled_online_retail()
    pacsv.write_csv(table, orders)
    before = pacsv.read_csv(orders, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    theirs = sum(1 for v in before.column("CustomerID").to_pylist() if v == 17850.0)
    assert theirs > 0
    _ok(["data", "add", "orders", str(orders), "--unit", "CustomerID"])
    out = _ok(["erase", "--subject", spelling])
    assert f"orders: {theirs} row(s)" in out
    after = pacsv.read_csv(orders)
    assert 17850.0 not in after.column("CustomerID").to_pylist()
    assert after.num_rows == before.num_rows - theirs
    shown = json.loads(_ok(["data", "show", "orders", "--json"]))
    assert shown["rows"] == after.num_rows
    (event,) = json.loads(_ok(["audit", "show", "--json", "--action", "catalog.erase_rows"]))
    assert event["details"] == {"name": "orders", "rows_removed": theirs}


def test_counting_unregistered_data_by_a_column_that_is_not_a_person_is_refused(
    tmp_path: Path,
) -> None:
    """Per invoice, no customer would pay: the same people under another name."""
    orders = tmp_path / "orders.csv"
    pacsv.write_csv(bundled_online_retail(), orders)
    args = ["query", COUNT.format(table="orders"), "--data", str(orders), "--epsilon", "0.6"]
    _ok([*args, "--privacy-unit", "CustomerID"])
    for other in ("InvoiceNo", "Country"):
        refused = runner.invoke(app, [*args, "--privacy-unit", other])
        assert refused.exit_code == 2 and "holds customer ids" in refused.stderr
    (charge,) = json.loads(_ok(["audit", "show", "--json", "--action", "dp.charge"]))
    assert charge["details"]["people_charged"] > 300
