"""The DP Gram-eigenspace recommender: sensitivity, noise scales, charge, denoising, modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _noise import MIN_DRAWS, assert_noise, interactions, seeded
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil.dp import Ledger
from shopveil.dp.hazmat import max_zcdp_within
from shopveil.errors import BudgetExceeded, ParameterError, PrivacyError
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_eigen import DPEigen, FittedDPEigen, denoised_eigenspace, release_gram
from shopveil.learn._interactions import Interactions
from shopveil.learn._popularity import unit_rows
from shopveil.learn._recommender import FitContext, NoSignalWarning
from shopveil.learn._registry import build_recommender, load_recommender, save_recommender
from shopveil.store import Store


def _clustered(users: int = 600, items: int = 60, seed: int = 0) -> Interactions:
    """Two taste groups, each buying 12 of its own 30 items: a clear rank-2 Gram matrix."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(users):
        group = u % 2
        chosen = rng.choice(30, size=12, replace=False) + 30 * group
        rows += [u] * len(chosen)
        cols += list(chosen)
    return interactions(np.array(rows), np.array(cols), users, items)


@given(st.lists(st.lists(st.booleans(), min_size=7, max_size=7), min_size=1, max_size=8))
def test_one_customer_moves_the_gram_triangle_by_at_most_one(rows: list[list[bool]]) -> None:
    unit = unit_rows(sparse.csr_matrix(np.array(rows, dtype=np.float64))).toarray()
    upper = np.triu_indices(7)
    for x in unit:
        assert np.linalg.norm(x) <= 1 + 1e-12  # popularity: L2 sensitivity 1
        assert np.linalg.norm(np.outer(x, x)[upper]) <= 1 + 1e-12  # Gram triangle: 1
    # The bound is reached (a customer with one item), so it cannot be halved.
    one = np.zeros(7)
    one[0] = 1.0
    assert np.linalg.norm(np.outer(one, one)[upper]) == pytest.approx(1.0)


def test_the_gram_release_has_the_noise_its_budget_promises() -> None:
    # 150 items: 11,325 released cells, each the true Gram cell plus noise σ = 1/√(2ρ).
    rho = 0.5
    data = _clustered(items=150)
    rows = unit_rows(data.matrix().astype(np.float64))
    truth = np.asarray((rows.T @ rows).todense())
    noisy, sigma = release_gram(rows, ZCDP(rho), seeded(1))
    assert sigma == pytest.approx(1 / math.sqrt(2 * rho), rel=0.01)  # the grid adds a little to σ
    upper = np.triu_indices(150)
    assert len(upper[0]) >= MIN_DRAWS
    assert_noise((noisy - truth)[upper], 1 / math.sqrt(2 * rho), "dp-eigen Gram")
    assert np.array_equal(noisy, noisy.T)


def test_a_fit_splits_its_charged_rho_between_popularity_and_the_gram(
    scratch_ledger: Ledger,
) -> None:
    # Every customer buys one item of their own: each popularity truth is 1.
    n = MIN_DRAWS
    index = np.arange(n)
    data = interactions(index, index, n, n)
    config = DPEigen(ApproxDP(2.0, 1e-6), top_items=50)
    with pytest.warns(NoSignalWarning):
        fitted = config.fit(data, FitContext(ledger=scratch_ledger, dataset="e", rng=seeded(2)))
    charged = scratch_ledger.show("e", CUSTOMER).spent
    assert isinstance(charged, ApproxDP)
    rho = max_zcdp_within(charged).rho
    assert_noise(
        fitted.popularity - 1, 1 / math.sqrt(2 * rho * config.popularity_share), "popularity"
    )
    # The edge is 2σ√m of the σ release_gram drew with (measured in the test above);
    # the grid adds a little to σ.
    sigma = fitted.noise_edge / (2 * math.sqrt(50))
    promised = 1 / math.sqrt(2 * rho * (1 - config.popularity_share))
    assert sigma == pytest.approx(promised, rel=0.01)


