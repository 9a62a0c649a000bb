"""Private selection: the exponential mechanism, top-k, sparse vector, partition selection.

The exponential mechanism is run as permute-and-flip (McKenna & Sheldon 2020), which
is report-noisy-max with exponential noise: visit the candidates in a random order and
stop at the first whose coin, of bias ``exp(-(u* − u)/s)``, comes up heads. It is
ε-DP with ε = 2Δ/s for utilities of sensitivity Δ, never less accurate than the
classic exponential mechanism, and its coins are decided exactly (see
:mod:`shopveil.dp._samplers`), so floating point cannot skew the output distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP, Budget, PureDP
from shopveil.dp._bits import RandomBits
from shopveil.dp._measurement import Measurement, _positive
from shopveil.dp._samplers import bernoulli_exp_neg, discrete_laplace
from shopveil.errors import ParameterError

__all__ = [
    "make_above_threshold",
    "make_exponential_mechanism",
    "make_partition_selection",
    "make_quantile",
    "make_top_k",
    "partition_selection_for",
    "permute_and_flip",
]


def _utilities(data: Any) -> np.ndarray:
    values = np.asarray(data, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ParameterError("utilities must be a non-empty 1-d sequence of numbers")
    if not np.all(np.isfinite(values)):
        raise ParameterError("utilities must be finite numbers")
    return values


def permute_and_flip(
    utilities: np.ndarray,
    scale: float,
    bits: RandomBits,
    *,
    exact: Callable[[int], Fraction] | None = None,
) -> int:
    """The index chosen by permute-and-flip with temperature ``scale``.

    ``exact(i)`` returns candidate i's exact utility when the floats are rounded (the
    float utilities are then only used to decide the easy coins).
    """
    exact_of = exact or (lambda i: Fraction(float(utilities[i])))
    best_index = int(np.argmax(utilities))
    best = exact_of(best_index)
    exact_scale = Fraction(scale)
    gamma = (utilities[best_index] - utilities) / scale
    magnitude = (np.abs(utilities) + abs(utilities[best_index])) / scale

    def exact_gamma(i: int) -> Fraction:
        return (best - exact_of(i)) / exact_scale

    coins = bernoulli_exp_neg(gamma, magnitude, exact_gamma, bits)
    coins[best_index] = True  # exp(0) = 1; spares a draw's rounding doubt
    order = np.argsort(bits.words(len(utilities)), kind="stable")
    return int(order[np.argmax(coins[order])])


def make_exponential_mechanism(scale: float) -> Measurement:
    """Pick one index of a utility vector; ``map(Δ) = PureDP(2Δ/scale)`` for L∞ sensitivity Δ."""
    scale = _positive("scale", scale)

    def function(data: Any, bits: RandomBits) -> int:
        return permute_and_flip(_utilities(data), scale, bits)

    def privacy_map(d_in: float) -> Budget:
        return PureDP(2 * d_in / scale)

    return Measurement("exponential", "linf", function, privacy_map, scale)


def make_top_k(k: int, scale: float) -> Measurement:
    """The k best indices by peeling: k rounds of the exponential mechanism.

    ``map(Δ) = PureDP(2kΔ/scale)``. Indices come back in the order chosen.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be an int >= 1, got {k!r}")
    scale = _positive("scale", scale)

    def function(data: Any, bits: RandomBits) -> list[int]:
        utilities = _utilities(data)
        remaining = np.arange(len(utilities))
        chosen: list[int] = []
        for _ in range(min(k, len(utilities))):
            pick = permute_and_flip(utilities[remaining], scale, bits)
            chosen.append(int(remaining[pick]))
            remaining = np.delete(remaining, pick)
        return chosen

    def privacy_map(d_in: float) -> Budget:
        return PureDP(2 * k * d_in / scale)

    return Measurement("top_k", "linf", function, privacy_map, scale)


