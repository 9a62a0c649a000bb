"""``shopveil fl simulate`` end to end on a generated file in the Online Retail layout."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

from _retail_files import write_retail

runner = CliRunner()
CONTRACT = {"auc", "central_auc", "rounds", "bytes_per_round"}


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_retail(tmp_path_factory.mktemp("fl") / "retail.csv", 240, seed=11)


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


def test_recommender_prints_recall_next_to_central(retail: Path) -> None:
    result = runner.invoke(
        app, ["fl", "simulate", "--data", str(retail), "--model", "recommender", "--rounds",
              "2", "--strategy", "personalized", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= {"recall@20", "ndcg@20", "central_recall@20", "central_ndcg@20",
                        "rounds", "bytes_per_round", "per_country"}  # fmt: skip
    assert out["model"] == "recommender" and out["rounds"] == 2 and out["clients"] == 3
    assert 0 <= out["recall@20"] <= 1 and 0 < out["central_recall@20"] <= 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--partition", "region"], "--partition"),
        (["--compress", "topk:many"], "--compress"),
        (["--model", "ranker"], "--model"),
        (["--strategy", "personalized", "--partition", "customer"], "--strategy"),
        (["--dp-epsilon", "-1"], "--dp-epsilon"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(retail: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["fl", "simulate", "--data", str(retail), *args, "--json"])
    assert result.exit_code == 2
    assert named in result.output
    assert result.stdout.count("\n") <= 1


def test_a_file_without_the_label_window_is_refused() -> None:
    """The Online Retail sample ends in December 2010: every customer churns."""
    path = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv"
    result = runner.invoke(app, ["fl", "simulate", "--data", str(path), "--json"])
    assert result.exit_code == 2
    assert "nothing to learn" in result.output


def test_customers_who_object_take_no_part(retail: Path, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    ids = sorted({str(int(c)) for c in pacsv.read_csv(retail).column("CustomerID").to_pylist()
                  if c is not None})  # fmt: skip
    args = ["fl", "simulate", "--data", str(retail), "--rounds", "1", "--partition",
            "customer", "--json"]  # fmt: skip
    everyone = runner.invoke(app, args)
    assert everyone.exit_code == 0, everyone.output
    assert json.loads(everyone.stdout)["clients"] > 20
    objections = tmp_path / "objections.csv"
    objections.write_text(
        "customer,purpose,status\n" + "".join(f"{c},personalization,refused\n" for c in ids[20:])
    )
    added = runner.invoke(app, ["data", "add", "retail", str(retail), "--unit", "CustomerID"])
    assert added.exit_code == 0, added.output
    imported = runner.invoke(app, ["consent", "import", str(objections)])
    assert imported.exit_code == 0, imported.output
    consented = runner.invoke(app, args)
    assert consented.exit_code == 0, consented.output
    assert json.loads(consented.stdout)["clients"] <= 20  # one device per training customer
