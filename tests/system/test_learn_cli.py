"""``shopveil train`` and ``shopveil evaluate`` end to end on the bundled Online Retail slice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.learn._registry import load_recommender
from shopveil.store import Store

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
CONTRACT = {"recall@20", "ndcg@20", "map@20", "coverage", "epsilon"}
CONTRACT_NEW = {"recall@20_new", "ndcg@20_new", "map@20_new"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The slice as one file, cut at 2010-12-09 into a train and a test file, and the
    public product catalogue."""
    folder = tmp_path_factory.mktemp("retail")
    table = bundled_online_retail()
    cut = pa.scalar(pa.scalar("2010-12-09").cast(pa.timestamp("us")).value, pa.timestamp("us"))
    before = pc.less(table["InvoiceDate"], cut)
    out = {
        "all": folder / "retail.csv",
        "train": folder / "retail_train.csv",
        "test": folder / "retail_test.csv",
        "catalogue": folder / "catalogue.csv",
    }
    pacsv.write_csv(product_catalogue(), out["catalogue"])
    pacsv.write_csv(table, out["all"])
    pacsv.write_csv(table.filter(before), out["train"])
    pacsv.write_csv(table.filter(pc.invert(before)), out["test"])
    return out


def _shopveil(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"SHOPVEIL_HOME": str(home)}
    env.pop("SHOPVEIL_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "shopveil.cli", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def _spent(db: Path) -> list[object]:
    store = Store.open(f"sqlite:///{db}")
    try:
        return [a.spent for a in Ledger(store).accounts()]
    finally:
        store.close()


@pytest.mark.slow
def test_evaluate_json_has_the_contract_keys(files: dict[str, Path], tmp_path: Path) -> None:
    done = _shopveil(
        "evaluate", "--train", str(files["train"]), "--test", str(files["test"]),
        "--model", "buy-again", "--epsilon", "1", "--json",
        "--catalogue", str(files["catalogue"]), home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) >= CONTRACT | CONTRACT_NEW
    assert result["epsilon"] == 1.0 and result["users"] > 100 and result["cold_users"] > 0
    assert all(0 <= result[key] <= 1 for key in CONTRACT | CONTRACT_NEW if key != "epsilon")


def test_evaluate_split_at_matches_two_files(files: dict[str, Path]) -> None:
    common = ["--model", "itemknn", "--k", "10", "--json"]
    one = runner.invoke(
        app, ["evaluate", "--data", str(files["all"]), "--split-at", "2010-12-09", *common]
    )
    two = runner.invoke(
        app, ["evaluate", "--train", str(files["train"]), "--test", str(files["test"]), *common]
    )
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a["epsilon"] is None and "recall@10_new" in a
    assert a["recall@10"] == pytest.approx(b["recall@10"])
    assert a["recall@10_new"] == pytest.approx(b["recall@10_new"])


def test_evaluate_prints_a_table(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["evaluate", "--data", str(files["all"]), "--split-at", "2010-12-09",
              "--model", "popularity"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recall@20" in result.stdout and "new items" in result.stdout
    assert "have no training history; they get the popularity ranking" in result.stderr


def test_train_saves_a_private_model_and_charges_once(
    files: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "ledger.db"
    model = tmp_path / "model.npz"
    result = runner.invoke(
        app, ["train", "--data", str(files["all"]), "--model", "dp-popularity",
              "--epsilon", "0.5", "-o", str(model), "--db", f"sqlite:///{db}",
              "--catalogue", str(files["catalogue"])],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    fitted, file = load_recommender(model)
    assert fitted.name == "dp-popularity" and file.privacy.epsilon == 0.5
    assert file.privacy.dataset == "retail" and file.privacy.window_start is not None
    assert file.arrays["item_ids"].tolist() == sorted(product_catalogue()["stock_code"].to_pylist())
    assert [str(s) for s in _spent(db)] == ["ε=0.5, δ=0"]


def test_train_als_with_params(files: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "als.npz"
    result = runner.invoke(
        app, ["train", "--data", str(files["train"]), "--model", "als", "-o", str(model),
              "--param", "factors=8", "--param", "iterations=2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _, file = load_recommender(model)
    assert file.privacy.budget is None and file.arrays["item_factors"].shape[1] == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "unknown model"),
        (["--model", "dp-popularity", "--epsilon", "0"], "epsilon must be > 0"),
        (["--model", "dp-popularity", "--epsilon", "-1"], "epsilon must be > 0"),
        (["--model", "dp-popularity"], "is private"),
        (["--model", "als", "--param", "bogus=1"], "bad option"),
        (["--model", "dp-popularity", "--epsilon", "1"], "give the public product catalogue"),
        (["--model", "dp-cobuy", "--epsilon", "1", "--catalogue", "none.csv"], "no such catalogue"),
    ],
)
def test_bad_input_exits_2_and_charges_nothing(
    files: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    db = tmp_path / "ledger.db"
    result = runner.invoke(
        app, ["train", "--data", str(files["all"]), "-o", str(tmp_path / "m.npz"),
              "--db", f"sqlite:///{db}", *args],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "m.npz").exists()
    assert not db.exists() or _spent(db) == []


def test_missing_file_and_bad_split_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["evaluate", "--train", str(tmp_path / "none.csv"), "--test", str(files["test"]),
              "--model", "popularity"],
    )  # fmt: skip
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    neither = runner.invoke(app, ["evaluate", "--model", "popularity"])
    assert neither.exit_code == 2 and "--split-at" in neither.stderr
    bad_date = runner.invoke(
        app, ["evaluate", "--data", str(files["all"]), "--split-at", "soon", "--model", "als"]
    )
    assert bad_date.exit_code == 2 and "write a date" in bad_date.stderr


def test_tiny_epsilon_falls_back_with_a_note(files: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["evaluate", "--data", str(files["all"]), "--split-at", "2010-12-09",
              "--model", "dp-popularity", "--epsilon", "0.001", "--json",
              "--db", f"sqlite:///{tmp_path / 'l.db'}", "--catalogue", str(files["catalogue"])],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note:" in result.stderr and "no detectable signal" in result.stderr
    assert json.loads(result.stdout)["epsilon"] == 0.001


def test_evaluate_model_file_measures_the_trained_model_with_dp_and_charges_its_test_customers(
    files: dict[str, Path], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    model = tmp_path / "model.npz"
    trained = runner.invoke(
        app, ["train", "--data", str(files["train"]), "--model", "dp-popularity",
              "--epsilon", "0.5", "-o", str(model), "--db", db,
              "--catalogue", str(files["catalogue"])],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    saved = model.read_bytes()
    base = ["evaluate", "--model-file", str(model), "--test", str(files["test"]),
            "--train", str(files["train"]), "--db", db, "--json"]  # fmt: skip
    result = runner.invoke(app, [*base, "--epsilon", "0.25"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= CONTRACT - {"coverage"} | CONTRACT_NEW
    assert out["private"] and out["model"] == "dp-popularity" and out["epsilon"] == 0.5
    assert out["evaluation_cost"] == {"epsilon": 0.25, "dataset": "retail_test"}
    assert out["noise_scale"] == pytest.approx(8 / 0.25)
    assert model.read_bytes() == saved  # measured as it is, never retrained
    store = Store.open(db)
    try:
        ledger = Ledger(store)
        whats = [c.what for a in ledger.accounts() for c in ledger.history(a.dataset, a.unit)]
    finally:
        store.close()
    assert sorted(w.split(" ")[0] for w in whats) == ["dp-popularity", "evaluate"]
    again = runner.invoke(app, base)  # the default cost, 0.5, charged again: no replay
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["evaluation_cost"]["epsilon"] == 0.5
    table = runner.invoke(app, [*base[:-1], "--epsilon", "0.1"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "metrics with DP noise" in " ".join(table.stdout.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "popularity"], "give --model NAME (fitted now) or --model-file FILE"),
        (["--param", "k=1"], "--param and --catalogue go with --model NAME"),
        ([], "no such model file"),
    ],
)
def test_evaluate_model_file_bad_input_is_one_line_exit_2(
    files: dict[str, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["evaluate", "--model-file", str(tmp_path / "none.npz"), "--test",
              str(files["test"]), "--db", f"sqlite:///{tmp_path / 'l.db'}", *args],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
