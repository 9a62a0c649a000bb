"""``shopveil fl vertical``, and ``fl simulate --homomorphic-aggregation``, end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

pytest.importorskip("nacl", reason="the fl extra (PyNaCl) is not installed")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

from _retail_files import write_retail

runner = CliRunner()


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_retail(tmp_path_factory.mktemp("flv") / "retail.csv", 240, seed=11)


def test_vertical_prints_both_aucs(retail: Path) -> None:
    result = runner.invoke(
        app, ["fl", "vertical", "--data", str(retail), "--epochs", "3", "--json",
              "--partner-columns", "recency_days,frequency"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["partner_columns"] == ["recency_days", "frequency"]
    assert "recency_days" not in out["retailer_columns"]
    assert out["common_customers"] == out["train"] + out["test"]
    assert out["common_customers"] < out["retailer_customers"]
    assert 0 <= out["auc"] <= 1 and 0 <= out["central_auc"] <= 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--partner-columns", "income"], "--partner-columns"),
        (["--share", "0"], "--share"),
        (["--epochs", "0"], "--epochs"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(retail: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["fl", "vertical", "--data", str(retail), *args, "--json"])
    assert result.exit_code == 2
    assert named in result.output
    assert result.stdout.count("\n") <= 1


def test_simulate_with_homomorphic_aggregation(retail: Path) -> None:
    pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")
    args = ["fl", "simulate", "--data", str(retail), "--rounds", "2", "--json"]
    result = runner.invoke(app, [*args, "--homomorphic-aggregation"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["bytes_per_round"] == out["clients"] * 512  # one ciphertext per client
    both = runner.invoke(app, [*args, "--homomorphic-aggregation", "--secure-aggregation"])
    assert both.exit_code == 2 and "drop --secure-aggregation" in both.output
