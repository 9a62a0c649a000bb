"""``shopveil tune table`` and ``shopveil tune recommender``, end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from _purchases import purchases

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
ADULT = Path(__file__).resolve().parents[1] / "data" / "adult"


def _adult(tmp_path: Path) -> Path:
    lines = (ADULT / "adult_slice.csv").read_text().splitlines()[:601]
    path = tmp_path / "adult.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tune_table_prints_the_recommendation_as_json(tmp_path: Path) -> None:
    args = ["tune", "table", str(_adult(tmp_path)), "--k", "5", "--qi", "sex,age,race"]
    args += ["--hierarchies", str(ADULT), "--suppression", "0,0.02", "--k-factors", "1,2"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["recommended"]["min_class_size"] >= 5
    assert out["recommended"]["ncp"] <= out["best_default"]["ncp"]
    assert len(out["candidates"]) == 8  # 2 ks × (2 Mondrian modes + 2 suppression limits)
    assert out["front"]


def test_tune_table_without_quasi_identifiers_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tune", "table", str(_adult(tmp_path)), "--k", "5"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "quasi-identifiers" in result.stderr


def _purchases_file(tmp_path: Path) -> Path:
    data = purchases(customers=80)
    path = tmp_path / "purchases.csv"
    lines = ["CustomerID,StockCode,InvoiceDate"]
    lines += [
        f"{data.user_ids[u]},{data.item_ids[i]},2011-01-{1 + n % 28:02d} 10:00"
        for n, (u, i) in enumerate(zip(data.users, data.items, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tune_recommender_prints_the_search(tmp_path: Path) -> None:
    args = ["tune", "recommender", "--data", str(_purchases_file(tmp_path)), "--model", "als"]
    result = runner.invoke(app, [*args, "--grid", "factors=4,8", "--grid", "reg=1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["fits"] == 3  # the grid's two points and the defaults
    assert out["epsilon_charged"] == 0
    assert out["recommended"]["value"] >= out["default"]["value"]


def test_a_model_file_without_privacy_metadata_is_one_line(tmp_path: Path) -> None:
    bare = tmp_path / "bare.npz"
    meta = json.dumps({"format": 1, "kind": "als", "config": {}}).encode()
    np.savez(bare, __shopveil_model__=np.frombuffer(meta, dtype=np.uint8))
    args = ["tune", "recommender", "--data", str(_purchases_file(tmp_path))]
    result = runner.invoke(app, [*args, "--model-file", str(bare), "--json"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "privacy metadata" in result.stderr


def test_a_private_search_charges_the_workspace_ledger_once_per_fit(tmp_path: Path) -> None:
    from shopveil._workspace import open_workspace
    from shopveil.learn import CUSTOMER

    catalogue = tmp_path / "items.csv"
    catalogue.write_text(
        "StockCode,Description\n" + "".join(f"i{k:03d},item {k}\n" for k in range(80))
    )
    args = ["tune", "recommender", "--data", str(_purchases_file(tmp_path)), "--model", "dp-als"]
    args += ["--epsilon", "1", "--catalogue", str(catalogue), "--grid", "rank=2,4", "--json"]
    refused = runner.invoke(app, args)  # 2 fits at ε = 1 against the default ε = 1 per person
    assert refused.exit_code == 2 and "has ε = 1, δ = 1e-06 left" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0
    budget = [
        "budget",
        "set",
        "purchases",
        "--epsilon",
        "10",
        "--delta",
        "1e-5",
        "--unit",
        "customer",
    ]
    assert runner.invoke(app, budget).exit_code == 0
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    workspace = open_workspace(None)
    try:
        history = workspace.ledger.history("purchases", CUSTOMER, limit=100)
    finally:
        workspace.close()
    ids = [i for c in out["candidates"] for i in c["request_ids"]]
    assert out["fits"] == 2 and out["epsilon_charged"] == 2.0
    assert sorted(r.request_id for r in history) == sorted(ids)
