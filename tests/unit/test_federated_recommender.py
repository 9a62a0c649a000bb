"""The federated recommender (federated MF on Flower's ClientApp) and personalization."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

from _federated_data import synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger, PeopleKey
from shopveil.errors import BudgetExceeded, ParameterError, PrivacyError
from shopveil.federated import (
    RECOMMENDER_TRAINING,
    ChurnData,
    DPFedAvgConfig,
    Factorization,
    FederatedRun,
    LocalTraining,
    Partition,
    recommender_data,
    simulate,
    simulate_recommender,
)
from shopveil.federated._dp import sensitivity
from shopveil.federated._recsys import FactorTask, item_gradient
from shopveil.learn import solve_factors
from shopveil.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::shopveil._core.rng.InsecureRandomnessWarning")

UNIT = PerCustomer("customer")
COUNTRIES = ("United Kingdom", "France", "Germany")


def purchases(customers: int = 90, items: int = 45, seed: int = 5) -> pa.Table:
    """Each country buys mostly from its own third of the items (non-IID), a customer
    from a favourite handful of it, before and after 2011-07-01."""
    rng = np.random.default_rng(seed)
    names = ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "CustomerID", "Country")
    rows: dict[str, list[object]] = {k: [] for k in names}
    third = items // 3
    for c in range(customers):
        home = c % 3
        favourites = home * third + rng.choice(third, 6, replace=False)
        for day in rng.choice(400, 14, replace=False):
            item = favourites[rng.integers(6)] if rng.random() < 0.85 else rng.integers(items)
            rows["InvoiceNo"].append(f"{500000 + len(rows['InvoiceNo'])}")
            rows["StockCode"].append(f"SKU{item:03d}")
            rows["Quantity"].append(1)
            rows["InvoiceDate"].append(datetime(2010, 12, 1) + timedelta(days=int(day)))
            rows["CustomerID"].append(f"{12000 + c}.0")
            rows["Country"].append(COUNTRIES[home])
    return pa.table(rows)


DATA = recommender_data(purchases())
MODEL = Factorization(factors=4)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'fl.db'}")
    ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
    ledger.set_budget("retail", UNIT, ApproxDP(10.0, 1e-4))
    yield ledger
    store.close()


def test_the_task_reads_countries_and_the_split() -> None:
    assert len(DATA.customers) == 90 and DATA.customers[0] == "12000"
    assert DATA.country[:3] == ("United Kingdom", "France", "Germany")
    assert DATA.train.all() and DATA.rows.shape == (90, DATA.n_items)
    assert len(DATA.after) > 0 and DATA.after.times.min() >= np.datetime64("2011-07-01")
    with pytest.raises(ParameterError, match="Country"):
        recommender_data(purchases().drop_columns(["Country"]))


def test_item_gradient_is_the_gradient_of_the_loss() -> None:
    """Finite differences of ALS's loss, the customers' factors held at the solved ones."""
    rng = np.random.default_rng(1)
    y = rng.normal(0, 0.3, (DATA.n_items, MODEL.factors))
    rows = DATA.rows[:7]
    x = solve_factors(rows * MODEL.alpha, y, reg=MODEL.reg, steps=MODEL.solve_steps)
    p = rows.toarray()

    def loss(items: np.ndarray) -> float:
        return float(((1 + MODEL.alpha * p) * (p - x @ items.T) ** 2).sum() / 7)

    grad = item_gradient(y, rows, MODEL)
    for i, f in [(0, 0), (3, 2), (17, 1), (40, 3)]:
        bump = np.zeros_like(y)
        bump[i, f] = 1e-6
        assert grad[i, f] == pytest.approx((loss(y + bump) - loss(y - bump)) / 2e-6, rel=1e-4)


@settings(max_examples=25, deadline=None)
@given(
    customer=st.integers(0, 89),
    clip=st.floats(0.01, 50.0),
    scale=st.floats(0.01, 3.0),
)
def test_one_customer_moves_the_integer_sum_at_most_the_sensitivity(
    customer: int, clip: float, scale: float
) -> None:
    weights = np.random.default_rng(customer).normal(0, scale, DATA.dim(MODEL))
    step = clip * 1e-3
    total, _ = FactorTask(DATA, MODEL).clipped_sum(
        weights, np.array([customer]), RECOMMENDER_TRAINING, clip, step
    )
    assert np.linalg.norm(total) <= sensitivity(clip, step, DATA.dim(MODEL))


def test_unclipped_per_customer_change_is_one_gradient_step() -> None:
    """The rank-one shortcut forms the same change as the full gradient of one customer."""
    task = FactorTask(DATA, MODEL)
    weights = np.random.default_rng(2).normal(0, 0.2, DATA.dim(MODEL))
    training = LocalTraining(learning_rate=0.5)
    step = 1e-9
    total, within = task.clipped_sum(weights, np.array([4, 9]), training, 1e9, step)
    y = weights[: DATA.n_items * MODEL.factors].reshape(DATA.n_items, -1)
    expected = -0.5 * sum(item_gradient(y, DATA.rows[[u]], MODEL) for u in (4, 9))
    np.testing.assert_allclose(
        total[: y.size] * step, expected.ravel(), atol=1e-6 * np.abs(expected).max()
    )
    assert within == 2


def test_federated_by_country_matches_central_als() -> None:
    run = FederatedRun(rounds=3, training=RECOMMENDER_TRAINING)
    result = simulate_recommender(DATA, run, how=Partition.COUNTRY, model=MODEL, seed=1)
    assert result.clients == 3 and result.rounds == 3
    assert result.central_recall > 0.3  # the structure is learnable
    assert result.recall >= 0.9 * result.central_recall
    # Item factors and a popularity per item, float64, from each of the three clients.
    assert result.bytes_per_round == 3 * DATA.n_items * (MODEL.factors + 1) * 8
    assert set(result.per_country) == set(COUNTRIES)
    out = result.as_dict()
    assert {"recall@20", "ndcg@20", "central_recall@20", "central_ndcg@20"} <= set(out)


def test_secure_aggregation_gives_the_plain_factors() -> None:
    run = FederatedRun(rounds=2, training=RECOMMENDER_TRAINING)
    plain = simulate_recommender(DATA, run, model=MODEL, seed=4)
    masked = simulate_recommender(
        DATA, FederatedRun(rounds=2, training=RECOMMENDER_TRAINING, secure_aggregation=True),
        model=MODEL, seed=4,
    )  # fmt: skip
    np.testing.assert_allclose(masked.weights, plain.weights, atol=1e-5)


def test_dp_by_customer_charges_every_customer_once(ledger: Ledger) -> None:
    dp = DPFedAvgConfig(ApproxDP(8.0, 1e-5), clip=5.0)
    run = FederatedRun(rounds=2, training=RECOMMENDER_TRAINING, dp=dp)
    result = simulate_recommender(
        DATA, run, how=Partition.CUSTOMER, model=MODEL, ledger=ledger, dataset="retail",
        request_id="rec-1", seed=3,
    )  # fmt: skip
    assert result.clients == 90 and result.noise_multiplier is not None
    assert all(math.isfinite(v) for v in result.weights)
    for someone in (DATA.customers[0], DATA.customers[89]):
        spent = ledger.person_spent(someone, UNIT, ApproxDP(10.0, 1e-4))
        assert isinstance(spent, ApproxDP) and spent.epsilon == pytest.approx(8.0)
    # The same request again would be a second model for one charge: refused.
    with pytest.raises(PrivacyError, match="already paid"):
        simulate_recommender(
            DATA, run, how=Partition.CUSTOMER, model=MODEL, ledger=ledger, dataset="retail",
            request_id="rec-1", seed=3,
        )  # fmt: skip
    # A new one does not fit in a budget of 10: every customer is left out.
    with pytest.raises(BudgetExceeded):
        simulate_recommender(
            DATA, run, how=Partition.CUSTOMER, model=MODEL, ledger=ledger, dataset="retail",
            request_id="rec-2",
        )  # fmt: skip
    spent = ledger.person_spent(DATA.customers[0], UNIT, ApproxDP(10.0, 1e-4))
    assert isinstance(spent, ApproxDP) and spent.epsilon == pytest.approx(8.0)


def test_personalized_recommender_reports_both_per_country() -> None:
    run = FederatedRun(rounds=2, training=RECOMMENDER_TRAINING)
    result = simulate_recommender(DATA, run, model=MODEL, personalize=RECOMMENDER_TRAINING, seed=6)
    for row in result.per_country.values():
        assert {"recall@20", "personalized_recall@20", "personalized_ndcg@20"} <= set(row)


def _two_worlds() -> ChurnData:
    """Germany's customers churn for the opposite reason to everyone else's."""
    base = synthetic(n=500, seed=8)
    germany = np.array(base.country) == "Germany"
    germany[:160] = True
    country = tuple("Germany" if g else c for g, c in zip(germany, base.country, strict=True))
    y = base.y.copy()
    y[germany] = 1 - y[germany]
    return ChurnData(base.customers, base.x, y, country, base.train, base.raw)


def test_personalization_helps_the_country_unlike_the_rest() -> None:
    data = _two_worlds()
    run = FederatedRun(rounds=10)
    result = simulate(data, run, how=Partition.COUNTRY, personalize=LocalTraining(epochs=5), seed=7)
    assert result.personalized_auc is not None
    assert result.per_country_personalized_auc["Germany"] > result.per_country_auc["Germany"] + 0.1
    assert result.personalized_auc > result.auc
