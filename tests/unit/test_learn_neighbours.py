"""What a private model releases besides its noisy statistics is the same with or without
any one customer: its item vocabulary, its item texts, its stored ε and sample rate, its
number of PATE teachers. Each test removes one customer chosen to be extreme."""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.errors import ParameterError, SchemaError
from shopveil.learn._catalogue import Catalogue, load_catalogue
from shopveil.learn._customers import CustomerModelConfig, train_customer_model
from shopveil.learn._dpsgd_budget import DPSGDConfig
from shopveil.learn._features import FEATURE_NAMES, CustomerFeatures
from shopveil.learn._interactions import (
    Interactions,
    from_table,
    load_interactions,
    purchases_only,
)
from shopveil.learn._pate import Window, release_labels
from shopveil.learn._pate_aggregate import GNMaxConfig
from shopveil.learn._recommender import FitContext
from shopveil.learn._registry import (
    build_recommender,
    is_private,
    load_recommender,
    model_names,
    save_recommender,
)
from shopveil.store import Store
from shopveil.store._schema import dp_charges

pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn._recommender.NoSignalWarning")

PRIVATE = [n for n in model_names() if is_private(n, 1.0)]
SMALL = {
    "dp-mf": {"dim": 8, "epochs": 1, "batch_size": 128, "top_items": 300},
    "dp-als": {"n_items_kept": 300},
}


def _seeded(seed: int) -> np.random.Generator:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        return insecure_seeded_rng(seed)


@pytest.fixture(scope="module")
def purchases() -> pa.Table:
    """The bundled slice's purchases with a customer, as strings the way a CSV reads back."""
    table = purchases_only(bundled_online_retail())
    return table.filter(pc.is_valid(table["CustomerID"]))


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.from_table(product_catalogue())


def _without(table: pa.Table, customer: float) -> pa.Table:
    return table.filter(pc.not_equal(table["CustomerID"], customer))


def _sole_buyer(table: pa.Table) -> float:
    """A customer who alone bought some item, and whose purchases are not the first or
    last of the data (the data window is another matter)."""
    rows = table.select(["CustomerID", "StockCode", "InvoiceDate"]).to_pylist()
    buyers: dict[str, set[float]] = {}
    for r in rows:
        buyers.setdefault(r["StockCode"], set()).add(r["CustomerID"])
    first, last = min(r["InvoiceDate"] for r in rows), max(r["InvoiceDate"] for r in rows)
    edge = {r["CustomerID"] for r in rows if r["InvoiceDate"] in (first, last)}
    sole = sorted({next(iter(b)) for b in buyers.values() if len(b) == 1} - edge)
    assert sole
    return sole[0]


def _text_decider(table: pa.Table) -> tuple[float, str]:
    """A customer, and an item whose smallest description is on that customer's rows only."""
    rows = table.select(["CustomerID", "StockCode", "Description"]).to_pylist()
    texts: dict[str, dict[str, set[float]]] = {}
    for r in rows:
        if r["Description"]:
            texts.setdefault(r["StockCode"], {}).setdefault(r["Description"], set()).add(
                r["CustomerID"]
            )
    for item, by_text in sorted(texts.items()):
        smallest = by_text[min(by_text)]
        if len(by_text) > 1 and len(smallest) == 1:
            return next(iter(smallest)), item
    raise AssertionError("no item's description is decided by one customer")


def _write(table: pa.Table, path: Path) -> Path:
    pacsv.write_csv(table, path)
    return path


def _fit_and_save(
    name: str, data: Interactions, ledger: Ledger, path: Path
) -> tuple[dict[str, tuple[int, ...]], object]:
    config = build_recommender(name, 1.0, SMALL.get(name, {}))
    fitted = config.fit(data, FitContext(ledger=ledger, dataset="retail", rng=_seeded(1)))
    save_recommender(fitted, path, train=data, config=config, dataset="retail")
    _, file = load_recommender(path)
    return {k: v.shape for k, v in file.arrays.items()}, file


