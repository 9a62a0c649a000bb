"""Typed budgets and composition: checked arithmetic, sound conversions, tightest bound."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Accountant, compose, fits
from shopveil.dp.hazmat import compose_advanced, compose_sequential, compose_zcdp, convert
from shopveil.errors import ParameterError

eps = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


@given(a=eps, b=eps)
def test_sequential_composition_adds(a: float, b: float) -> None:
    assert compose_sequential([PureDP(a), PureDP(b)]) == PureDP(a + b)
    mixed = compose_sequential([PureDP(a), ApproxDP(b, 1e-6)])
    assert isinstance(mixed, ApproxDP) and mixed.delta == 1e-6


@given(e=st.floats(0.001, 2.0), k=st.integers(1, 500))
def test_compose_is_never_worse_than_sequential(e: float, k: int) -> None:
    releases = [PureDP(e)] * k
    best = compose(releases, delta=1e-6)
    assert best.epsilon <= k * e + 1e-9
    assert best.delta <= 1e-6


def test_many_small_releases_compose_better_than_linearly() -> None:
    best = compose([PureDP(0.01)] * 1000, delta=1e-6)
    assert best.epsilon < 2.0  # sequential would say 10
    assert compose_advanced(PureDP(0.01), 1000, 1e-6).epsilon < 10


def test_zcdp_composition_and_conversions() -> None:
    assert compose_zcdp([ZCDP(0.1), PureDP(1.0)]) == ZCDP(0.6)
    assert convert(PureDP(1.0), ZCDP(1.0)) == ZCDP(0.5)
    assert convert(PureDP(1.0), ApproxDP(1.0, 1e-6)) == ApproxDP(1.0, 0.0)
    assert convert(ApproxDP(1.0, 0.0), PureDP(2.0)) == PureDP(1.0)
    approx = convert(ZCDP(0.5), ApproxDP(5.0, 1e-6))
    assert isinstance(approx, ApproxDP)
    assert math.isclose(approx.epsilon, 0.5 + 2 * math.sqrt(0.5 * math.log(1e6)))
    with pytest.raises(ParameterError, match="cannot charge"):
        convert(ApproxDP(1.0, 1e-6), PureDP(5.0))
    assert not fits(ZCDP(0.1), PureDP(100.0))


def test_accountant_is_immutable() -> None:
    a = Accountant()
    b = a.spend(PureDP(0.5)).spend(PureDP(0.5))
    assert a.releases == ()
    assert b.total(delta=1e-6).epsilon <= 1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: PureDP(-1.0),
        lambda: PureDP(float("nan")),
        lambda: ApproxDP(1.0, 1.0),
        lambda: ZCDP(float("inf")),
        lambda: PureDP(1.0) - PureDP(2.0),
        lambda: PureDP(1.0) + ZCDP(1.0),  # type: ignore[operator]
        lambda: PureDP(1.0) * -2,
        lambda: compose_advanced(PureDP(1.0), 3, 0.0),
        lambda: PerCustomer("", 1),
        lambda: PerCustomer("id", 0),
    ],
)
def test_invalid_values_are_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError):
        make()


def test_budget_scaling_and_units() -> None:
    assert PureDP(1.0) * 0.25 == PureDP(0.25)
    assert 2 * ZCDP(0.25) == ZCDP(0.5)
    assert PerRow().key == "row" and PerRow().max_contributions == 1
    unit = PerCustomer("CustomerID", 5)
    assert unit.key == "customer" and unit.max_contributions == 5


def test_compose_converts_zcdp_through_its_rdp_curve_when_that_is_tighter() -> None:
    from shopveil.dp.hazmat import DEFAULT_ORDERS, rdp_to_approx_dp

    total = compose([ZCDP(0.2), PureDP(0.5)], delta=1e-6)
    rho = 0.2 + 0.5**2 / 2
    via_rdp = rdp_to_approx_dp([rho * a for a in DEFAULT_ORDERS], 1e-6)
    assert total == via_rdp
    assert total.epsilon < ZCDP(rho).to_approx_dp(1e-6).epsilon


def test_the_recipes_and_the_primitives_are_exported_apart() -> None:
    import shopveil.dp
    from shopveil.dp import hazmat

    assert not set(shopveil.dp.__all__) & set(hazmat.__all__)
    assert not [name for name in hazmat.__all__ if hasattr(shopveil.dp, name)]
    for module in (shopveil.dp, hazmat):
        assert all(hasattr(module, name) for name in module.__all__)
