"""``shopveil report`` end to end: a k-anonymous Online Retail release and saved models."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from _purchases import purchases
from shopveil import open_workspace
from shopveil.learn import FitContext, NoSignalWarning, build_recommender, save_recommender

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv"
runner = CliRunner()


def _report(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["report", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_k_anonymous_release_is_scored_from_its_manifest_and_audit_event(
    tmp_path: Path,
) -> None:
    k_file = tmp_path / "k10.csv"
    made = runner.invoke(app, ["anonymize", str(SAMPLE), "-o", str(k_file), "--k", "10",
                               "--qi", "InvoiceDate,StockCode,Country"])  # fmt: skip
    assert made.exit_code == 0, made.output
    manifest = json.loads((tmp_path / "k10.csv.release.json").read_text())
    html = tmp_path / "report.html"
    aux = ["--original", str(SAMPLE), "--aux", "InvoiceDate,StockCode"]
    card = _report("--release", str(k_file), *aux, "-o", str(html))
    # No --qi: the release's own audit event names them.
    assert card["qi"] == ["InvoiceDate", "StockCode", "Country"]
    assert card["privacy"]["k"] >= 10 and card["passed"] is True
    assert card["audit_seqs"] == [manifest["audit_seq"]]
    assert card["records_of_processing"] == manifest["records_of_processing"]
    assert 0.0 < card["utility"]["ncp"] < 1.0

    raw = _report("--release", str(SAMPLE), "--qi", "InvoiceDate,StockCode,Country", *aux)
    assert raw["passed"] is False and raw["utility"]["ncp"] == 0.0
    assert raw["privacy"]["linkage_reidentified"] > card["privacy"]["linkage_reidentified"] + 0.2

    page = html.read_text()
    assert f"audit event <b>#{manifest['audit_seq']}</b>" in page
    assert card["verdict"] in page.replace("&#x27;", "'") and "<svg" in page


def _purchases_file(tmp_path: Path) -> Path:
    data = purchases(customers=160)
    path = tmp_path / "purchases.csv"
    rows = ["CustomerID,StockCode,InvoiceDate"] + [
        f"{data.user_ids[u]},{data.item_ids[i]},2011-01-01 10:00"
        for u, i in zip(data.users, data.items, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _saved(tmp_path: Path, name: str, epsilon: float | None, **options: object) -> Path:
    """Fit on the workspace's ledger (charged and audited as `shopveil train` does), save."""
    data = purchases(customers=160)
    config = build_recommender(name, epsilon, options)
    with open_workspace() as workspace, warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSignalWarning)
        fitted = config.fit(data, FitContext(ledger=workspace.ledger, dataset="purchases"))
    path = tmp_path / f"{name}.npz"
    return save_recommender(fitted, path, train=data, config=config, dataset="purchases")


def test_models_are_scored_against_als_with_their_leakage_and_ledger_charge(
    tmp_path: Path,
) -> None:
    data = _purchases_file(tmp_path)
    common = ["--data", str(data), "--shadows", "4", "--seed", "5", "--epsilons", "0.5,2,8"]
    private = _report("--model", str(_saved(tmp_path, "dp-als", 1.0)), *common,
                      "-o", str(tmp_path / "dp.html"))  # fmt: skip
    assert private["privacy"]["epsilon"] == 1.0
    assert private["privacy"]["epsilon_spent"] == 1.0 and len(private["audit_seqs"]) == 1
    assert abs(private["privacy"]["membership_auc"] - 0.5) < 0.1
    assert [p["epsilon"] for p in private["curve"]] == [0.5, 2.0, 8.0]
    assert {"recall@20", "ndcg@20", "coverage", "diversity"} <= set(private["utility"])
    assert private["baseline"]["model"] == "als"

    leaky = _report("--model", str(_saved(tmp_path, "als", None, factors=48, reg=0.01)), *common)
    assert leaky["privacy"]["epsilon"] is None and leaky["passed"] is False
    assert leaky["verdict"].startswith("NOT PRIVATE")
    assert leaky["privacy"]["membership_auc"] > private["privacy"]["membership_auc"] + 0.1
    # The dataset's ledger holds the private fit's charge alone: ALS charged nothing.
    assert leaky["curve"] == [] and leaky["privacy"]["epsilon_spent"] == 1.0


def test_a_model_without_privacy_metadata_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    bare = tmp_path / "bare.npz"
    meta = json.dumps({"format": 1, "kind": "als", "config": {}}).encode()
    np.savez(bare, __shopveil_model__=np.frombuffer(meta, dtype=np.uint8))
    out = tmp_path / "r.html"
    args = ["report", "--model", str(bare), "--data", str(SAMPLE), "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "no privacy metadata" in result.stderr
    assert not out.exists()


def test_a_release_without_quasi_identifiers_is_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--release", str(SAMPLE), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no quasi-identifiers declared" in result.stderr and "--qi" in result.stderr
    assert not out.exists() and not (tmp_path / "home").exists()