@pytest.mark.parametrize("name", PRIVATE)
def test_a_private_model_releases_the_catalogue_vocabulary_with_or_without_a_sole_buyer(
    name: str, purchases: pa.Table, catalogue: Catalogue, scratch_ledger: Ledger, tmp_path: Path
) -> None:
    sole = _sole_buyer(purchases)
    files = []
    for i, table in enumerate((purchases, _without(purchases, sole))):
        data = load_interactions(_write(table, tmp_path / f"d{i}.csv"), catalogue=catalogue)
        files.append(_fit_and_save(name, data, scratch_ledger, tmp_path / f"m{i}.npz"))
    (shapes, with_file), (shapes_without, without_file) = files
    assert shapes == shapes_without
    assert with_file.arrays["item_ids"].tolist() == catalogue.item_ids.tolist()  # type: ignore[attr-defined]
    assert without_file.arrays["item_ids"].tolist() == catalogue.item_ids.tolist()  # type: ignore[attr-defined]
    assert with_file.privacy == without_file.privacy  # type: ignore[attr-defined]
    assert with_file.config == without_file.config  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", PRIVATE)
def test_without_a_catalogue_a_private_model_is_refused_and_charges_nothing(
    name: str, purchases: pa.Table, scratch_ledger: Ledger, tmp_path: Path
) -> None:
    # The purchases' own vocabulary loses every item whose sole buyer leaves.
    data = load_interactions(_write(purchases, tmp_path / "d.csv"))
    config = build_recommender(name, 1.0, SMALL.get(name, {}))
    with pytest.raises(ParameterError, match="catalogue"):
        config.fit(data, FitContext(ledger=scratch_ledger, dataset="retail", rng=_seeded(2)))
    with scratch_ledger.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(dp_charges)).scalar_one() == 0


def test_non_private_models_keep_the_purchases_vocabulary(
    purchases: pa.Table, tmp_path: Path
) -> None:
    data = load_interactions(_write(purchases, tmp_path / "d.csv"))
    fitted = build_recommender("popularity").fit(data, FitContext())
    assert data.catalogue is None and data.n_items == len(pc.unique(purchases["StockCode"]))
    assert fitted.scores(np.array([0]), data.counts()[[0]]).shape == (1, data.n_items)


def test_item_texts_come_from_the_catalogue_never_from_purchase_rows(
    purchases: pa.Table, catalogue: Catalogue, scratch_ledger: Ledger, tmp_path: Path
) -> None:
    customer, item = _text_decider(purchases)
    loaded = []
    for i, table in enumerate((purchases, _without(purchases, customer))):
        path = _write(table, tmp_path / f"d{i}.csv")
        plain = load_interactions(path)
        assert plain.item_text is None  # a description on a purchase row is never read
        loaded.append(load_interactions(path, catalogue=catalogue))
    with_one, without = loaded
    at = int(np.searchsorted(catalogue.item_ids, item))
    assert catalogue.texts is not None
    assert with_one.item_text == without.item_text == catalogue.texts
    assert with_one.item_text[at] == catalogue.texts[at]  # type: ignore[index]
    # The released text neighbours are the same too.
    config = build_recommender("dp-cobuy", 1.0)
    near = [
        config.fit(data, FitContext(ledger=scratch_ledger, dataset="r", rng=_seeded(3))).text  # type: ignore[attr-defined]
        for data in loaded
    ]
    assert (near[0] != near[1]).nnz == 0


def test_a_catalogue_file_is_sorted_unique_and_keeps_the_first_text(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    path.write_text("sku,title\nB2,second\nA1,first\nB2,again\n3.0,numeric\n")
    loaded = load_catalogue(path)
    assert loaded.item_ids.tolist() == ["3", "A1", "B2"]
    assert loaded.texts == ("numeric", "first", "second")
    assert loaded.index(np.array(["B2", "zz", "3"])).tolist() == [2, -1, 0]
    with pytest.raises(ParameterError, match="sorted"):
        Catalogue(np.array(["b", "a"]))
    other_shop = pa.table({"u": ["c1"], "i": ["Z9"], "t": pa.array([datetime(2011, 1, 1)])})
    with pytest.raises(SchemaError, match="lists none of the items"):
        from_table(other_shop, user="u", item="i", time="t", catalogue=loaded)


@given(
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from("abcdefxy")), min_size=1, max_size=30),
    st.integers(0, 5),
)
def test_removing_any_customer_leaves_the_catalogue_vocabulary_and_texts(
    rows: list[tuple[int, str]], removed: int
) -> None:
    catalogue = Catalogue(np.array(list("abcdef")), tuple(f"text {c}" for c in "abcdef"))

    def load(kept: list[tuple[int, str]]) -> Interactions | None:
        if not any(item in "abcdef" for _, item in kept):
            return None  # no purchase of a listed item: nothing to fit
        table = pa.table(
            {"u": [f"c{u}" for u, _ in kept], "i": [i for _, i in kept],
             "t": pa.array([datetime(2011, 1, 1)] * len(kept))}
        )  # fmt: skip
        return from_table(table, user="u", item="i", time="t", catalogue=catalogue)

    both = [load(rows), load([r for r in rows if r[0] != removed])]
    for data in both:
        if data is not None:
            assert data.item_ids.tolist() == list("abcdef")
            assert data.item_text == catalogue.texts
            assert set(data.item_ids[data.items]) <= set("abcdef")


