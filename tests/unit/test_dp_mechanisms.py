"""Mechanisms: privacy maps, check(), calibration, grid releases, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil.dp import (
    gaussian_for,
    half_width,
    laplace_for,
    make_above_threshold,
    make_exponential_mechanism,
    make_gaussian,
    make_laplace,
    make_partition_selection,
    make_quantile,
    make_top_k,
    partition_selection_for,
)
from shopveil.errors import ParameterError

epsilons = st.floats(min_value=1e-3, max_value=20, allow_nan=False)
sensitivities = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


@given(eps=epsilons, sens=sensitivities, integer=st.booleans(), k=st.integers(1, 50))
def test_calibrated_laplace_fits_its_budget(eps: float, sens: float, integer: bool, k: int) -> None:
    m = laplace_for(PureDP(eps), sens, integer=integer, changed_coordinates=k)
    assert m.check(sens, PureDP(eps))
    spent = m.map(sens)
    assert isinstance(spent, PureDP)
    # no more than 0.1% more noise than the budget needs, beyond rounding the sensitivity
    if not integer:
        assert spent.epsilon > eps * (1 - 1e-3) * sens / (sens + k * m.granularity)  # type: ignore[operator]


@given(rho=st.floats(1e-4, 10), sens=sensitivities, integer=st.booleans(), k=st.integers(1, 10_000))
def test_calibrated_gaussian_fits_its_budget(
    rho: float, sens: float, integer: bool, k: int
) -> None:
    m = gaussian_for(ZCDP(rho), sens, integer=integer, changed_coordinates=k)
    assert m.check(sens, ZCDP(rho))
    assert not m.check(sens * 1.01 + 1, ZCDP(rho))


def test_privacy_maps_are_linear_in_the_distance() -> None:
    lap = make_laplace(2.0)
    assert lap.map(1) == PureDP(0.5)
    assert lap.map(4) == PureDP(2.0)
    gau = make_gaussian(2.0)
    assert gau.map(2) == ZCDP(0.5)
    assert make_exponential_mechanism(4.0).map(1) == PureDP(0.5)
    assert make_top_k(3, 6.0).map(1) == PureDP(1.0)
    assert make_above_threshold(5, 2.0, 4.0).map(1) == PureDP(1.0)
    assert make_quantile(0.5, [0.0, 1.0], 2.0).map(1) == PureDP(1.0)


def test_check_converts_between_kinds() -> None:
    lap = make_laplace(1.0)
    assert lap.check(1, ApproxDP(1.0, 1e-9))  # ε-DP is (ε, 0)-DP
    assert lap.check(1, ZCDP(0.5))  # ε-DP is ε²/2-zCDP
    assert not lap.check(1, ZCDP(0.49))
    assert not make_gaussian(1.0).check(1, PureDP(100.0))  # zCDP never fits pure DP


def test_grid_releases_are_exact_multiples_of_the_granularity() -> None:
    m = laplace_for(PureDP(0.3), 17.5, integer=False)
    assert m.granularity is not None
    data = np.array([0.1, 123.456, -9.99, 1e6 / 3])
    out = m(data)
    steps = out / m.granularity
    assert np.all(steps == np.rint(steps))


def test_integer_mechanisms_refuse_fractional_data() -> None:
    with pytest.raises(ParameterError, match="integers"):
        make_laplace(1.0)(np.array([0.5]))
    with pytest.raises(ParameterError, match="NaN"):
        make_laplace(1.0, granularity=0.5)(np.array([np.nan]))
    with pytest.raises(ParameterError, match="power of two"):
        make_laplace(1.0, granularity=0.3)


def test_inputs_are_not_mutated_and_shapes_kept() -> None:
    data = np.arange(12).reshape(3, 4)
    before = data.copy()
    out = make_laplace(1.0)(data)
    assert out.shape == (3, 4)
    assert np.array_equal(data, before)
    assert isinstance(make_laplace(1.0)(5), int)


@pytest.mark.parametrize("factory", [laplace_for, gaussian_for])
def test_stated_interval_covers_the_noise(factory) -> None:  # type: ignore[no-untyped-def]
    budget = PureDP(0.5) if factory is laplace_for else ZCDP(0.125)
    m = factory(budget, 3.0)
    hw = half_width(m, 0.05)
    noise = np.asarray(m(np.zeros(40_000, dtype=np.int64)))
    coverage = float((np.abs(noise) <= hw).mean())
    assert 0.94 <= coverage <= 0.97


def test_empirical_laplace_scale_matches_the_stated_scale() -> None:
    m = laplace_for(PureDP(0.25), 2.0)  # scale 8
    noise = np.asarray(m(np.zeros(100_000, dtype=np.int64)))
    q = math.exp(-1 / m.scale)
    assert abs(noise.var() / (2 * q / (1 - q) ** 2) - 1) < 0.05


def test_selection_mechanisms_pick_the_obvious_winner_at_high_epsilon() -> None:
    utilities = [0, 5, 100, 3]
    assert make_exponential_mechanism(0.5)(utilities) == 2
    assert make_top_k(2, 0.5)([0, 50, 100, 3]) == [2, 1]
    assert make_above_threshold(50, 0.5, 0.5)(np.array([1, 2, 300, 3])) == 2
    assert make_above_threshold(500, 0.5, 0.5)(np.array([1, 2, 3])) is None
    mask = make_partition_selection(0.5, 20)(np.array([0, 1, 500]))
    assert mask.tolist() == [False, False, True]
    data = np.linspace(0, 100, 1001)
    assert abs(make_quantile(0.5, np.linspace(0, 100, 101), 0.5)(data) - 50) <= 2


def test_partition_selection_calibration() -> None:
    m = partition_selection_for(ApproxDP(1.0, 1e-6), 3)
    spent = m.map(3)
    assert isinstance(spent, ApproxDP)
    assert spent.epsilon <= 1.0 and spent.delta <= 1e-6
    with pytest.raises(ParameterError, match="delta > 0"):
        partition_selection_for(ApproxDP(1.0, 0.0), 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_exponential_mechanism(0),
        lambda: make_exponential_mechanism(1.0)([]),
        lambda: make_exponential_mechanism(1.0)([1.0, float("nan")]),
        lambda: make_top_k(0, 1.0),
        lambda: make_above_threshold(1, 1.0, 1.0)(np.array([0.5])),
        lambda: make_quantile(1.5, [0, 1], 1.0),
        lambda: make_quantile(0.5, [1, 0], 1.0),
        lambda: laplace_for(PureDP(0.0), 1.0),
        lambda: make_laplace(1.0).map(-1),
    ],
)
def test_bad_parameters_raise_parameter_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError):
        call()
