"""RDP accounting: Gaussian composition against Opacus, conversion, and PATE's GNMax bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil.dp._rdp import (
    DEFAULT_ORDERS,
    RdpAccountant,
    gaussian_rdp,
    gnmax_data_dependent_rdp,
    gnmax_log_q,
    max_zcdp_within,
    rdp_of_zcdp,
    rdp_to_approx_dp,
    threshold_rdp,
)
from shopveil.errors import ParameterError

opacus_rdp = pytest.importorskip("opacus.accountants.analysis.rdp")

sigmas = st.floats(min_value=0.5, max_value=200.0)
deltas = st.sampled_from([1e-3, 1e-5, 1e-8])


@pytest.mark.parametrize(("sigma", "steps"), [(1.0, 1), (1.0, 10), (5.0, 100), (40.0, 300)])
def test_gaussian_composition_matches_opacus(sigma: float, steps: int) -> None:
    orders = list(DEFAULT_ORDERS)
    ours = RdpAccountant().spend_gaussian(sigma, times=steps).total(delta=1e-5)
    theirs = opacus_rdp.compute_rdp(q=1.0, noise_multiplier=sigma, steps=steps, orders=orders)
    eps, _ = opacus_rdp.get_privacy_spent(orders=orders, rdp=theirs, delta=1e-5)
    assert ours.epsilon == pytest.approx(float(eps), rel=1e-12)
    assert ours.delta == 1e-5


def test_tight_conversion_beats_mironovs_and_the_zcdp_conversion() -> None:
    curve = gaussian_rdp(3.0) * 20
    tight = rdp_to_approx_dp(curve, 1e-6).epsilon
    grid = np.asarray(DEFAULT_ORDERS)
    mironov = float(np.min(curve + math.log(1e6) / (grid - 1)))
    zcdp = ZCDP(20 / (2 * 9.0)).to_approx_dp(1e-6).epsilon
    assert tight < mironov
    assert tight < zcdp


def test_zcdp_is_linear_in_the_order_and_equals_the_gaussian() -> None:
    np.testing.assert_allclose(rdp_of_zcdp(ZCDP(1 / 8)), gaussian_rdp(2.0))
    acc = RdpAccountant().spend(ZCDP(0.5), times=2)
    np.testing.assert_allclose(acc.rdp, np.asarray(DEFAULT_ORDERS))
    assert acc.releases == 2


@given(sigma=sigmas, delta=deltas, k=st.integers(1, 50), extra=st.integers(1, 50))
def test_more_composition_never_lowers_epsilon(
    sigma: float, delta: float, k: int, extra: int
) -> None:
    acc = RdpAccountant().spend_gaussian(sigma, times=k)
    more = acc.spend_gaussian(sigma, times=extra)
    assert more.total(delta=delta).epsilon >= acc.total(delta=delta).epsilon
    # the accountant is immutable: spending returned a new one
    assert acc.releases == k and more.releases == k + extra


@given(rho=st.floats(1e-4, 10.0), delta=deltas)
def test_conversion_is_at_least_as_tight_as_the_zcdp_one_and_nonnegative(
    rho: float, delta: float
) -> None:
    eps = rdp_to_approx_dp(rdp_of_zcdp(ZCDP(rho)), delta).epsilon
    assert 0 <= eps <= ZCDP(rho).to_approx_dp(delta).epsilon + 1e-9


@given(target=st.floats(0.1, 20.0), delta=deltas)
def test_max_zcdp_within_is_the_largest_rho_that_fits(target: float, delta: float) -> None:
    rho = max_zcdp_within(ApproxDP(target, delta)).rho
    assert rdp_to_approx_dp(rdp_of_zcdp(ZCDP(rho)), delta).epsilon <= target
    assert rdp_to_approx_dp(rdp_of_zcdp(ZCDP(rho * 1.001)), delta).epsilon > target


@given(
    counts=st.lists(st.integers(0, 300), min_size=2, max_size=6),
    sigma=sigmas,
    discrete=st.booleans(),
)
def test_data_dependent_bound_never_exceeds_the_data_independent_one(
    counts: list[int], sigma: float, discrete: bool
) -> None:
    log_q = gnmax_log_q(counts, sigma, discrete=discrete)
    assert log_q <= 0
    dependent = gnmax_data_dependent_rdp(log_q, sigma)
    independent = gaussian_rdp(sigma, sensitivity=math.sqrt(2))
    np.testing.assert_array_less(dependent, independent * (1 + 1e-12) + 1e-15)
    assert np.all(dependent >= 0)


def test_a_clear_consensus_gets_a_much_smaller_data_dependent_bound() -> None:
    sigma = 40.0
    log_q = gnmax_log_q([240, 5, 5], sigma)
    dependent = rdp_to_approx_dp(gnmax_data_dependent_rdp(log_q, sigma) * 100, 1e-5)
    independent = rdp_to_approx_dp(gaussian_rdp(sigma, sensitivity=math.sqrt(2)) * 100, 1e-5)
    assert dependent.epsilon < 0.3 * independent.epsilon
    # a tie gives q = 1: the theorem does not apply and the bound falls back
    tie = gnmax_data_dependent_rdp(gnmax_log_q([120, 120, 10], sigma), sigma)
    np.testing.assert_allclose(tie, gaussian_rdp(sigma, sensitivity=math.sqrt(2)))


def test_the_discrete_tail_bound_is_looser_than_the_continuous_one() -> None:
    for counts in ([50, 40, 0], [200, 10, 10], [30, 29]):
        assert gnmax_log_q(counts, 10.0) >= gnmax_log_q(counts, 10.0, discrete=False)


def test_continuous_log_q_is_the_union_bound_of_gaussian_tails() -> None:
    sigma = 7.0
    gaps = np.array([10.0, 25.0])
    expected = math.log(sum(0.5 * math.erfc(g / (2 * sigma)) for g in gaps))
    assert gnmax_log_q([60, 50, 35], sigma, discrete=False) == pytest.approx(expected)


def test_threshold_check_costs_half_an_answer() -> None:
    np.testing.assert_allclose(2 * threshold_rdp(5.0), gaussian_rdp(5.0, sensitivity=math.sqrt(2)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: gaussian_rdp(0.0),
        lambda: gaussian_rdp(1.0, orders=[1.0, 2.0]),
        lambda: rdp_to_approx_dp([1.0], 1e-5, orders=[2.0, 3.0]),
        lambda: rdp_to_approx_dp([1.0], 0.0, orders=[2.0]),
        lambda: gnmax_log_q([3], 1.0),
        lambda: gnmax_data_dependent_rdp(0.5, 1.0),
        lambda: RdpAccountant(rdp=(1.0,)),
        lambda: RdpAccountant().spend([1.0]),
        lambda: max_zcdp_within(ApproxDP(1.0, 0.0)),
    ],
)
def test_bad_parameters_are_refused(call: object) -> None:
    with pytest.raises(ParameterError):
        call()  # type: ignore[operator]
