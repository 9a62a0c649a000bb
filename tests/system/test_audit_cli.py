"""``shopveil audit show`` and ``shopveil audit verify`` end to end on a real SQLite store."""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from shopveil.data import bundled_online_retail, product_catalogue

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    rows = ["CustomerID,Country,Quantity"]
    rows += [f"{1000 + i % 200},{['FR', 'DE'][i % 2]},{1 + i % 5}" for i in range(1000)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _db() -> sqlite3.Connection:
    return sqlite3.connect(Path(os.environ["SHOPVEIL_HOME"]) / "shopveil.db")


def _history(orders: Path) -> None:
    unit = ["--unit", "CustomerID"]
    _ok(["budget", "set", "orders", *unit, "--epsilon", "2", "--actor", "[bold red]x[/] :smile:"])
    _ok(["budget", "set", "orders", *unit, "--epsilon", "0.5", "--analyst", "ann"])
    _ok(["query", "SELECT COUNT(*) FROM orders", "--data", str(orders), "--epsilon", "0.25",
         "--analyst", "ann", "--privacy-unit", "CustomerID"])  # fmt: skip


def test_show_prints_each_event_on_one_line_without_markup(orders: Path) -> None:
    _history(orders)
    lines = _ok(["audit", "show"]).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("1  ") and "  [bold red]x[/] :smile:  dp.budget_set  {" in lines[0]
    assert "  ann  dp.charge  " in lines[2] and '"request_id"' in lines[2]
    assert _ok(["audit", "show", "--action", "dp.charge"]).splitlines() == lines[2:]


def test_show_json_has_seq_at_actor_action_details(orders: Path) -> None:
    _history(orders)
    events = json.loads(_ok(["audit", "show", "--json", "--limit", "2"]))
    assert [e["seq"] for e in events] == [2, 3]
    assert all(sorted(e) == ["action", "actor", "at", "details", "seq"] for e in events)
    assert events[1]["details"]["cost"] == {"epsilon": 0.25, "delta": 0.0}
    assert events[1]["details"]["unit"] == "customer"
    assert json.loads(_ok(["audit", "show", "--json", "--action", "vault.erase"])) == []


def test_verify_reports_events_checkpoints_and_accounts(orders: Path) -> None:
    _history(orders)
    assert _ok(["audit", "verify"]) == "verified 3 events, 3 checkpoints, 1 ledger accounts\n"


def test_verify_fails_on_spending_given_back_in_the_database(orders: Path) -> None:
    _history(orders)
    with _db() as conn:
        conn.execute("UPDATE shopveil_dp_accounts SET spent_epsilon = 0")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        "error: ledger account 'orders' (customer) records less spending than "
        "its audited charges: budget was given back\n"
    )


def test_verify_fails_on_a_wiped_log(orders: Path) -> None:
    _history(orders)
    with _db() as conn:
        conn.execute("DELETE FROM shopveil_audit_events")
        conn.execute("DELETE FROM shopveil_meta WHERE key = 'audit_head'")
        conn.execute("DELETE FROM shopveil_dp_sub_budgets")
        conn.execute("DELETE FROM shopveil_dp_charges")
        conn.execute("DELETE FROM shopveil_dp_accounts")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "the audit log ends at seq 0 but a signed checkpoint" in result.stderr


def test_a_private_training_run_is_audited_and_verifies(tmp_path: Path) -> None:
    data, catalogue = tmp_path / "retail.csv", tmp_path / "catalogue.csv"
    pacsv.write_csv(bundled_online_retail(), data)
    pacsv.write_csv(product_catalogue(), catalogue)
    model = tmp_path / "model.npz"
    _ok(["train", "--data", str(data), "--model", "dp-popularity", "--epsilon", "0.5",
         "--catalogue", str(catalogue), "-o", str(model)])  # fmt: skip
    (charge,) = json.loads(_ok(["audit", "show", "--json", "--action", "dp.charge"]))
    assert charge["details"]["dataset"] == "retail"
    assert charge["details"]["cost"]["epsilon"] == 0.5
    assert _ok(["audit", "verify"]) == "verified 1 events, 1 checkpoints, 1 ledger accounts\n"


def test_bad_options_exit_2_and_write_nothing() -> None:
    result = runner.invoke(app, ["audit", "show", "--action", "no spaces"])
    assert result.exit_code == 2 and result.stderr.startswith("error: action must be")
    result = runner.invoke(app, ["audit", "show", "--limit", "-1"])
    assert (
        result.exit_code == 2
        and result.stderr == "error: --limit must be 0 or more, got -1; e.g. --limit 20\n"
    )
    assert not Path(os.environ["SHOPVEIL_HOME"]).exists()
    assert _ok(["audit", "verify"]) == "verified 0 events, 0 checkpoints, 0 ledger accounts\n"
