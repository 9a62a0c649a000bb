"""Baselines, item-kNN and ALS: what they rank, what they charge, what they save."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.errors import BudgetExceeded, ParameterError
from shopveil.learn._als import ALS
from shopveil.learn._baselines import (
    BuyAgain,
    DPPopularity,
    Popularity,
    bounded_item_counts,
)
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._evaluate import align, evaluate
from shopveil.learn._interactions import Interactions, load_interactions, temporal_split
from shopveil.learn._itemknn import ItemKNN
from shopveil.learn._recommender import FitContext, NoSignalWarning
from shopveil.learn._registry import (
    build_recommender,
    load_recommender,
    model_names,
    save_recommender,
)
from shopveil.store import Store
from shopveil.store._schema import dp_charges

SMALL_ALS = ALS(factors=16, iterations=6)


def _rng(seed: int) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> tuple[Interactions, Interactions]:
    """The bundled Online Retail slice (Dec 1–12, 2010) on its public catalogue, split at Dec 9."""
    path = tmp_path_factory.mktemp("retail") / "retail.csv"
    pacsv.write_csv(bundled_online_retail(), path)
    catalogue = Catalogue.from_table(product_catalogue())
    return temporal_split(load_interactions(path, catalogue=catalogue), datetime(2010, 12, 9))


def _planted(seed: int) -> tuple[Interactions, Interactions]:
    """Users in 8 taste groups, each buying from its own 20 items; the test is later."""
    gen = np.random.Generator(np.random.PCG64(seed))
    users, items, days = [], [], []
    for user in range(240):
        group = user % 8
        bought = gen.choice(20, size=12, replace=False) + 20 * group
        users += [user] * 12
        items += bought.tolist()
        days += [1] * 8 + [20] * 4
    times = np.datetime64("2011-01-01", "us") + np.array(days) * np.timedelta64(1, "D")
    data = Interactions(
        np.array(users, dtype=np.int32), np.array(items, dtype=np.int32), times,
        np.array([f"u{i}" for i in range(240)]), np.array([f"i{i}" for i in range(160)]),
    )  # fmt: skip
    return temporal_split(data, datetime(2011, 1, 10))


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    store = Store.open(store_url)
    yield Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(20.0, 1e-3))
    store.close()


def _charges(ledger: Ledger) -> int:
    with ledger.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(dp_charges)).scalar_one())


def test_popularity_counts_distinct_buyers(retail: tuple[Interactions, Interactions]) -> None:
    train, _ = retail
    fitted = Popularity().fit(train, FitContext())
    expected = np.zeros(train.n_items)
    for item in range(train.n_items):
        expected[item] = len(np.unique(train.users[train.items == item]))
    assert np.array_equal(fitted.scores(np.array([0, 1]), train.matrix()[[0, 1]])[1], expected)


def test_personal_models_recover_planted_tastes() -> None:
    train, test = _planted(1)
    popularity = evaluate(Popularity().fit(train, FitContext()), train, test)
    for model in (ItemKNN(neighbours=30), SMALL_ALS):
        result = evaluate(model.fit(train, FitContext(rng=_rng(2))), train, test)
        assert result.new.recall > 3 * popularity.new.recall
        assert result.new.recall > 0.5


def test_on_retail_buy_again_and_als_beat_popularity_over_all_purchases(
    retail: tuple[Interactions, Interactions],
) -> None:
    train, test = retail
    popularity = evaluate(Popularity().fit(train, FitContext()), train, test)
    again = evaluate(BuyAgain(Popularity()).fit(train, FitContext()), train, test)
    als = evaluate(SMALL_ALS.fit(train, FitContext(rng=_rng(3))), train, test)
    assert again.all.recall > popularity.all.recall + 0.02
    assert als.all.recall > popularity.all.recall
    # buy-again adds nothing on new items: it is popularity there
    assert again.new.recall == pytest.approx(popularity.new.recall, abs=1e-3)
    assert als.cold_users == popularity.cold_users > 0
    assert als.all.users == len(test.active_users())


@pytest.mark.parametrize("model", [Popularity(), BuyAgain(Popularity()), ItemKNN(), SMALL_ALS])
def test_empty_history_ranks_by_popularity(
    model: Popularity | BuyAgain | ItemKNN | ALS, retail: tuple[Interactions, Interactions]
) -> None:
    train, _ = retail
    fitted = model.fit(train, FitContext(rng=_rng(4)))
    empty = sparse.csr_matrix((2, train.n_items))
    scores = fitted.scores(np.array([0, 1]), empty)
    assert scores.shape == (2, train.n_items) and np.all(np.isfinite(scores))
    buyers = np.asarray(train.matrix().sum(axis=0)).ravel()
    top = np.argsort(-scores[0], kind="stable")[:10]
    assert np.all(np.diff(buyers[top]) <= 0)


def test_buy_again_puts_own_items_first(retail: tuple[Interactions, Interactions]) -> None:
    train, _ = retail
    fitted = BuyAgain(Popularity()).fit(train, FitContext())
    history = train.matrix()[:50]
    scores = fitted.scores(np.arange(50), history)
    for row in range(50):
        own = history[row].indices
        if len(own):
            ranked = np.argsort(-scores[row])[: len(own)]
            assert set(ranked) == set(own)


def test_dp_popularity_charges_once_and_retries_replay(
    retail: tuple[Interactions, Interactions], ledger: Ledger
) -> None:
    train, _ = retail
    context = FitContext(ledger=ledger, dataset="retail", request_id="fit-1", rng=_rng(5))
    first = DPPopularity(PureDP(8.0), max_items_per_user=8).fit(train, context)
    again = DPPopularity(PureDP(8.0), max_items_per_user=8).fit(
        train, FitContext(ledger=ledger, dataset="retail", request_id="fit-1", rng=_rng(6))
    )
    assert _charges(ledger) == 1
    assert ledger.show("retail", CUSTOMER).spent == ApproxDP(8.0, 0.0)
    assert np.array_equal(first.counts, again.counts)  # the stored release, no fresh noise
    assert first.privacy == ApproxDP(8.0, 0.0) and first.name == "dp-popularity"


def test_refusal_and_missing_ledger_charge_nothing(
    retail: tuple[Interactions, Interactions], ledger: Ledger
) -> None:
    train, _ = retail
    ledger.set_budget("retail", CUSTOMER, PureDP(0.5))
    with pytest.raises(BudgetExceeded):
        DPPopularity(PureDP(8.0)).fit(train, FitContext(ledger=ledger, dataset="retail"))
    with pytest.raises(ParameterError, match="ledger"):
        DPPopularity(PureDP(1.0)).fit(train, FitContext())
    assert _charges(ledger) == 0


def test_dp_popularity_noise_has_the_calibrated_scale(scratch_ledger: Ledger) -> None:
    train, _ = _planted(7)  # 8 items per user, so max_items_per_user=8 drops nothing
    train = train.on_catalogue(Catalogue(np.sort(train.item_ids)))
    exact = np.asarray(train.matrix().sum(axis=0)).ravel()
    noise = []
    for run in range(25):  # every fit charges the same people: a ledger with room for 25
        context = FitContext(ledger=scratch_ledger, dataset=f"d{run}", rng=_rng(run))
        noise.append(DPPopularity(PureDP(4.0), max_items_per_user=8).fit(train, context).counts)
    residual = np.concatenate(noise) - np.tile(exact, 25)
    q = math.exp(-4.0 / 8)  # discrete Laplace of scale 8 / ε = 2
    assert residual.var() == pytest.approx(2 * q / (1 - q) ** 2, rel=0.15)
    assert abs(residual.mean()) < 0.2


def test_gaussian_dp_popularity_states_its_delta(
    retail: tuple[Interactions, Interactions], ledger: Ledger
) -> None:
    train, _ = retail
    fitted = DPPopularity(ZCDP(4.0), delta=1e-6).fit(
        train, FitContext(ledger=ledger, dataset="g", rng=_rng(8))
    )
    assert fitted.privacy == ZCDP(4.0).to_approx_dp(1e-6)


def test_tiny_epsilon_warns_of_popularity_fallback(
    retail: tuple[Interactions, Interactions], ledger: Ledger
) -> None:
    train, _ = retail
    with pytest.warns(NoSignalWarning, match="no detectable signal"):
        DPPopularity(PureDP(1e-4)).fit(train, FitContext(ledger=ledger, dataset="t", rng=_rng(9)))


@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_bounded_counts_keep_at_most_the_limit_per_user(limit: int, seed: int) -> None:
    gen = np.random.Generator(np.random.PCG64(seed))
    matrix = sparse.csr_matrix((gen.random((30, 12)) < 0.4).astype(float))
    counts = bounded_item_counts(matrix, limit, gen)
    per_user = np.diff(matrix.indptr)
    assert counts.sum() == np.minimum(per_user, limit).sum()
    assert np.all(counts <= np.asarray(matrix.sum(axis=0)).ravel())


@dataclass(frozen=True)
class _Fixed:
    """A fake model with fixed scores, to check what the evaluation passes count."""

    values: np.ndarray
    name: str = "fixed"
    privacy: None = None

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        return np.tile(self.values, (len(users), 1))


def test_two_passes_by_hand() -> None:
    # user 0 bought item 0 in training; in test items 0 and 1; user 1 is cold, buys item 2
    t = np.datetime64("2011-01-01", "us")
    late = t + np.timedelta64(10, "D")
    data = Interactions(
        np.array([0, 0, 0, 1], dtype=np.int32), np.array([0, 0, 1, 2], dtype=np.int32),
        np.array([t, late, late, late]), np.array(["a", "b"]), np.array(["x", "y", "z", "w"]),
    )  # fmt: skip
    train, test = temporal_split(data, datetime(2011, 1, 5))
    result = evaluate(_Fixed(np.array([4.0, 3.0, 2.0, 1.0])), train, test, k=2)
    # all: user 0 gets [0, 1] (both relevant) → 1; user 1 gets [0, 1], item 2 missed → 0
    assert result.all.recall == pytest.approx(0.5)
    # new: user 0's item 0 is removed → [1, 2], relevant {1} → 1; user 1 → 0
    assert result.new.recall == pytest.approx(0.5)
    assert result.new.map == pytest.approx(0.5)
    assert result.cold_users == 1 and result.all.users == 2
    assert result.unseen_items == 2  # items 1 and 2: nobody bought them in training
    assert result.as_dict()["coverage"] == pytest.approx(2 / 4)
    assert result.as_dict()["coverage_new"] == pytest.approx(3 / 4)


def test_align_maps_two_files_onto_one_vocabulary() -> None:
    t = np.array([np.datetime64("2011-01-01", "us")] * 2)
    a = Interactions(np.array([0, 1], np.int32), np.array([0, 1], np.int32), t,
                     np.array(["u1", "u2"]), np.array(["p", "q"]))  # fmt: skip
    b = Interactions(np.array([0, 1], np.int32), np.array([0, 1], np.int32), t,
                     np.array(["u2", "u3"]), np.array(["q", "r"]))  # fmt: skip
    a2, b2 = align(a, b)
    assert a2.n_users == b2.n_users == 3 and a2.n_items == 3
    assert b2.user_ids[b2.users].tolist() == ["u2", "u3"]
    assert b2.item_ids[b2.items].tolist() == ["q", "r"]


@pytest.mark.filterwarnings("ignore::shopveil.learn._recommender.NoSignalWarning")
@pytest.mark.parametrize("name", [n for n in model_names() if n != "dp-mf"])  # dp-mf: own file
def test_saved_models_score_the_same(
    name: str, retail: tuple[Interactions, Interactions], ledger: Ledger, tmp_path: Path
) -> None:
    train, _ = retail
    private = ("dp-popularity", "buy-again", "dp-als", "dp-cobuy", "dp-eigen")
    epsilon = 8.0 if name in private else None
    options = {"factors": 8, "iterations": 3} if name == "als" else {}
    config = build_recommender(name, epsilon, options)
    fitted = config.fit(train, FitContext(ledger=ledger, dataset="s", rng=_rng(10)))
    path = save_recommender(fitted, tmp_path / "m.npz", train=train, config=config, dataset="s")
    loaded, file = load_recommender(path)
    history = train.counts()[:20]
    assert np.allclose(loaded.scores(np.arange(20), history), fitted.scores(np.arange(20), history))
    assert loaded.privacy == fitted.privacy and loaded.name == fitted.name
    assert file.privacy.unit == "customer" and file.privacy.window_start == train.window[0]
    assert file.privacy.epsilon == (epsilon or math.inf)
    assert (file.privacy.budget is None) == (epsilon is None)
    assert list(file.arrays["item_ids"]) == list(train.item_ids)


def test_registry_rejects_bad_names_and_epsilons() -> None:
    with pytest.raises(ParameterError, match="unknown model"):
        build_recommender("nope")
    with pytest.raises(ParameterError, match="epsilon"):
        build_recommender("dp-popularity", 0.0)
    with pytest.raises(ParameterError, match="private"):
        build_recommender("dp-popularity", None)
    with pytest.raises(ParameterError, match="bad option"):
        build_recommender("als", None, {"bogus": 1})
    assert build_recommender("buy-again", math.inf) == BuyAgain(Popularity())
