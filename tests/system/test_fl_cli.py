"""``shopveil fl simulate`` end to end on a generated file in the Online Retail layout."""

from __future__ import annotations

import csv
import json
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
CONTRACT = {"auc", "central_auc", "rounds", "bytes_per_round"}


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 customers in 3 countries buying from 2010-12 to 2011-09; half stop in June."""
    rng = np.random.default_rng(11)
    path = tmp_path_factory.mktemp("fl") / "retail.csv"
    start = datetime(2010, 12, 1, 9)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                      "UnitPrice", "CustomerID", "Country"])  # fmt: skip
        invoice = 540000
        for c in range(240):
            country = ("United Kingdom", "Germany", "France")[c % 7 % 3]
            churns = rng.random() < 0.5
            last = 200 if churns else 300
            days = np.sort(rng.uniform(0 if churns else 60, last, rng.integers(2, 12)))
            for day in days:
                invoice += 1
                when = start + timedelta(days=float(day))
                for _ in range(rng.integers(1, 4)):
                    item, quantity = f"8{rng.integers(1000, 1100)}", int(rng.integers(1, 12))
                    price, stamp = f"{rng.uniform(0.5, 9):.2f}", f"{when:%Y-%m-%d %H:%M:%S}"
                    out.writerow([invoice, item, "ITEM", quantity, stamp, price, f"{13000 + c}.0",
                                  country])  # fmt: skip
    return path


def test_simulate_prints_one_json_object(retail: Path) -> None:
    result = runner.invoke(
        app, ["fl", "simulate", "--data", str(retail), "--rounds", "3", "--json",
              "--compress", "quantize:4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= CONTRACT
    assert out["rounds"] == 3 and out["clients"] == 3
    assert 0.5 < out["central_auc"] <= 1 and 0 <= out["auc"] <= 1
    assert out["bytes_per_round"] == 3 * (5 + 4)  # ten 4-bit codes and a float16 range each


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--partition", "region"], "--partition"),
        (["--compress", "topk:many"], "--compress"),
        (["--model", "recommender"], "--model"),
        (["--dp-epsilon", "-1"], "--dp-epsilon"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(retail: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["fl", "simulate", "--data", str(retail), *args, "--json"])
    assert result.exit_code == 2
    assert named in result.output
    assert result.stdout.count("\n") <= 1
