"""Noise scales of the private recommenders, PATE and DP k-means, measured black-box.

Each test releases many noisy coordinates whose true value it knows and checks that
their spread is what the privacy map promises for the budget charged, given the
sensitivity the module documents (see ``_noise`` for the margins). Halving a noise
scale or a sensitivity constant in the source makes each of them fail.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _noise import (
    MIN_DRAWS,
    assert_noise,
    assert_scale,
    discrete_gaussian_sd,
    discrete_laplace_sd,
    interactions,
    measured_sd,
    seeded,
)
from _people import PEOPLE_KEY

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.dp.hazmat import as_bits, max_zcdp_within
from shopveil.learn._baselines import DPPopularity
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_als import DPALS, noisy
from shopveil.learn._dp_cobuy import DPCoPurchase
from shopveil.learn._features import CustomerFeatures
from shopveil.learn._interactions import Interactions
from shopveil.learn._kmeans import DPKMeansConfig, dp_kmeans
from shopveil.learn._pate_aggregate import GNMaxConfig, aggregate_votes
from shopveil.learn._recommender import FitContext
from shopveil.store import Store

# The tests release noise on purpose; the all-noise warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn._recommender.NoSignalWarning")


def _spent(ledger: Ledger, dataset: str, unit: PerCustomer = CUSTOMER) -> object:
    return ledger.show(dataset, unit).spent


# --- DP popularity -------------------------------------------------------------------


def _one_buyer_per_item(n: int) -> Interactions:
    """``n`` customers, each buying one item of its own: every true count is 1."""
    index = np.arange(n)
    return interactions(index, index, n, n)


@pytest.mark.parametrize("m", [4, 8])
def test_dp_popularity_laplace_noise_is_m_over_epsilon(scratch_ledger: Ledger, m: int) -> None:
    # One customer counts in at most m items: L1 sensitivity m, so PureDP(ε) promises
    # discrete Laplace noise of scale m / ε.
    train = _one_buyer_per_item(MIN_DRAWS)
    context = FitContext(ledger=scratch_ledger, dataset="pop-l", rng=seeded(1))
    model = DPPopularity(PureDP(1.0), max_items_per_user=m).fit(train, context)
    charged = _spent(scratch_ledger, "pop-l")
    assert isinstance(charged, PureDP | ApproxDP)
    assert_noise(model.counts - 1, discrete_laplace_sd(m / charged.epsilon), "dp-popularity")


@pytest.mark.parametrize("m", [4, 8])
def test_dp_popularity_gaussian_noise_is_root_m_over_root_two_rho(
    scratch_ledger: Ledger, m: int
) -> None:
    # L2 sensitivity √m: ZCDP(ρ) promises σ = √m / √(2ρ).
    rho = 0.5
    train = _one_buyer_per_item(MIN_DRAWS)
    context = FitContext(ledger=scratch_ledger, dataset="pop-g", rng=seeded(2))
    model = DPPopularity(ZCDP(rho), max_items_per_user=m).fit(train, context)
    promised = discrete_gaussian_sd(math.sqrt(m) / math.sqrt(2 * rho))
    assert_noise(model.counts - 1, promised, "dp-popularity (zCDP)")


# --- DP co-purchase ------------------------------------------------------------------


def test_dp_cobuy_both_releases_have_the_promised_noise(scratch_ledger: Ledger) -> None:
    # 2,000 customers each buy all of the first 100 items, nobody buys the other 10,000.
    # Unit rows are 1/√100 per item: popularity 20 on a bought item, 0 elsewhere, and
    # every co-purchase cell of two bought items is 2,000 / 100 = 20, far above the
    # noise, so the soft threshold only shifts those cells and the Wiener gain is 1 to
    # within 0.1%.
    customers, bought, empty = 2_000, 100, MIN_DRAWS
    users = np.repeat(np.arange(customers), bought)
    items = np.tile(np.arange(bought), customers)
    train = interactions(users, items, customers, bought + empty)
    budget = ApproxDP(20.0, 1e-6)
    config = DPCoPurchase(budget, top_items=bought, repeat_weight=0.0)
    context = FitContext(ledger=scratch_ledger, dataset="cobuy", rng=seeded(3))
    fitted = config.fit(train, context)
    charged = _spent(scratch_ledger, "cobuy")
    assert isinstance(charged, ApproxDP)
    rho = max_zcdp_within(charged).rho

    # Release 1: L2 sensitivity 1 on ρ·share.
    truth = np.r_[np.full(bought, customers / math.sqrt(bought)), np.zeros(empty)]
    promised = 1 / math.sqrt(2 * rho * config.popularity_share)
    assert_noise(fitted.popularity - truth, promised, "dp-cobuy popularity")

    # Release 2: L2 sensitivity 1/√2 on the rest of ρ.
    assert np.array_equal(fitted.kept, np.arange(bought))
    norms = np.sqrt(np.maximum(fitted.popularity[fitted.kept], 1.0))
    cells = (fitted.copurchase.astype(np.float64) * norms[:, None] * norms[None, :])[
        np.triu_indices(bought, k=1)
    ]
    assert np.all(cells > 0)  # none was thresholded to zero: each is 20 + noise − 2σ
    promised = (1 / math.sqrt(2)) / math.sqrt(2 * rho * (1 - config.popularity_share))
    centred = cells - cells.mean()  # the threshold's shift, 2σ, is the same in every cell
    assert_scale(measured_sd(centred, min_draws=4_000), promised, "dp-cobuy co-purchase", 0.12)


# --- DP-ALS --------------------------------------------------------------------------


def test_dp_als_item_counts_have_the_promised_noise(scratch_ledger: Ledger) -> None:
    # Every customer buys one item, weighted 1/√1: every true count is 1, sensitivity 1.
    rho = 2.0
    config = DPALS(ZCDP(rho), n_items_kept=50)
    context = FitContext(ledger=scratch_ledger, dataset="als", rng=seeded(4))
    fitted = config.fit(_one_buyer_per_item(MIN_DRAWS), context)
    promised = 1 / math.sqrt(2 * rho * config.count_share)
    assert_noise(fitted.counts - 1, promised, "dp-als counts")


@pytest.mark.parametrize("clip", [1.0, 3.0])
def test_dp_als_releases_add_up_to_the_charged_rho(clip: float) -> None:
    # The item statistics use the σ's of noise_scales(); drawn with them they have that
    # spread, and Δ²/(2σ²) over the counts (Δ = 1), B (Δ = C) and G (Δ = C²) of every
    # iteration adds up to the charged ρ.
    config = DPALS(ZCDP(1.5), iterations=3, clip=clip, rank=4)
    s = config.noise_scales()
    spent = 1 / (2 * s.counts**2) + config.iterations * (
        clip**2 / (2 * s.b**2) + clip**4 / (2 * s.gram**2)
    )
    assert spent == pytest.approx(config.rho, rel=1e-9)
    bits = as_bits(seeded(5))
    zeros = np.zeros(MIN_DRAWS)
    m = config.max_items_per_user
    for sigma, sensitivity, what in ((s.b, clip, "B"), (s.gram, clip**2, "G")):
        released = noisy(zeros, sigma, sensitivity, m * config.rank, bits)
        assert_noise(released, sigma, f"dp-als {what}")


# --- PATE ----------------------------------------------------------------------------


def _difference_tail(sigma: float, d: int) -> float:
    """P(Z₀ − Z₁ ≥ d) for independent discrete Gaussians: label 0 wins a [0, d] vote."""
    support = np.arange(-math.ceil(12 * sigma) - 4, math.ceil(12 * sigma) + 5)
    pmf = np.exp(-(support.astype(np.float64) ** 2) / (2 * sigma**2))
    pmf /= pmf.sum()
    diff = np.convolve(pmf, pmf[::-1])
    values = np.arange(2 * support[0], 2 * support[-1] + 1)
    return float(diff[values >= d].sum())


def _tail(sigma: float, t: int) -> float:
    """P(Z ≥ t) for one discrete Gaussian."""
    support = np.arange(-math.ceil(12 * sigma) - 4, math.ceil(12 * sigma) + 5)
    pmf = np.exp(-(support.astype(np.float64) ** 2) / (2 * sigma**2))
    return float(pmf[support >= t].sum() / pmf.sum())


def _invert(probability: float, curve: object) -> float:
    """The σ at which the increasing ``curve(σ)`` reaches ``probability`` (bisection)."""
    assert callable(curve)
    low, high = 0.5, 500.0
    for _ in range(60):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if curve(mid) < probability else (low, mid)
    return math.sqrt(low * high)


def _charged_rho(result_epsilon: ApproxDP) -> float:
    """The ρ the charged (ε, δ) stands for: the largest whose RDP curve converts to it."""
    return max_zcdp_within(result_epsilon).rho


def test_gnmax_vote_noise_is_what_the_charge_promises() -> None:
    # A vote [0, d] goes to label 0 when Z₀ − Z₁ ≥ d: its frequency over 30,000 queries
    # gives σ₂ to about 1.4% (dp/dln σ ≈ 0.22 at d = σ; a halved σ gives p 0.08, not 0.24).
    sigma, d, n = 20.0, 20, 30_000
    votes = np.tile([0, d], (n, 1))
    result = aggregate_votes(votes, GNMaxConfig(sigma), ApproxDP(1e4, 1e-5), rng=seeded(6))
    assert result.answered == n
    frequency = float(np.mean(result.labels == 0))
    measured = _invert(frequency, lambda s: _difference_tail(s, d))
    # Each answer's count vector has L2 sensitivity √2: ρ = 2/(2σ²) per answer.
    per_answer = _charged_rho(result.independent) / result.answered
    promised = math.sqrt(2) / math.sqrt(2 * per_answer)
    assert_scale(measured, promised, "GNMax σ₂")
    assert_scale(measured, sigma, "GNMax σ₂ (configured)")


def test_confident_gnmax_check_and_vote_noise_are_what_the_charge_promises() -> None:
    # Votes [0, 20] and T = 30: a query is answered when 20 + Z₁ ≥ 30 (p ≈ 0.31),
    # and an answer is label 0 when Z₀ − Z₁ ≥ 20 (p ≈ 0.24).
    sigma1, sigma2, d, threshold, n = 20.0, 20.0, 20, 30, 40_000
    votes = np.tile([0, d], (n, 1))
    config = GNMaxConfig(sigma2, threshold=float(threshold), threshold_sigma=sigma1)
    result = aggregate_votes(votes, config, ApproxDP(1e4, 1e-5), rng=seeded(7))
    assert result.checked == n
    answered = result.labels >= 0
    measured1 = _invert(float(np.mean(answered)), lambda s: _tail(s, threshold - d))
    frequency = float(np.mean(result.labels[answered] == 0))
    measured2 = _invert(frequency, lambda s: _difference_tail(s, d))
    assert_scale(measured1, sigma1, "confident-GNMax σ₁ (configured)")
    assert_scale(measured2, sigma2, "confident-GNMax σ₂ (configured)")
    # The threshold check has sensitivity 1 (ρ = 1/(2σ₁²) each), an answer √2 (1/σ₂²):
    # the measured σ's must account for the whole charge.
    implied = result.checked / (2 * measured1**2) + result.answered / measured2**2
    assert_scale(implied, _charged_rho(result.independent), "confident-GNMax ρ", 0.15)


# --- DP k-means ----------------------------------------------------------------------


def test_dp_kmeans_count_and_sum_noise_are_what_the_budget_promises(tmp_path: Path) -> None:
    # One cluster, identical customers: 30 coordinates sit at the box centre (true sum 0)
    # and 30 at 0.4 from it. The centroid is (S + Z_s) / (N + Z_c): the centre coordinates
    # give Z_s, the others give N + Z_c. Counts (sensitivity 1) get 1% of each round's ρ
    # so that Z_c stands far above what Z_s adds to its estimate. The 400 runs charge
    # every customer ρ = 400 in zCDP, which an (ε, δ) account could not hold.
    store = Store.open(f"sqlite:///{tmp_path / 'kmeans.db'}")
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("km", CUSTOMER, ZCDP(1e6))
    n, dims, runs, rho = 2_000, 60, 400, 1.0
    names = tuple(f"f{i}" for i in range(dims))
    caps = dict.fromkeys(names, 3.0)  # log1p(1)/log1p(3) = 1/2: the value 1 is the centre
    values = np.ones((n, dims))
    values[:, dims // 2 :] = 4**0.9 - 1  # log1p(x)/log1p(3) = 0.9
    features = CustomerFeatures(tuple(str(i) for i in range(n)), values, names)
    config = DPKMeansConfig(1, ZCDP(rho), iterations=1, count_share=0.01, spread=0.0)
    rng = seeded(8)
    sums, counts = [], []
    centre = slice(0, dims // 2)
    offset = 4**0.9 - 1
    shifted = math.log1p(offset) / math.log1p(3.0) - 0.5
    for run in range(runs):
        model = dp_kmeans(
            features, config=config, ledger=ledger, dataset="km", request_id=f"km{run}",
            caps=caps, rng=rng,
        )  # fmt: skip
        centroid = model.centroids[0] - 0.5
        size = n * shifted / centroid[dims // 2 :].mean()  # N + Z_c
        sums.append(centroid[centre] * size)
        counts.append(size - n)
    store.close()
    each = rho / (config.iterations + 1)
    sum_sigma = (math.sqrt(dims) / 2) / math.sqrt(2 * each * (1 - config.count_share))
    count_sigma = 1 / math.sqrt(2 * each * config.count_share)
    assert_noise(np.concatenate(sums), sum_sigma, "dp k-means sums")
    # Each run's N + Z_c estimate carries the mean sum noise of 30 coordinates: remove
    # its variance. 400 runs give σ_c to about 4%; 20% is 5 standard errors.
    contamination = (sum_sigma / math.sqrt(dims // 2) / shifted) ** 2
    measured = math.sqrt(max(float(np.mean(np.square(counts))) - contamination, 0.0))
    assert_scale(measured, count_sigma, "dp k-means counts", 0.2)
