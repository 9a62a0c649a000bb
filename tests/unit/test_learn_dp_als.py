"""Private ALS: the sensitivity bounds it relies on, its ledger charge, its scores."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow.compute as pc
import pytest
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.dp._bits import GeneratorBits
from shopveil.errors import BudgetExceeded, ParameterError, PrivacyError
from shopveil.learn import _dp_als
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_als import (
    DPALS,
    start_factors,
    stated,
    to_norm,
)
from shopveil.learn._interactions import Interactions, from_table, temporal_split
from shopveil.learn._popularity import bound_contributions, unit_rows
from shopveil.learn._recommender import FitContext, NoSignalWarning
from shopveil.store import Store

TARGET = ApproxDP(1.0, 1e-6)
# 691 customers over eight days: at ε = 1 the factors rarely rise above the noise; the one
# test about that fallback checks the warning.
pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn._recommender.NoSignalWarning")


@pytest.fixture(scope="module")
def train() -> Interactions:
    table = bundled_online_retail()
    bought = pc.and_(
        pc.greater(table["Quantity"], 0), pc.invert(pc.starts_with(table["InvoiceNo"], "C"))
    )
    data = from_table(
        table.filter(bought), user="CustomerID", item="StockCode", time="InvoiceDate",
        catalogue=Catalogue.from_table(product_catalogue()),
    )  # fmt: skip
    return temporal_split(data, datetime(2010, 12, 9))[0]


def _seeded(seed: int = 0) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def _bits(seed: int) -> GeneratorBits:
    return GeneratorBits(np.random.default_rng(seed))


rows_strategy = st.builds(
    lambda n, m, density, seed: sparse.random(
        n, m, density=density, format="csr", random_state=seed, data_rvs=np.ones
    ),
    st.integers(1, 30),
    st.integers(1, 40),
    st.floats(0.0, 1.0),
    st.integers(0, 2**31),
)


@given(rows_strategy, st.integers(1, 10), st.integers(1, 6), st.floats(0.01, 100.0))
def test_each_customer_term_is_within_its_sensitivity(
    rows: sparse.csr_matrix, m: int, rank: int, clip: float
) -> None:
    bounded = bound_contributions(rows, m, _bits(rank))
    assert np.diff(bounded.indptr).max(initial=0) <= m
    # Sampling keeps a subset of each customer's own items.
    assert (bounded.multiply(rows) != bounded).nnz == 0
    weighted = unit_rows(bounded)
    assert np.all(sparse.linalg.norm(weighted, axis=1) <= 1 + 1e-12)  # counts: Δ = 1
    raw = np.random.default_rng(m).normal(scale=50.0, size=(rows.shape[0], rank))
    users = to_norm(raw, clip)
    assert np.all(np.linalg.norm(users, axis=1) <= clip * (1 + 1e-12))  # G: Δ = C²
    for u in range(rows.shape[0]):  # B: each customer's outer product has ‖·‖_F ≤ C
        term = weighted[u].toarray().T @ users[u : u + 1]
        assert np.linalg.norm(term) <= clip * (1 + 1e-12)


@pytest.mark.parametrize(
    "target", [ApproxDP(1.0, 1e-6), ApproxDP(8.0, 1e-5), ApproxDP(0.1, 1e-8), ZCDP(0.05)]
)
def test_the_releases_compose_within_the_target(target: ApproxDP | ZCDP) -> None:
    config = DPALS(target, iterations=3)
    s = config.noise_scales()
    spent = s.rho_counts + config.iterations * (s.rho_b + s.rho_gram)
    assert spent <= config.rho * (1 + 1e-12)
    # Each σ meets its ρ at its sensitivity: 1 (counts), C (B), C² (G).
    c = config.clip
    for sigma, sens, rho in (
        (s.counts, 1, s.rho_counts),
        (s.b, c, s.rho_b),
        (s.gram, c * c, s.rho_gram),
    ):
        assert sens**2 / (2 * sigma**2) <= rho * (1 + 1e-12)
    if isinstance(target, ApproxDP):
        claim = stated(ZCDP(spent), target.delta)
        assert claim.epsilon <= target.epsilon and claim.delta <= target.delta
        assert config.cost.epsilon <= target.epsilon  # type: ignore[union-attr]
    else:
        assert config.cost == target


def test_the_ledger_is_charged_once_before_the_fit(train: Interactions, store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    context = FitContext(ledger, "retail", "fit-1", _seeded())
    fitted = DPALS(TARGET).fit(train, context)
    assert fitted.privacy is not None and fitted.privacy.epsilon <= TARGET.epsilon
    spent = ledger.show("retail", CUSTOMER).spent
    assert spent == fitted.privacy
    with pytest.raises(PrivacyError, match="already paid"):  # a retry would be fresh noise
        DPALS(TARGET).fit(train, FitContext(ledger, "retail", "fit-1", _seeded()))
    assert ledger.show("retail", CUSTOMER).spent == spent


def test_a_refused_fit_computes_nothing(
    train: Interactions, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("retail", CUSTOMER, ApproxDP(0.5, 1e-6))

    def no_compute(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed before the charge")

    monkeypatch.setattr(_dp_als, "bound_contributions", no_compute)
    with pytest.raises(BudgetExceeded):
        DPALS(TARGET).fit(train, FitContext(ledger, "retail", "fit-2"))
    assert ledger.show("retail", CUSTOMER).spent == ApproxDP(0.0, 0.0)


def test_scores_rank_kept_items_first_and_fall_back_to_dp_counts(
    train: Interactions, scratch_ledger: Ledger
) -> None:
    config = DPALS(ApproxDP(8.0, 1e-6), n_items_kept=50)
    fitted = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded()))
    history = train.matrix()
    users = np.array([0, 1, 2, 3])
    rows = history[users].tolil()
    rows[3, :] = 0  # a customer with no history
    scores = fitted.scores(users, rows.tocsr())
    assert scores.shape == (4, train.n_items) and np.all(np.isfinite(scores))
    unkept = np.setdiff1d(np.arange(train.n_items), fitted.kept)
    personal = np.flatnonzero(np.diff(rows.tocsr().indptr) > 0)
    for u in personal:
        assert scores[u, fitted.kept].min() > scores[u, unkept].max()
    # The empty row is ranked by the DP counts alone.
    assert np.array_equal(
        np.argsort(scores[3], kind="stable"), np.argsort(fitted.counts, kind="stable")
    )
    assert len(fitted.kept) == 50
    assert set(fitted.kept) == set(np.argsort(-fitted.counts, kind="stable")[:50])


def test_seeded_fits_are_reproducible(train: Interactions, scratch_ledger: Ledger) -> None:
    config = DPALS(ApproxDP(8.0, 1e-6), n_items_kept=100)
    a = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded(5)))
    b = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded(5)))
    c = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded(6)))
    assert a.factors.any()
    assert np.array_equal(a.factors, b.factors) and np.array_equal(a.counts, b.counts)
    assert not np.array_equal(a.factors, c.factors)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 1.0},
        {"epsilon": TARGET, "rank": 0},
        {"epsilon": TARGET, "clip": -1.0},
        {"epsilon": TARGET, "count_share": 1.0},
        {"epsilon": ApproxDP(1.0, 0.0)},
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        DPALS(**kwargs)  # type: ignore[arg-type]


def test_the_start_uses_the_public_texts_and_no_randomness() -> None:
    texts = ["red mug", "blue mug", "red cup", "blue cup", "tea pot", "tea cup", "red pot"]
    a = start_factors(len(texts), texts, 2, _bits(1))
    b = start_factors(len(texts), texts, 2, _bits(2))
    assert a.shape == (7, 2) and np.array_equal(a, b)
    # Without texts the start is random, drawn from the fit's noise source.
    c = start_factors(7, None, 2, _bits(1))
    assert c.shape == (7, 2) and not np.array_equal(c, start_factors(7, None, 2, _bits(2)))


def test_too_little_budget_falls_back_to_dp_popularity_with_a_warning(
    train: Interactions, scratch_ledger: Ledger
) -> None:
    with pytest.warns(NoSignalWarning):
        fitted = DPALS(ApproxDP(0.01, 1e-6)).fit(
            train, FitContext(ledger=scratch_ledger, rng=_seeded())
        )
    assert not fitted.factors.any()
    history = train.matrix()[:3]
    scores = fitted.scores(np.arange(3), history)
    kept_order = np.argsort(fitted.counts[fitted.kept], kind="stable")
    for row in scores:
        assert np.array_equal(np.argsort(row[fitted.kept], kind="stable"), kept_order)
