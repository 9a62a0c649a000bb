"""``shopveil recommend``: a customer's top-k, named, from a model file and their own purchases."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
from _served import train_model

from shopveil.data import product_catalogue
from shopveil.dp import Ledger
from shopveil.learn import (
    FitContext,
    Popularity,
    load_interactions,
    save_recommender,
)
from shopveil.store import Store

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
CUSTOMER = "17850"  # in the bundled slice, with purchases before and after 2010-12-09


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A DP co-purchase model trained on the slice's first days, and its purchase files."""
    folder = tmp_path_factory.mktemp("shop")
    model, orders = train_model(folder)
    catalogue = folder / "catalogue.csv"
    pacsv.write_csv(product_catalogue(), catalogue)
    bare = load_interactions(orders)  # no catalogue: a model file without descriptions
    popular = folder / "popular.npz"
    save_recommender(Popularity().fit(bare, FitContext()), popular, train=bare, config=Popularity())
    return {"orders": orders, "catalogue": catalogue, "model": model, "popular": popular}


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["recommend", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _items(entry: dict) -> list[str]:  # type: ignore[type-arg]
    return [pick["item"] for pick in entry["items"]]


def test_a_customers_list_is_named_and_uses_their_own_history(shop: dict[str, Path]) -> None:
    out = _json("--model", str(shop["model"]), "--customer", CUSTOMER,
                "--history", str(shop["orders"]), "--k", "7")  # fmt: skip
    (entry,) = out["customers"]
    assert out["model"] == "dp-cobuy" and out["k"] == 7
    assert out["privacy"]["budget"] == {"kind": "ApproxDP", "epsilon": 1.0, "delta": 1e-6}
    assert entry["customer"] == CUSTOMER and entry["known"] and entry["purchases"] > 0
    assert [p["rank"] for p in entry["items"]] == list(range(1, 8))
    names = dict(zip(*(product_catalogue()[c].to_pylist() for c in ("stock_code", "description")),
                     strict=True))  # fmt: skip
    assert all(p["description"] == names[p["item"]] for p in entry["items"])
    new = _json("--model", str(shop["model"]), "--customer", CUSTOMER, "--k", "7")
    assert not new["customers"][0]["known"]
    assert _items(new["customers"][0]) != _items(entry)  # the history changed the list


def test_spellings_of_one_id_are_one_customer(shop: dict[str, Path]) -> None:
    args = ["--model", str(shop["model"]), "--history", str(shop["orders"])]
    out = _json(*args, "--customer", "17850.0", "--customer", " 17850", "--customer", "017850")
    (entry,) = out["customers"]
    assert entry["customer"] == CUSTOMER and entry["known"]
    assert _items(entry) == _items(_json(*args, "--customer", CUSTOMER)["customers"][0])


def test_new_only_leaves_out_what_the_customer_bought(shop: dict[str, Path]) -> None:
    args = ["--model", str(shop["model"]), "--history", str(shop["orders"]), "--customer",
            CUSTOMER, "--k", "30"]  # fmt: skip
    every = _items(_json(*args)["customers"][0])
    new = _items(_json(*args, "--new-only")["customers"][0])
    data = load_interactions(shop["orders"])
    user = list(data.user_ids).index(CUSTOMER)
    bought = set(data.item_ids[np.unique(data.items[data.users == user])])
    assert set(every) & bought and not set(new) & bought and len(new) == 30


def test_an_unknown_customer_gets_popular_items_with_a_note(shop: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["recommend", "--model", str(shop["popular"]), "--customer", "99999999",
              "--history", str(shop["orders"]), "--catalogue", str(shop["catalogue"]), "--k", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 of 1 customers have no purchases in the history" in " ".join(result.stderr.split())
    assert "no purchases: a new customer" in result.stdout
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in result.stdout  # the most bought item
    unnamed = runner.invoke(app, ["recommend", "--model", str(shop["popular"]), "--customer", "1"])
    assert unnamed.exit_code == 0 and "holds no item descriptions" in unnamed.stderr


@pytest.mark.parametrize("kind", ["missing", "not a model"])
def test_a_bad_model_file_is_one_line_exit_2(
    shop: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    model = tmp_path / "model.npz" if kind == "missing" else shop["orders"]
    result = runner.invoke(app, ["recommend", "--model", str(model), "--customer", CUSTOMER])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_recommending_spends_no_budget(shop: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = runner.invoke(
        app, ["recommend", "--model", str(shop["model"]), "--customer", CUSTOMER, "--history",
              str(shop["orders"])], env={"SHOPVEIL_HOME": str(home)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The store is opened for the consent register only: the ledger holds no charge.
    store = Store.open(f"sqlite:///{home / 'shopveil.db'}")
    try:
        assert Ledger(store).accounts() == []
    finally:
        store.close()


def test_a_customer_who_objects_gets_the_list_for_a_new_customer(
    shop: dict[str, Path], tmp_path: Path
) -> None:
    consent = tmp_path / "consent.csv"
    consent.write_text(f"customer,purpose,status\n{CUSTOMER}.0,personalization,refused\n")
    imported = runner.invoke(app, ["consent", "import", str(consent), "--allow-unknown"])
    assert imported.exit_code == 0, imported.output
    args = ["--model", str(shop["model"]), "--k", "7"]
    objecting = _json(*args, "--history", str(shop["orders"]), "--customer", CUSTOMER)
    new = _json(*args, "--customer", CUSTOMER)
    entry = objecting["customers"][0]
    assert not entry["known"] and _items(entry) == _items(new["customers"][0])
