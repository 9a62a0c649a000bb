"""Typed privacy-loss values: ``PureDP(ε)``, ``ApproxDP(ε, δ)`` and ``ZCDP(ρ)``.

Budgets are frozen values with checked arithmetic: adding two budgets of the same kind
composes them sequentially, subtracting never goes below zero, and every constructor
rejects NaN, infinities and negative values with a message that names the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shopveil.errors import ParameterError

__all__ = ["DEFAULT_DELTA", "ZCDP", "ApproxDP", "Budget", "PureDP"]

DEFAULT_DELTA = 1e-6
"""δ of a budget given only its ε: below 1/n for any population of fewer than a million
people (Online Retail has about 4,400 customers), and the δ the models built by name
spend. A budget with δ = 0 (pure ε-DP) refuses every release that needs δ > 0."""


def _check_nonnegative(name: str, value: float, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise ParameterError(f"{name} must be finite, got {value}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ParameterError(f"{name} must be {bound}, got {value}")
    return value


@dataclass(frozen=True, order=True)
class PureDP:
    """ε-differential privacy."""

    epsilon: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", _check_nonnegative("epsilon", self.epsilon))

    def __add__(self, other: PureDP) -> PureDP:
        _same_kind(self, other)
        return PureDP(self.epsilon + other.epsilon)

    def __sub__(self, other: PureDP) -> PureDP:
        _same_kind(self, other)
        return PureDP(_minus("epsilon", self.epsilon, other.epsilon))

    def fits_in(self, budget: PureDP) -> bool:
        """True when spending ``self`` stays within ``budget``."""
        _same_kind(self, budget)
        return self.epsilon <= budget.epsilon

    def __mul__(self, factor: float) -> PureDP:
        return PureDP(self.epsilon * _factor(factor))

    __rmul__ = __mul__

    def to_zcdp(self) -> ZCDP:
        """ε-DP implies (ε²/2)-zCDP (Bun & Steinke 2016, Prop. 1.4)."""
        return ZCDP(self.epsilon**2 / 2)

    def to_approx_dp(self) -> ApproxDP:
        """ε-DP is (ε, 0)-DP."""
        return ApproxDP(self.epsilon, 0.0)

    def __str__(self) -> str:
        return f"ε={self.epsilon:g}"


@dataclass(frozen=True, order=True)
class ApproxDP:
    """(ε, δ)-differential privacy."""

    epsilon: float
    delta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", _check_nonnegative("epsilon", self.epsilon))
        delta = _check_nonnegative("delta", self.delta)
        if delta >= 1:
            raise ParameterError(f"delta must be < 1, got {delta}; use e.g. 1e-6")
        object.__setattr__(self, "delta", delta)

    def __add__(self, other: ApproxDP) -> ApproxDP:
        _same_kind(self, other)
        return ApproxDP(self.epsilon + other.epsilon, min(self.delta + other.delta, 1 - 1e-15))

    def __sub__(self, other: ApproxDP) -> ApproxDP:
        _same_kind(self, other)
        return ApproxDP(
            _minus("epsilon", self.epsilon, other.epsilon),
            _minus("delta", self.delta, other.delta),
        )

    def __mul__(self, factor: float) -> ApproxDP:
        f = _factor(factor)
        return ApproxDP(self.epsilon * f, min(self.delta * f, 1 - 1e-15))

    __rmul__ = __mul__

    def fits_in(self, budget: ApproxDP) -> bool:
        """True when spending ``self`` stays within ``budget``."""
        _same_kind(self, budget)
        return self.epsilon <= budget.epsilon and self.delta <= budget.delta

    def __str__(self) -> str:
        return f"ε={self.epsilon:g}, δ={self.delta:g}"


@dataclass(frozen=True, order=True)
class ZCDP:
    """ρ-zero-concentrated differential privacy."""

    rho: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rho", _check_nonnegative("rho", self.rho))

    def __add__(self, other: ZCDP) -> ZCDP:
        _same_kind(self, other)
        return ZCDP(self.rho + other.rho)

    def __sub__(self, other: ZCDP) -> ZCDP:
        _same_kind(self, other)
        return ZCDP(_minus("rho", self.rho, other.rho))

    def __mul__(self, factor: float) -> ZCDP:
        return ZCDP(self.rho * _factor(factor))

    __rmul__ = __mul__

    def fits_in(self, budget: ZCDP) -> bool:
        """True when spending ``self`` stays within ``budget``."""
        _same_kind(self, budget)
        return self.rho <= budget.rho

    def to_approx_dp(self, delta: float) -> ApproxDP:
        """ρ-zCDP implies (ρ + 2√(ρ ln(1/δ)), δ)-DP (Bun & Steinke 2016, Prop. 1.3)."""
        delta = ApproxDP(0.0, delta).delta
        if delta == 0:
            raise ParameterError("delta must be > 0 to convert zCDP to (ε, δ)-DP")
        return ApproxDP(self.rho + 2 * math.sqrt(self.rho * math.log(1 / delta)), delta)

    def __str__(self) -> str:
        return f"ρ={self.rho:g}"


Budget = PureDP | ApproxDP | ZCDP


def _same_kind(a: object, b: object) -> None:
    if type(a) is not type(b):
        raise ParameterError(
            f"cannot combine {type(a).__name__} with {type(b).__name__}; "
            "convert one first (e.g. PureDP.to_zcdp())"
        )


def _factor(factor: float) -> float:
    return _check_nonnegative("factor", factor)


def _minus(name: str, a: float, b: float) -> float:
    result = a - b
    if result < -1e-12:
        raise ParameterError(f"{name} would go negative: {a:g} - {b:g}")
    return max(result, 0.0)
