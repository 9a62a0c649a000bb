"""The membership AUC an (ε, δ)-DP model allows: what the scorecard's verdict checks."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from shopveil.scorecard import max_membership_auc


@given(st.floats(0.0, 12.0), st.floats(0.0, 12.0))
def test_the_bound_grows_with_epsilon_from_a_coin_flip(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0.5 - 1e-9 <= max_membership_auc(low) <= max_membership_auc(high) + 1e-9 <= 1.0 + 1e-9


@given(st.floats(0.0, 10.0))
def test_pure_dp_bound_is_the_logistic_of_epsilon(epsilon: float) -> None:
    # The region's corner is (1/(1+e^ε), e^ε/(1+e^ε)); the area under it is e^ε/(1+e^ε).
    expected = 1.0 / (1.0 + math.exp(-epsilon))
    assert math.isclose(max_membership_auc(epsilon), expected, abs_tol=1e-6)


def test_delta_and_infinity_only_loosen_it() -> None:
    assert max_membership_auc(1.0, 0.01) > max_membership_auc(1.0)
    assert max_membership_auc(math.inf) == 1.0
