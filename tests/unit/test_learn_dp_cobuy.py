"""The DP co-purchase recommender: its sensitivity bounds, its ledger charge, its fallbacks."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.dp.hazmat import max_zcdp_within
from shopveil.errors import BudgetExceeded, ParameterError, PrivacyError
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_cobuy import (
    DPCoPurchase,
)
from shopveil.learn._interactions import Interactions, from_table, temporal_split
from shopveil.learn._popularity import unit_rows
from shopveil.learn._recommender import FitContext, NoSignalWarning
from shopveil.store import Store

# On a 12-day slice co-purchase is noise at every ε here; only one test is about that.
pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn._recommender.NoSignalWarning")


@pytest.fixture(scope="module")
def purchases() -> tuple[Interactions, Interactions]:
    table = bundled_online_retail()
    bought = pc.and_(
        pc.greater(table["Quantity"], 0), pc.invert(pc.starts_with(table["InvoiceNo"], "C"))
    )
    data = from_table(
        table.filter(bought), user="CustomerID", item="StockCode", time="InvoiceDate",
        catalogue=Catalogue.from_table(product_catalogue()),
    )  # fmt: skip
    return temporal_split(data, datetime(2010, 12, 9))


def _seeded(seed: int = 0) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


@given(st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=8))
def test_one_customer_moves_each_release_by_at_most_its_sensitivity(rows: list[list[bool]]) -> None:
    matrix = sparse.csr_matrix(np.array(rows, dtype=np.float64))
    unit = unit_rows(matrix).toarray()
    for x in unit:
        assert np.linalg.norm(x) <= 1 + 1e-12  # popularity: L2 sensitivity 1
        upper = np.triu(np.outer(x, x), k=1)
        assert np.linalg.norm(upper) <= 1 / math.sqrt(2) + 1e-12  # co-purchase: 1/√2


def test_fit_charges_the_ledger_once_and_refuses_a_retry_that_would_release_fresh_noise(
    purchases: tuple[Interactions, Interactions], store: Store
) -> None:
    train, _ = purchases
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("shop", CUSTOMER, ApproxDP(3.0, 1e-6))
    model = DPCoPurchase(ApproxDP(1.0, 1e-6))
    context = FitContext(ledger=ledger, dataset="shop", request_id="fit-1", rng=_seeded())
    model.fit(train, context)
    with pytest.raises(PrivacyError, match="already paid"):
        model.fit(train, context)  # same request id: nothing stored to replay
    spent = ledger.show("shop", CUSTOMER).spent
    assert isinstance(spent, ApproxDP)
    assert spent.epsilon == pytest.approx(1.0)


def test_a_fit_over_budget_is_refused_before_anything_is_computed(
    purchases: tuple[Interactions, Interactions], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, _ = purchases
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("shop", CUSTOMER, ApproxDP(0.5, 1e-6))

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("statistics computed before the budget was checked")

    monkeypatch.setattr("shopveil.learn._dp_cobuy.release_popularity", must_not_run)
    with pytest.raises(BudgetExceeded):
        DPCoPurchase(ApproxDP(1.0, 1e-6)).fit(train, FitContext(ledger=ledger, dataset="shop"))
    assert ledger.show("shop", CUSTOMER).spent == ApproxDP(0.0, 0.0)


def test_released_popularity_is_the_unit_row_sum_plus_noise_of_the_stated_scale(
    purchases: tuple[Interactions, Interactions], scratch_ledger: Ledger
) -> None:
    train, _ = purchases
    fitted = DPCoPurchase(ApproxDP(4.0, 1e-6)).fit(
        train, FitContext(ledger=scratch_ledger, rng=_seeded(1))
    )
    exact = np.asarray(unit_rows(train.matrix().astype(np.float64)).sum(axis=0)).ravel()
    rho = max_zcdp_within(ApproxDP(4.0, 1e-6)).rho * fitted.config.popularity_share
    sigma = 1 / math.sqrt(2 * rho)
    errors = fitted.popularity - exact
    assert abs(errors.mean()) < 4 * sigma / math.sqrt(len(errors))
    assert errors.std() == pytest.approx(sigma, rel=0.1)


def test_scores_use_only_the_customers_own_history_and_cold_customers_get_popularity(
    purchases: tuple[Interactions, Interactions], scratch_ledger: Ledger
) -> None:
    train, _ = purchases
    fitted = DPCoPurchase(ApproxDP(2.0, 1e-6)).fit(
        train, FitContext(ledger=scratch_ledger, rng=_seeded(2))
    )
    counts = train.counts()
    users = np.array([0, 1, 2])
    history = sparse.vstack([counts[users[:2]], sparse.csr_matrix((1, train.n_items))]).tocsr()
    scores = fitted.scores(users, history)
    assert scores.shape == (3, train.n_items)
    cold_order = np.argsort(-scores[2], kind="stable")[:20]
    assert np.array_equal(cold_order, np.argsort(-fitted.popularity, kind="stable")[:20])
    # Own past items come first for a customer with a history (repeat purchases).
    own = counts[users[0]].indices
    top = np.argsort(-scores[0])[: len(own)]
    assert set(top) == set(own)


def test_a_budget_too_small_for_co_purchase_warns_and_falls_back(
    purchases: tuple[Interactions, Interactions], scratch_ledger: Ledger
) -> None:
    train, _ = purchases
    with pytest.warns(NoSignalWarning, match="all noise"):
        fitted = DPCoPurchase(ApproxDP(0.01, 1e-6)).fit(
            train, FitContext(ledger=scratch_ledger, rng=_seeded(3))
        )
    assert not fitted.copurchase.any()
    assert np.isfinite(fitted.scores(np.array([0]), train.counts()[[0]])).all()


def test_seeded_fits_are_reproducible(
    purchases: tuple[Interactions, Interactions], scratch_ledger: Ledger
) -> None:
    train, _ = purchases
    a = DPCoPurchase(ApproxDP(8.0, 1e-6)).fit(
        train, FitContext(ledger=scratch_ledger, rng=_seeded(4))
    )
    b = DPCoPurchase(ApproxDP(8.0, 1e-6)).fit(
        train, FitContext(ledger=scratch_ledger, rng=_seeded(4))
    )
    assert np.array_equal(a.popularity, b.popularity)
    assert np.array_equal(a.copurchase, b.copurchase)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": ApproxDP(1.0, 0.0)}, "delta > 0"),
        ({"budget": PureDP(1.0)}, "ApproxDP"),
        ({"budget": ApproxDP(0.0, 1e-6)}, "epsilon > 0"),
        ({"budget": ApproxDP(1.0, 1e-6), "popularity_share": 1.0}, "popularity_share"),
        ({"budget": ApproxDP(1.0, 1e-6), "top_items": 1}, "top_items"),
        ({"budget": ApproxDP(1.0, 1e-6), "text_weight": -1.0}, "text_weight"),
    ],
)
def test_bad_configuration_is_refused_with_the_parameter_named(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        DPCoPurchase(**kwargs)  # type: ignore[arg-type]


def test_catalogue_text_links_items_of_one_product_family() -> None:
    from shopveil.learn._text import text_neighbours

    texts = ["LUNCH BAG RED RETROSPOT", "LUNCH BAG PINK POLKADOT", "WHITE METAL LANTERN", ""]
    near = text_neighbours(texts, neighbours=2).toarray()
    assert near[0, 1] > 0 and near[0, 2] == 0
    assert near[3].sum() == 0 and np.all(np.diag(near) == 0)


def test_table_without_text_still_fits(scratch_ledger: Ledger) -> None:
    table = pa.table(
        {"u": ["a", "a", "b", "c"], "i": ["x", "y", "x", "z"],
         "t": pa.array([datetime(2020, 1, d) for d in (1, 2, 3, 4)])}
    )  # fmt: skip
    data = from_table(
        table, user="u", item="i", time="t", catalogue=Catalogue(np.array(["x", "y", "z"]))
    )
    with pytest.warns(NoSignalWarning):
        fitted = DPCoPurchase(ApproxDP(1.0, 1e-6)).fit(
            data, FitContext(ledger=scratch_ledger, rng=_seeded(5))
        )
    assert fitted.text is None
    assert fitted.scores(np.array([0]), data.counts()[[0]]).shape == (1, 3)


def test_without_a_budget_the_model_fits_exact_statistics_and_charges_nothing(
    purchases: tuple[Interactions, Interactions], store: Store
) -> None:
    train, _ = purchases
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    exact = DPCoPurchase(None).fit(train, FitContext(ledger=ledger, dataset="shop"))
    expected = np.asarray(unit_rows(train.matrix().astype(np.float64)).sum(axis=0)).ravel()
    assert exact.privacy is None
    assert np.array_equal(exact.popularity, expected)
    assert exact.copurchase.any()
    with pytest.raises(ParameterError, match="unknown dataset"):
        ledger.show("shop", CUSTOMER)


def test_a_private_fit_without_a_ledger_is_refused(
    purchases: tuple[Interactions, Interactions],
) -> None:
    train, _ = purchases
    with pytest.raises(ParameterError, match="charges the budget ledger"):
        DPCoPurchase(ApproxDP(1.0, 1e-6)).fit(train, FitContext(rng=_seeded(6)))