def test_fit_charges_the_ledger_once_and_refuses_a_retry(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("shop", CUSTOMER, ApproxDP(3.0, 1e-6))
    context = FitContext(ledger=ledger, dataset="shop", request_id="fit-1", rng=seeded(3))
    model = DPEigen(ApproxDP(1.0, 1e-6), top_items=40)
    model.fit(_clustered(), context)
    with pytest.raises(PrivacyError, match="already paid"):
        model.fit(_clustered(), context)
    spent = ledger.show("shop", CUSTOMER).spent
    assert isinstance(spent, ApproxDP)
    assert spent.epsilon == pytest.approx(1.0)


def test_a_fit_over_budget_is_refused_before_anything_is_computed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("shop", CUSTOMER, ApproxDP(0.5, 1e-6))

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("statistics computed before the budget was checked")

    monkeypatch.setattr("shopveil.learn._dp_eigen.release_popularity", must_not_run)
    with pytest.raises(BudgetExceeded):
        DPEigen(ApproxDP(1.0, 1e-6)).fit(_clustered(), FitContext(ledger=ledger, dataset="shop"))
    assert ledger.show("shop", CUSTOMER).spent == ApproxDP(0.0, 0.0)


def test_the_rank_is_read_off_the_noise_edge() -> None:
    rng = np.random.default_rng(4)
    m, sigma = 200, 1.0
    noise = np.triu(rng.normal(0, sigma, (m, m)))
    noise = noise + np.triu(noise, 1).T
    spike = np.ones(m) / math.sqrt(m)
    strong = 4 * sigma * math.sqrt(m)  # twice the edge 2σ√m
    vectors, weights, edge = denoised_eigenspace(noise + strong * np.outer(spike, spike), sigma, 10)
    assert edge == pytest.approx(2 * sigma * math.sqrt(m))
    assert len(weights) == 1 and abs(vectors[:, 0] @ spike) > 0.9
    _, none, _ = denoised_eigenspace(noise, sigma, 10)
    assert len(none) == 0


def test_a_fit_finds_the_taste_groups_and_scores_from_the_customers_own_history(
    scratch_ledger: Ledger,
) -> None:
    data = _clustered(users=2_000)
    config = DPEigen(ApproxDP(8.0, 1e-6), top_items=60, popularity_weight=0.0)
    fitted = config.fit(data, FitContext(ledger=scratch_ledger, rng=seeded(5)))
    assert fitted.rank >= 2
    history = sparse.csr_matrix(([1.0, 1.0], ([0, 1], [0, 45])), shape=(3, 60))
    scores = fitted.scores(np.arange(3), history)
    # A customer who bought item 0 is shown group 0's items, one who bought 45 group 1's.
    assert set(np.argsort(-scores[0])[:10]) <= set(range(30))
    assert set(np.argsort(-scores[1])[:10]) <= set(range(30, 60))
    # An empty history gets DP popularity.
    assert np.array_equal(
        np.argsort(-scores[2], kind="stable"), np.argsort(-fitted.popularity, kind="stable")
    )


def test_long_tail_mode_moves_lists_to_less_popular_items(scratch_ledger: Ledger) -> None:
    data = _clustered(users=2_000)
    # Within each group, popularity falls with the item index.
    rng = np.random.default_rng(6)
    keep = rng.random(len(data)) < 1 - 0.012 * (data.items % 30)
    data = interactions(data.users[keep], data.items[keep], data.n_users, data.n_items)
    history = data.counts()[:200]
    means = []
    for tail in (0.0, 1.0):
        fitted = DPEigen(ApproxDP(8.0, 1e-6), top_items=60, tail_weight=tail).fit(
            data, FitContext(ledger=scratch_ledger, rng=seeded(7))
        )
        scores = np.where(history.toarray() > 0, -np.inf, fitted.scores(np.arange(200), history))
        top = np.argsort(-scores, axis=1)[:, :5]
        means.append(float(np.log1p(np.maximum(fitted.popularity, 0))[top].mean()))
    assert means[1] < means[0]


def test_the_model_file_records_the_settings_and_the_rank(
    scratch_ledger: Ledger, tmp_path: object
) -> None:
    data = _clustered(users=2_000)
    config = build_recommender("dp-eigen", 8.0, {"top_items": 50, "tail_weight": 0.2})
    assert isinstance(config, DPEigen)
    fitted = config.fit(data, FitContext(ledger=scratch_ledger, rng=seeded(8)))
    assert isinstance(fitted, FittedDPEigen)
    path = save_recommender(fitted, tmp_path / "m.npz", train=data, config=config)  # type: ignore[operator]
    loaded, file = load_recommender(path)
    assert file.config["rank"] == fitted.rank and file.config["noise_edge"] == fitted.noise_edge
    assert file.privacy.params["top_items"] == 50 and file.privacy.params["tail_weight"] == 0.2
    history = data.counts()[:20]
    assert np.allclose(loaded.scores(np.arange(20), history), fitted.scores(np.arange(20), history))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"top_items": 0}, "top_items"),
        ({"max_rank": 1.5}, "max_rank"),
        ({"popularity_share": 1.0}, "popularity_share"),
        ({"tail_weight": -1.0}, "tail_weight"),
    ],
)
def test_bad_settings_name_the_parameter(options: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        build_recommender("dp-eigen", 1.0, options)
    with pytest.raises(ParameterError, match="finite --epsilon"):
        build_recommender("dp-eigen", None)
