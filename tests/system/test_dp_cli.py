"""``shopveil query`` and ``shopveil budget``, end to end on a real SQLite store."""

from __future__ import annotations

import json
import re
import shlex
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    rows = ["CustomerID,Country,Quantity,UnitPrice"]
    countries = ["France", "Germany", "United Kingdom"]
    rows += [
        f"{1000 + i % 300}.0,{countries[i % 3]},{1 + i % 7},{1.5 + i % 5}" for i in range(3000)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_query_json_has_rows_with_intervals_and_budget_left(orders: Path) -> None:
    out = _json(
        [
            "query",
            "SELECT Country, COUNT(*) AS n, SUM(Quantity * UnitPrice) AS revenue FROM orders "
            "GROUP BY Country",
            "--data", str(orders), "--epsilon", "0.5",
            "--keys", "Country=France,Germany,United Kingdom",
            "--bounds", "revenue=0:100",
            "--privacy-unit", "CustomerID", "--max-contributions", "10",
            "--json",
        ]
    )  # fmt: skip
    assert [r["Country"] for r in out["rows"]] == ["France", "Germany", "United Kingdom"]
    cell = out["rows"][0]["n"]
    assert cell["low"] <= cell["value"] <= cell["high"]
    assert out["budget_left"] == {"epsilon": 0.5, "delta": 1e-6}
    assert out["default_budget"] is True
    assert out["unit"] == "customer"


def test_query_table_output_prints_intervals_budget_and_default_note(orders: Path) -> None:
    result = runner.invoke(
        app,
        ["query", "SELECT COUNT(*) FROM orders", "--data", str(orders), "--epsilon", "0.25",
         "--privacy-unit", "CustomerID"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "±" in result.stdout
    assert "budget left for orders" in result.stdout
    assert "default budget" in result.stdout


def test_budget_set_show_reset(orders: Path) -> None:
    result = runner.invoke(
        app, ["budget", "set", "orders", "--epsilon", "2", "--renewal", "monthly"]
    )
    assert result.exit_code == 0, result.output
    assert (
        runner.invoke(
            app, ["budget", "set", "orders", "--epsilon", "0.3", "--analyst", "ann"]
        ).exit_code
        == 0
    )
    args = ["query", "SELECT COUNT(*) FROM orders", "--data", str(orders), "--analyst", "ann",
            "--privacy-unit", "CustomerID"]  # fmt: skip
    assert runner.invoke(app, [*args, "--epsilon", "0.2"]).exit_code == 0
    refused = runner.invoke(app, [*args, "--epsilon", "0.2"])
    assert refused.exit_code == 1
    assert "analyst budget of 'ann'" in refused.stderr
    shown = _json(["budget", "show", "orders", "--json"])
    assert shown[0]["spent"] == {"epsilon": "0.2", "delta": "0"}
    assert shown[0]["renewal"] == "monthly"
    assert runner.invoke(app, ["budget", "reset", "orders"]).exit_code == 0
    assert _json(["budget", "show", "orders", "--json"])[0]["spent"] == {
        "epsilon": "0",
        "delta": "0",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELECT * FROM orders", "--epsilon", "1"], "raw rows"),
        (
            ["SELECT SUM(Quantity) FROM orders", "--epsilon", "1", "--max-contributions", "5"],
            "missing bounds",
        ),
        (
            ["SELECT MEDIAN(Quantity) FROM orders", "--epsilon", "1"],
            "automatic bounds cover COUNT",
        ),
        (["SELECT COUNT(*) FROM orders", "--epsilon", "0"], "epsilon must be > 0"),
        (["SELECT COUNT(*) FROM orders", "--epsilon", "-1"], "epsilon"),
        (["SELECT COUNT(*) FROM other", "--epsilon", "1"], "unknown table"),
        (["SELECT COUNT(*) FROM orders", "--epsilon", "1", "--bounds", "x"], "NAME=VALUE"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_charges_nothing(
    orders: Path, args: list[str], message: str
) -> None:
    unit = ["--privacy-unit", "CustomerID"]
    result = runner.invoke(app, ["query", args[0], "--data", str(orders), *unit, *args[1:]])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    shown = runner.invoke(app, ["budget", "show", "orders"])
    assert shown.exit_code == 2 and "unknown dataset" in shown.stderr


def test_exhausted_budget_is_refused_before_running(orders: Path) -> None:
    base = ["query", "SELECT COUNT(*) FROM orders", "--data", str(orders)]
    base += ["--privacy-unit", "CustomerID"]
    assert runner.invoke(app, [*base, "--epsilon", "0.9"]).exit_code == 0
    refused = runner.invoke(app, [*base, "--epsilon", "0.2"])
    assert refused.exit_code == 1 and "Nothing was charged" in refused.stderr
    left = _json(["budget", "show", "orders", "--json"])[0]["left"]["epsilon"]
    assert left == "0.1"  # 1 - 0.9 is 0.09999999999999998 in floats


def test_query_takes_bounds_unit_and_default_budget_from_a_policy_and_audits(
    orders: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "retail.yaml"
    policy.write_text(
        "shopveil_policy: 1\nname: retail\nextends: gdpr\ndp:\n"
        "  bounds:\n    Quantity: [0, 5]\n    UnitPrice: [0, 3]\n"
        "  privacy_unit: {column: CustomerID, max_contributions: 10}\n"
        "  default_budget: {epsilon: 4.0}\n"
    )
    out = _json(
        [
            "query", "SELECT SUM(Quantity) AS units, SUM(UnitPrice) AS price FROM orders",
            "--data", str(orders), "--epsilon", "0.5", "--policy", str(policy),
            "--bounds", "price=0:2", "--purpose", "analytics", "--json",
        ]
    )  # fmt: skip
    assert out["unit"] == "customer"
    # The policy gave ε alone: δ is the default, so releases that need δ can run.
    assert out["budget_total"] == {"epsilon": 4.0, "delta": 1e-6}
    assert out["budget_left"] == {"epsilon": 3.5, "delta": 1e-6}
    notes = " | ".join(out["notes"])
    assert f"units: values clamped to [0, 5] (bounds from policy 'retail' ({policy}:6))" in notes
    assert "price: values clamped to [0, 2] (bounds given with the query)" in notes
    refused = runner.invoke(
        app,
        ["query", "SELECT COUNT(*) FROM orders", "--data", str(orders), "--epsilon", "0.1",
         "--policy", str(policy), "--purpose", "support"],
    )  # fmt: skip
    assert refused.exit_code != 0 and "does not allow aggregate" in refused.output

    from shopveil.audit import AuditLog
    from shopveil.keys import Keyring
    from shopveil.store import Store

    store = Store.open()
    try:
        audit = AuditLog(store, Keyring.open(store))
        (event,) = audit.events(action="dp.charge")
        assert event.details["request_id"] == out["request_id"]
        assert event.details["purpose"] == "analytics"
        assert audit.verify() == 1
    finally:
        store.close()


def test_a_bad_bound_in_the_policy_names_file_and_line(orders: Path, tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("shopveil_policy: 1\nname: bad\ndp:\n  bounds:\n    Quantity: [5, 0]\n")
    result = runner.invoke(
        app,
        ["query", "SELECT SUM(Quantity) FROM orders", "--data", str(orders), "--epsilon", "0.1",
         "--policy", str(policy)],
    )  # fmt: skip
    assert result.exit_code != 0
    assert f"{policy}:5: dp.bounds.Quantity is [5, 0]" in " ".join(result.output.split())


_GROUPED = ["query", "SELECT Country, COUNT(*) AS n FROM orders GROUP BY Country",
            "--privacy-unit", "CustomerID", "--epsilon", "0.3"]  # fmt: skip


def test_a_budget_set_with_epsilon_alone_admits_privately_chosen_keys(orders: Path) -> None:
    """δ defaults to 1e-6, so the docs' GROUP BY queries (keys chosen privately) run."""
    result = runner.invoke(app, ["budget", "set", "orders", "--epsilon", "1"])
    assert result.exit_code == 0, result.output
    assert "total ε=1, δ=1e-06" in result.stdout
    assert "default δ=1e-06" in result.stdout and "--delta 0 for pure ε-DP" in result.stdout
    out = _json([*_GROUPED, "--data", str(orders), "--json"])
    assert out["budget_left"] == {"epsilon": pytest.approx(0.7), "delta": pytest.approx(0.99e-6)}
    # The docs' per-customer example, with its own δ.
    out = _json(
        ["query", "SELECT Country, SUM(Quantity * UnitPrice) AS revenue FROM orders "
         "GROUP BY Country", "--data", str(orders), "--epsilon", "0.5", "--bounds",
         "revenue=0:100", "--privacy-unit", "CustomerID", "--max-contributions", "20",
         "--delta", "1e-7", "--json"]
    )  # fmt: skip
    assert "partition_selection" in dict(out["budget_split"])


def test_a_pure_budget_is_asked_for_with_delta_zero_and_refuses_what_needs_delta(
    orders: Path,
) -> None:
    result = runner.invoke(app, ["budget", "set", "orders", "--epsilon", "1", "--delta", "0"])
    assert result.exit_code == 0 and "total ε=1," in result.stdout and "δ" not in result.stdout
    refused = runner.invoke(app, [*_GROUPED, "--data", str(orders)])
    assert refused.exit_code == 2 and "needs δ > 0" in refused.stderr


def test_a_sub_budget_with_epsilon_alone_keeps_the_accounts_delta(orders: Path) -> None:
    assert runner.invoke(app, ["budget", "set", "orders", "--epsilon", "2"]).exit_code == 0
    result = runner.invoke(app, ["budget", "set", "orders", "--epsilon", "0.5", "--analyst", "ann"])
    assert result.exit_code == 0 and "the account's δ" in result.stdout
    out = _json([*_GROUPED, "--data", str(orders), "--analyst", "ann", "--json"])
    assert "partition_selection" in dict(out["budget_split"])


def test_budget_set_help_names_the_defaults() -> None:
    result = runner.invoke(app, ["budget", "set", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "[default: 1e-6, below 1/n for fewer than a million people" in text
    assert "0 is pure ε-DP" in text


def test_data_add_with_epsilon_alone_admits_privately_chosen_keys(orders: Path) -> None:
    added = runner.invoke(
        app, ["data", "add", "shop", str(orders), "--unit", "CustomerID", "--budget", "1"]
    )
    assert added.exit_code == 0, added.output
    assert "budget per person ε=1, δ=1e-06" in " ".join(added.stdout.split())
    out = _json(
        ["query", "SELECT Country, COUNT(*) AS n FROM shop GROUP BY Country", "--data", "shop",
         "--epsilon", "0.3", "--json"]
    )  # fmt: skip
    assert "partition_selection" in dict(out["budget_split"])


def test_data_add_notes_a_delta_that_is_not_below_one_over_n(orders: Path) -> None:
    added = runner.invoke(
        app, ["data", "add", "shop", str(orders), "--unit", "CustomerID", "--budget", "1,0.01"]
    )
    assert added.exit_code == 0, added.output
    note = " ".join(added.stderr.split())
    assert "δ=0.01 is not below 1/n for these 300 people" in note
    suggested = re.search(r"`shopveil ([^`]+)`", note)
    assert suggested is not None and suggested.group(1).endswith("--delta 0.0001")
    assert runner.invoke(app, shlex.split(suggested.group(1))).exit_code == 0
    (shown,) = _json(["budget", "show", "shop", "--json"])
    assert shown["total"] == {"epsilon": "1", "delta": "0.0001"}


def test_budget_show_json_gives_exact_decimal_strings(orders: Path) -> None:
    query = ["query", "SELECT COUNT(*) FROM orders", "--data", str(orders),
             "--privacy-unit", "CustomerID", "--epsilon", "0.1"]  # fmt: skip
    for _ in range(3):  # the ledger's float sum is 0.30000000000000004
        assert runner.invoke(app, query).exit_code == 0
    (shown,) = _json(["budget", "show", "orders", "--json"])
    assert shown["spent"] == {"epsilon": "0.3", "delta": "0"}
    assert shown["left"] == {"epsilon": "0.7", "delta": "0.000001"}
    assert shown["total"] == shown["people"]["budget_per_person"]
    assert shown["people"]["most_spent_by_one_person"] == {"epsilon": "0.3", "delta": "0"}
    assert [c["cost"] for c in shown["charges"]] == [{"epsilon": "0.1", "delta": "0"}] * 3
    text = runner.invoke(app, ["budget", "show", "orders"]).stdout
    assert "spent ε=0.3, δ=0, left ε=0.7, δ=1e-06" in text


def test_budget_show_json_keeps_a_tiny_delta(orders: Path) -> None:
    set_ = ["budget", "set", "orders", "--epsilon", "1", "--delta", "1.5e-13"]
    assert runner.invoke(app, set_).exit_code == 0
    (shown,) = _json(["budget", "show", "orders", "--json"])
    assert shown["total"] == {"epsilon": "1", "delta": "0.00000000000015"}


def test_without_bounds_the_query_chooses_them_and_explains_its_split(orders: Path) -> None:
    args = [
        "query",
        "SELECT Country, SUM(Quantity * UnitPrice) AS revenue FROM orders GROUP BY Country",
        "--data", str(orders), "--epsilon", "1", "--privacy-unit", "CustomerID",
        "--keys", "Country=France,Germany,United Kingdom",
    ]  # fmt: skip
    budget = ["budget", "set", "orders", "--epsilon", "10", "--unit", "CustomerID"]
    assert runner.invoke(app, budget).exit_code == 0
    # Wide enough that no header wraps, whatever widths the noisy values take.
    shown = runner.invoke(app, [*args, "--explain"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    assert "revenue: bias → interval with bias" in shown.stdout
    assert "ε = 1 for the whole query, split before any data is read:" in shown.stdout
    assert "choosing the bounds: ε=0.2" in shown.stdout
    assert "revenue: ε=0.68 for the value, ε=0.12" in shown.stdout
    assert "clipped to" in shown.stdout
    out = _json([*args, "--json"])
    cell = out["rows"][0]["revenue"]
    assert cell["low_with_bias"] <= cell["value"] + cell["bias"] <= cell["high_with_bias"]
    assert isinstance(cell["flag"], bool)
    assert out["budget_split"]["bounds_selection"] == 0.2
    assert out["explain"][0].startswith("ε = 1")
    # Given bounds and a row cap, the query is answered as before: no bias estimate.
    manual = _json([*args, "--bounds", "revenue=0:50", "--max-contributions", "5", "--json"])
    assert "bias" not in manual["rows"][0]["revenue"]
    assert "bounds_selection" not in manual["budget_split"]