def make_above_threshold(threshold: int, threshold_scale: float, query_scale: float) -> Measurement:
    """Sparse vector: the index of the first integer query whose noisy value clears the
    noisy threshold, or ``None``. ``map(Δ) = PureDP(Δ/threshold_scale + 2Δ/query_scale)``.

    Use ``threshold_scale = 2Δ/ε`` and ``query_scale = 4Δ/ε`` for ε in total.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise ParameterError(f"threshold must be an int, got {threshold!r}")
    t_scale = _positive("threshold_scale", threshold_scale)
    q_scale = _positive("query_scale", query_scale)

    def function(data: Any, bits: RandomBits) -> int | None:
        answers = np.asarray(data)
        if answers.ndim != 1 or answers.dtype.kind not in "iu":
            raise ParameterError("above_threshold takes a 1-d sequence of integer query answers")
        noisy_threshold = threshold + int(discrete_laplace(t_scale, 1, bits)[0])
        noisy = answers.astype(np.int64) + discrete_laplace(q_scale, len(answers), bits)
        hits = np.flatnonzero(noisy >= noisy_threshold)
        return int(hits[0]) if hits.size else None

    def privacy_map(d_in: float) -> Budget:
        shift = math.ceil(d_in - 1e-9)
        return PureDP(shift / t_scale + 2 * shift / q_scale)

    return Measurement("above_threshold", "linf", function, privacy_map, q_scale)


def make_partition_selection(scale: float, threshold: int) -> Measurement:
    """Keep the partitions whose noisy count of distinct units reaches ``threshold``.

    Input: per-partition counts of distinct privacy units; output: a boolean mask. With
    each unit in at most N partitions, ``map(N) = ApproxDP(N/scale, N·q^(τ−1)/(1+q))``,
    q = exp(−1/scale): the δ covers a partition only the added unit makes appear.
    """
    scale = _positive("scale", scale)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ParameterError(f"threshold must be an int >= 1, got {threshold!r}")

    def function(data: Any, bits: RandomBits) -> np.ndarray:
        counts = np.asarray(data, dtype=np.int64)
        return np.asarray(counts + discrete_laplace(scale, counts.size, bits) >= threshold)

    def privacy_map(d_in: float) -> Budget:
        partitions = math.ceil(d_in - 1e-9)
        q = math.exp(-1 / scale)
        delta = partitions * q ** (threshold - 1) / (1 + q)
        return ApproxDP(partitions / scale, min(delta, 1 - 1e-15))

    return Measurement("partition_selection", "rows", function, privacy_map, scale)


def partition_selection_for(budget: ApproxDP, max_partitions: int) -> Measurement:
    """Partition selection fitting ``budget`` when a unit touches ≤ ``max_partitions`` keys."""
    if not isinstance(budget, ApproxDP) or budget.epsilon <= 0 or budget.delta <= 0:
        raise ParameterError(
            f"partition selection needs ApproxDP with epsilon > 0 and delta > 0, got {budget!r}"
        )
    scale = max_partitions / budget.epsilon * (1 + 2**-40)
    q = math.exp(-1 / scale)
    # log q is -1/scale, even where q underflows to 0 (a large ε): no domain error.
    steps = -scale * math.log(budget.delta * (1 + q) / max_partitions)
    return make_partition_selection(scale, 1 + max(0, math.ceil(steps + 1e-9)))


def make_quantile(alpha: float, candidates: Sequence[float], scale: float) -> Measurement:
    """The α-quantile of the data, chosen among public ``candidates`` by permute-and-flip.

    The utility of candidate c is −|#{x < c} − α·n|, of sensitivity ≤ 1 per row, so
    ``map(Δ) = PureDP(2Δ/scale)`` when a unit owns at most Δ rows.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ParameterError(f"alpha must be in [0, 1], got {alpha!r}")
    grid = np.asarray(candidates, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.diff(grid) > 0):
        raise ParameterError("candidates must be at least 2 increasing numbers")
    scale = _positive("scale", scale)
    exact_alpha = Fraction(alpha)

    def function(data: Any, bits: RandomBits) -> float:
        values = np.sort(np.asarray(data, dtype=np.float64))
        n = len(values)
        below = np.searchsorted(values, grid, side="left")
        utilities = -np.abs(below - alpha * n)

        def exact(i: int) -> Fraction:
            return -abs(Fraction(int(below[i])) - exact_alpha * n)

        return float(grid[permute_and_flip(utilities, scale, bits, exact=exact)])

    def privacy_map(d_in: float) -> Budget:
        return PureDP(2 * d_in / scale)

    return Measurement("quantile", "rows", function, privacy_map, scale)
