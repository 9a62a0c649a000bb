"""Empirical privacy audit: on neighbouring inputs, run each mechanism many times and
bound ε from below with a confidence interval. The bound must never exceed the ε the
privacy map claims; for Laplace we also check it comes close (the audit has teeth)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil.dp import (
    laplace_for,
    make_above_threshold,
    make_exponential_mechanism,
    make_gaussian,
    make_quantile,
    make_top_k,
    partition_selection_for,
)
from shopveil.dp.hazmat import AesCtrBits

Z = 4.5  # a 4.5-sigma interval: a false alarm would take ~1 in 300,000 runs


def epsilon_lower_bound(hits: int, hits_neighbour: int, n: int, delta: float = 0.0) -> float:
    """ln((p − δ)/p') with p taken at its lower and p' at its upper confidence limit."""
    p, q = hits / n, hits_neighbour / n
    p_low = p - Z * math.sqrt(max(p * (1 - p), 1 / n) / n)
    q_high = q + Z * math.sqrt(max(q * (1 - q), 1 / n) / n) + Z * Z / n
    if p_low - delta <= 0:
        return 0.0
    return math.log((p_low - delta) / q_high)


def audit(event: Callable[[bool], int], n: int, delta: float = 0.0) -> float:
    """Largest ε lower bound over both orders of the neighbouring pair."""
    a, b = event(False), event(True)
    return max(epsilon_lower_bound(a, b, n, delta), epsilon_lower_bound(b, a, n, delta))


def test_laplace_count_audit_is_tight_and_below_the_claim() -> None:
    n = 300_000
    m = laplace_for(PureDP(1.0), 1)
    claimed = m.map(1).epsilon  # type: ignore[union-attr]

    def event(neighbour: bool) -> int:
        out = np.asarray(m(np.full(n, 1 if neighbour else 0, dtype=np.int64)))
        return int((out >= 1).sum())

    found = audit(event, n)
    assert found <= claimed
    assert found >= 0.85 * claimed


def test_laplace_sum_on_a_grid_audit() -> None:
    n = 300_000
    m = laplace_for(PureDP(0.5), 10.0, integer=False)
    claimed = m.map(10.0).epsilon  # type: ignore[union-attr]

    def event(neighbour: bool) -> int:
        out = np.asarray(m(np.full(n, 10.0 if neighbour else 0.0)))
        return int((out >= 10.0).sum())

    found = audit(event, n)
    assert found <= claimed
    assert found >= 0.7 * claimed


def test_gaussian_audit_is_below_its_approx_dp_guarantee() -> None:
    n = 300_000
    m = make_gaussian(1.0)
    delta = 1e-3
    spent = m.map(1)
    assert isinstance(spent, ZCDP)
    claimed = spent.to_approx_dp(delta).epsilon

    def event(neighbour: bool) -> int:
        out = np.asarray(m(np.full(n, 1 if neighbour else 0, dtype=np.int64)))
        return int((out >= 3).sum())

    found = audit(event, n, delta)
    assert 0 < found <= claimed


def _repeat(n: int, run: Callable[[AesCtrBits], bool]) -> int:
    bits = AesCtrBits()
    return sum(run(bits) for _ in range(n))


def test_exponential_mechanism_audit() -> None:
    n = 3_000
    m = make_exponential_mechanism(2.0)  # ε = 2Δ/scale = 1 for Δ = 1
    claimed = m.map(1).epsilon  # type: ignore[union-attr]

    def event(neighbour: bool) -> int:
        utilities = [1.0, 0.0, 0.0] if neighbour else [0.0, 1.0, 1.0]
        return _repeat(n, lambda bits: m(utilities, rng=bits) == 0)

    assert audit(event, n) <= claimed


def test_top_k_audit() -> None:
    n = 1_500
    m = make_top_k(2, 4.0)  # ε = 2kΔ/scale = 1
    claimed = m.map(1).epsilon  # type: ignore[union-attr]

    def event(neighbour: bool) -> int:
        utilities = [2.0, 0.0, 1.0, 0.0] if neighbour else [1.0, 1.0, 0.0, 1.0]
        return _repeat(n, lambda bits: 0 in m(utilities, rng=bits))

    assert audit(event, n) <= claimed


def test_sparse_vector_audit() -> None:
    n = 2_500
    m = make_above_threshold(3, threshold_scale=2.0, query_scale=4.0)  # ε = 1 at Δ = 1
    claimed = m.map(1).epsilon  # type: ignore[union-attr]

    def event(neighbour: bool) -> int:
        answers = np.array([2, 3, 2]) + (1 if neighbour else 0)
        return _repeat(n, lambda bits: m(answers, rng=bits) == 0)

    assert audit(event, n) <= claimed


def test_partition_selection_audit() -> None:
    n = 300_000
    m = partition_selection_for(ApproxDP(1.0, 1e-6), 1)
    spent = m.map(1)
    assert isinstance(spent, ApproxDP)
    counts = 1 + np.arange(60)
    keep_rates = np.asarray(m(np.repeat(counts, 2_000)), dtype=float).reshape(60, -1).mean(1)
    # audit where keeping becomes likely: the count the threshold sits at
    near = int(counts[np.argmax(keep_rates > 0.3)])

    def event(neighbour: bool) -> int:
        c = near if neighbour else near - 1
        return int(np.asarray(m(np.full(n, c))).sum())

    assert audit(event, n, spent.delta) <= spent.epsilon


def test_quantile_audit() -> None:
    n = 2_500
    grid = np.linspace(0, 10, 11)
    m = make_quantile(0.5, grid, 2.0)  # ε = 2Δ/scale = 1 for one added row
    claimed = m.map(1).epsilon  # type: ignore[union-attr]
    base = np.array([1.0, 2.0, 3.0, 7.0, 8.0, 9.0])

    def event(neighbour: bool) -> int:
        data = np.append(base, 9.5) if neighbour else base
        return _repeat(n, lambda bits: m(data, rng=bits) >= 6.0)

    assert audit(event, n) <= claimed
