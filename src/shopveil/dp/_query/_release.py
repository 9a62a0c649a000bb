"""The mechanisms that release a plan's aggregates, and exact fixed-point sums.

Every mechanism is built from the plan alone (ε shares, bounds, contributions), so
:func:`check_release` can build them all before the ledger is charged: a parameter no
mechanism accepts is refused then, never after the charge or only for some data.

Sums are fixed-point (Casacuberta et al., CCS 2022, show that floating-point sums move
by more than their clamping bound between neighbouring datasets, through rounding that
depends on the order and size of the other rows). Each clamped value is rounded to the
grid 2^-m, with m chosen so that a bounded value needs at most 21 bits, and DuckDB
sums the integers exactly: in doubles for groups of fewer than 2^32 rows (no partial
sum reaches 2^53, so no addition rounds, in any order), else as BIGINT into HUGEINT.
One row then moves the exact sum by at most ``ceil(max(|low|, |high|) · 2^m)`` steps,
whatever the other rows are; the noise is calibrated to that, and the sum is rounded
once, exactly, to the noise's grid.
"""

from __future__ import annotations

import math
import shlex
import sys
from typing import TYPE_CHECKING

import numpy as np

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil.dp._bits import RandomBits
from shopveil.dp._measurement import Measurement, half_width, laplace_for
from shopveil.dp._query._spec import AggregateFunction
from shopveil.dp._samplers import discrete_laplace
from shopveil.dp._selection import make_quantile, partition_selection_for
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil.dp._query._plan import Plan, Step

__all__ = [
    "QUANTILE_CANDIDATES",
    "check_release",
    "count_mechanism",
    "fixed_exponent",
    "quantile_mechanism",
    "release_sums",
    "sum_mechanism",
]

QUANTILE_CANDIDATES = 1001
_FIXED_BITS = 21  # a clamped value is below 2^21 grid steps: 2^32 of them sum exactly


def fixed_exponent(bounds: tuple[float, float]) -> int:
    """The m with |x · 2^m| < 2^21 for every x in ``bounds`` (sums use the grid 2^-m)."""
    top = max(abs(bounds[0]), abs(bounds[1]))
    return min(_FIXED_BITS - math.frexp(top)[1], 1000)


def _row_steps(bounds: tuple[float, float]) -> int:
    """The most grid steps one clamped, rounded value can add to a fixed-point sum."""
    top = max(abs(bounds[0]), abs(bounds[1]))
    return max(1, math.ceil(math.ldexp(top, fixed_exponent(bounds))))


def count_mechanism(epsilon: float, contributions: int) -> Measurement:
    """Discrete Laplace for a count vector of L1 sensitivity ``contributions``."""
    return laplace_for(PureDP(epsilon), contributions)


def sum_mechanism(epsilon: float, bounds: tuple[float, float], contributions: int) -> Measurement:
    """Discrete Laplace for fixed-point sums: a unit moves them by its rows' grid steps."""
    steps = contributions * _row_steps(bounds)
    # float(steps) may round down; one ulp up keeps the sensitivity an upper bound.
    sensitivity = math.ldexp(math.nextafter(float(steps), math.inf), -fixed_exponent(bounds))
    return laplace_for(
        PureDP(epsilon), sensitivity, integer=False, changed_coordinates=contributions
    )


def quantile_mechanism(
    epsilon: float, bounds: tuple[float, float], q: float, contributions: int
) -> Measurement:
    """The exponential mechanism over 1001 points between the bounds."""
    scale = 2 * contributions / epsilon * (1 + 2**-40)
    low, high = bounds
    if math.isfinite(high - low):
        grid = np.linspace(low, high, QUANTILE_CANDIDATES)
    else:  # the span overflows a double; the weighted form does not
        t = np.linspace(0.0, 1.0, QUANTILE_CANDIDATES)
        grid = low * (1 - t) + high * t
    return make_quantile(q, grid.tolist(), scale)


def release_sums(
    m: Measurement, sums: list[int], bounds: tuple[float, float], bits: RandomBits
) -> list[float]:
    """Noisy fixed-point ``sums`` (exact integers on the grid 2^-m of ``bounds``)."""
    assert m.granularity is not None
    noise_exponent = math.frexp(m.granularity)[1] - 1  # granularity = 2^noise_exponent
    shift = noise_exponent + fixed_exponent(bounds)  # noise steps are 2^shift sum steps
    noise = discrete_laplace(m.scale / m.granularity, len(sums), bits)
    released = []
    for exact, z in zip(sums, noise.tolist(), strict=True):
        on_grid = _round_half_even(int(exact), shift) if shift > 0 else int(exact) << -shift
        released.append(_to_float(on_grid + z, noise_exponent))
    return released


def _round_half_even(value: int, shift: int) -> int:
    quotient, remainder = divmod(value, 1 << shift)
    twice = 2 * remainder
    if twice > 1 << shift or (twice == 1 << shift and quotient % 2):
        quotient += 1
    return quotient


def _to_float(steps: int, exponent: int) -> float:
    # Saturates instead of raising: an overflow must not depend on the data.
    try:
        return math.ldexp(float(steps), exponent)
    except OverflowError:
        return math.copysign(sys.float_info.max, steps)


def check_release(plan: Plan) -> None:
    """Build every mechanism ``plan`` will use, with its interval; raise if one cannot be."""
    for step in plan.steps:
        try:
            _build_step(step, plan.contributions, plan.options.alpha)
        except ParameterError as exc:
            alias = step.aggregate.alias
            raise ParameterError(
                f"{alias!r} cannot be released with ε={step.epsilon:.4g} and bounds "
                f"{step.bounds} ({exc}); give narrower bounds with "
                f"--bounds {shlex.quote(alias + '=LOW:HIGH')} or another --epsilon"
            ) from None
    if plan.selection_epsilon > 0:
        if not 0 < plan.options.delta < 1:
            raise ParameterError(
                f"delta must be in (0, 1) to choose GROUP BY keys privately, got "
                f"{plan.options.delta:g}; pass e.g. --delta 1e-8, or give every key's public "
                "values with --keys NAME=v1,v2"
            )
        budget = ApproxDP(plan.selection_epsilon, plan.options.delta)
        partition_selection_for(budget, plan.contributions)


def _build_step(step: Step, n: int, alpha: float) -> None:
    func, eps, bounds = step.aggregate.func, step.epsilon, step.bounds
    if func.is_count:
        half_width(count_mechanism(eps, n), alpha)
    elif func is AggregateFunction.SUM:
        assert bounds is not None
        half_width(sum_mechanism(eps, bounds, n), alpha)
    elif func is AggregateFunction.AVG:
        assert bounds is not None
        half_width(sum_mechanism(eps / 2, bounds, n), alpha / 2)
        half_width(count_mechanism(eps / 2, n), alpha / 2)
    else:
        assert bounds is not None and step.aggregate.quantile is not None
        quantile_mechanism(eps, bounds, step.aggregate.quantile, n)