def _features(n: int) -> tuple[CustomerFeatures, np.ndarray]:
    gen = np.random.Generator(np.random.PCG64(7))
    values = gen.uniform(0, 50, size=(n, len(FEATURE_NAMES)))
    features = CustomerFeatures(
        tuple(f"c{i:05d}" for i in range(n)), values,
        window_start=datetime(2011, 1, 1), window_end=datetime(2011, 7, 1),
    )  # fmt: skip
    return features, (values[:, 0] > 25).astype(np.float64)


def test_a_dp_customer_model_stores_the_same_epsilon_and_rate_for_3072_and_3073_customers(
    scratch_ledger: Ledger, tmp_path: Path
) -> None:
    import torch

    torch.set_num_threads(1)
    config = CustomerModelConfig(epochs=1, batch_size=256)
    privacy = DPSGDConfig(ApproxDP(1.0, 1e-6), epochs=1, accountant="rdp", sample_rate=1 / 12)
    stored = []
    for n in (3072, 3073):  # 12 and 13 batches of 256 when the rate follows n
        features, churn = _features(n)
        store = Store.open(f"sqlite:///{tmp_path / f'ledger-{n}.db'}")
        model = train_customer_model(
            features, churn, config=config, privacy=privacy,
            ledger=Ledger(store, people_key=PEOPLE_KEY), dataset="shop", request_id="churn",
            rng=_seeded(4),
        )  # fmt: skip
        store.close()
        stored.append(model.privacy)
    assert stored[0] == stored[1]
    assert stored[0].params["sample_rate"] == pytest.approx(1 / 12)
    with pytest.raises(ParameterError, match="sample_rate"):
        train_customer_model(
            *_features(10), config=config, privacy=DPSGDConfig(ApproxDP(1.0, 1e-6), epochs=1),
            ledger=scratch_ledger, dataset="shop", request_id="unset",
        )  # fmt: skip


@pytest.mark.parametrize("rate", [0.15, 0.0, 1.5, math.nan])
def test_a_sample_rate_that_is_not_one_over_a_whole_number_is_refused(rate: float) -> None:
    with pytest.raises(ParameterError, match="sample_rate"):
        DPSGDConfig(ApproxDP(1.0, 1e-6), epochs=1, sample_rate=rate)


def test_dp_mf_plans_its_rate_and_epsilon_without_the_data() -> None:
    config = build_recommender("dp-mf", 1.0, SMALL["dp-mf"])
    rate, _, steps, cost = config.plan()  # type: ignore[attr-defined]
    assert rate == pytest.approx(1 / 6) and steps == 6
    assert cost.epsilon <= 1.0


def test_pate_releases_the_configured_teacher_count_whatever_the_customers(
    scratch_ledger: Ledger,
) -> None:
    gen = np.random.Generator(np.random.PCG64(8))
    queries = gen.normal(size=(20, 2))
    released = []
    for n in (10, 11):  # 250 shards: nearly every shard is empty
        x = gen.normal(size=(2 * n, 2))
        y = (x.sum(axis=1) > 0).astype(np.int64)
        customers = [f"c{i // 2}" for i in range(2 * n)]
        release = release_labels(
            scratch_ledger, dataset=f"pate-{n}", unit=PerCustomer("CustomerID"), name="churn",
            window=Window(datetime(2011, 1, 1), datetime(2011, 2, 1)), features=x, labels=y,
            customers=customers, queries=queries, n_labels=2,
            config=GNMaxConfig(sigma=4.0), budget=ApproxDP(50.0, 1e-6), n_teachers=250,
            rng=_seeded(n),
        )  # fmt: skip
        released.append(release)
    assert [r.n_teachers for r in released] == [250, 250]
    assert released[0].charged == released[1].charged
    stored = [
        scratch_ledger.find(r.request_id, f"pate-{n}", PerCustomer("CustomerID"))
        for r, n in zip(released, (10, 11), strict=True)
    ]
    assert all(s is not None and '"n_teachers": 250' in (s.answer or "") for s in stored)
