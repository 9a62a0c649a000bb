"""Customer-level DP-FedAvg: clipping bounds one customer, the noise matches the budget."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _noise import MIN_DRAWS, REL_TOL
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil.dp.hazmat import DEFAULT_ORDERS, rdp_to_approx_dp
from shopveil.errors import ParameterError
from shopveil.federated import DPFedAvgConfig, FederatedRun
from shopveil.federated._dp import (
    KAPPA,
    ClipMode,
    adapt_clip,
    clip_rows,
    noise_multiplier,
    run_zcdp,
    sensitivity,
    to_grid,
)
from shopveil.federated._server import _dp_step


def _epsilon(z: float, rounds: int, adaptive: bool, delta: float) -> float:
    """ε of the run, recomputed from its Gaussian releases: every round the update sum
    (noise z per unit of sensitivity), the count and, if adaptive, the clipped count
    (noise κz each)."""
    per_round = 1 / (2 * z * z) + (1 + adaptive) / (2 * (KAPPA * z) ** 2)
    curve = np.asarray(DEFAULT_ORDERS) * per_round * rounds
    return rdp_to_approx_dp(curve, delta).epsilon


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize(("epsilon", "rounds"), [(8.0, 20), (1.0, 5), (3.0, 100)])
def test_noise_multiplier_is_the_smallest_within_the_budget(
    epsilon: float, rounds: int, adaptive: bool
) -> None:
    z = noise_multiplier(ApproxDP(epsilon, 1e-5), rounds, adaptive=adaptive)
    assert _epsilon(z, rounds, adaptive, 1e-5) <= epsilon * (1 + 1e-9)
    # Tight: 5% less noise would spend more than the budget.
    assert _epsilon(0.95 * z, rounds, adaptive, 1e-5) > epsilon
    assert run_zcdp(z, rounds, adaptive=adaptive).rho == pytest.approx(
        rounds / (2 * z * z) * (1 + (1 + adaptive) / KAPPA**2)
    )


@settings(max_examples=60, deadline=None)
@given(
    clip=st.floats(0.01, 10),
    dim=st.integers(1, 30),
    scale=st.floats(1e-3, 1e4),
    seed=st.integers(0, 2**32 - 1),
)
def test_one_customer_moves_the_integer_sum_by_at_most_the_sensitivity(
    clip: float, dim: int, scale: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    updates = rng.normal(size=(5, dim)) * scale
    step = clip * 1e-3
    clipped, _ = clip_rows(updates, clip)
    with_all = to_grid(clipped, step).sum(axis=0)
    without_last = to_grid(clipped[:-1], step).sum(axis=0)
    assert np.linalg.norm((with_all - without_last).astype(float)) <= sensitivity(clip, step, dim)
    assert np.all(np.linalg.norm(clipped, axis=1) <= clip * (1 + 1e-12))


@pytest.mark.parametrize("clip", [0.5, 2.0])
def test_the_server_adds_the_calibrated_noise(clip: float) -> None:
    """The released mean update minus the true mean is noise of sd z·Δ·γ/n per weight:
    halving the noise, or calibrating it to half the clip, fails."""
    config = DPFedAvgConfig(ApproxDP(8.0, 1e-5), clip=clip)
    z = noise_multiplier(config.budget, 20, adaptive=False)
    run = FederatedRun(rounds=20, dp=config, noise=z)
    dim, count = 10, 10**9  # a huge count: the noisy count is the count
    draws = []
    rng = np.random.default_rng(0)
    while len(draws) * dim < MIN_DRAWS:
        total = np.concatenate([np.zeros(dim, dtype=np.int64), [count, count]])
        weights, _ = _dp_step(np.zeros(dim), total, run, clip, rng)
        draws.append(weights * count)
    measured = float(np.sqrt(np.mean(np.square(draws))))
    step = clip * config.grid
    expected = z * (clip / step + math.sqrt(dim) / 2) * step
    assert measured == pytest.approx(expected, rel=REL_TOL)


def test_adaptive_clip_moves_towards_the_target_quantile() -> None:
    config = DPFedAvgConfig(ApproxDP(8, 1e-5), clip=1.0, mode=ClipMode.ADAPTIVE)
    assert adapt_clip(1.0, 90, 100, config) < 1.0  # most within: shrink
    assert adapt_clip(1.0, 10, 100, config) > 1.0  # most clipped: grow
    assert adapt_clip(1.0, 50, 100, config) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("field", "value"), [("clip", 0.0), ("grid", -1.0), ("target_quantile", 1.5)]
)
def test_bad_settings_name_the_parameter(field: str, value: float) -> None:
    with pytest.raises(ParameterError, match=field):
        DPFedAvgConfig(ApproxDP(8, 1e-5), **{field: value})  # type: ignore[arg-type]
