"""Empirical privacy lower bounds: run a mechanism on two neighbouring inputs and test.

A mechanism ``M`` that is (ε, δ)-DP obeys, for every set S of outputs and neighbouring
inputs D₀, D₁, ``P[M(D₁) ∈ S] ≤ e^ε P[M(D₀) ∈ S] + δ`` (and with D₀, D₁ swapped). The
audit draws ``trials`` outputs on each input, picks a threshold set ``S = {x ≥ t}`` (or
``x ≤ t``) on one half of the draws, and on the other half bounds the two rates with
Clopper-Pearson intervals, so that

``ε_low = ln((TPR_low − δ) / FPR_high)``

is a lower bound on the true ε with confidence ``1 − alpha`` (Jagielski et al. 2020;
Nasr et al. 2021). A mechanism whose claim is right never shows ``ε_low`` above it,
except with probability ``alpha``; one whose noise is too small does, given enough
trials. Gaussian noise is audited in its natural unit, μ-GDP (Dong, Roth & Su 2022):
``μ_low = Φ⁻¹(TPR_low) − Φ⁻¹(FPR_high)`` against the claimed ``μ = √(2ρ)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy import stats

from shopveil.attacks._stats import clopper_pearson
from shopveil.errors import ParameterError

__all__ = ["AuditResult", "Measure", "audit_samples"]

_CANDIDATES = 200  # thresholds tried on the selection half


class Measure(StrEnum):
    """The unit a claim and its lower bound are in."""

    EPSILON = "epsilon"  # (ε, δ)-DP
    MU = "mu"  # μ-GDP, what ρ-zCDP Gaussian noise gives (μ = √(2ρ))


@dataclass(frozen=True)
class AuditResult:
    """An empirical lower bound next to the claim it tests."""

    mechanism: str
    measure: Measure
    claimed: float
    lower_bound: float
    delta: float
    trials: int
    alpha: float

    @property
    def passed(self) -> bool:
        """True when the lower bound does not exceed the claim (nothing was caught)."""
        return self.lower_bound <= self.claimed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "mechanism": self.mechanism,
            "measure": str(self.measure),
            "claimed": round(self.claimed, 4),
            "lower_bound": round(self.lower_bound, 4),
            "delta": self.delta,
            "trials": self.trials,
            "confidence": 1 - self.alpha,
            "passed": self.passed,
        }


def _bound(measure: Measure, hits1: int, hits0: int, n: int, alpha: float, delta: float) -> float:
    """The lower bound from ``hits1`` of ``n`` draws on D₁ and ``hits0`` of ``n`` on D₀ in S."""
    tpr_low = clopper_pearson(hits1, n, 2 * alpha)[0]  # one-sided at alpha per rate
    fpr_high = clopper_pearson(hits0, n, 2 * alpha)[1]
    if measure is Measure.MU:
        if tpr_low <= 0 or fpr_high >= 1:
            return 0.0
        return max(0.0, float(stats.norm.ppf(tpr_low) - stats.norm.ppf(fpr_high)))
    if tpr_low - delta <= 0:
        return 0.0
    return max(0.0, math.log((tpr_low - delta) / fpr_high))


def _rates(x1: np.ndarray, x0: np.ndarray, t: float, above: bool) -> tuple[int, int]:
    if above:
        return int((x1 >= t).sum()), int((x0 >= t).sum())
    return int((x1 <= t).sum()), int((x0 <= t).sum())


def audit_samples(
    out0: np.ndarray,
    out1: np.ndarray,
    *,
    mechanism: str,
    measure: Measure,
    claimed: float,
    delta: float = 0.0,
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
) -> AuditResult:
    """Lower-bound the privacy loss from draws ``out0`` on D₀ and ``out1`` on D₁.

    Half of each set of draws picks the test (a threshold, a side and which input is the
    positive one), the other half measures it; two one-sided intervals at ``alpha/2``
    each make the bound hold with confidence ``1 − alpha``.
    """
    x0 = np.asarray(out0, dtype=np.float64).ravel()
    x1 = np.asarray(out1, dtype=np.float64).ravel()
    if len(x0) != len(x1) or len(x0) < 20:
        raise ParameterError(
            f"an audit needs the same number (>= 20) of draws on each input, got {len(x0)} "
            f"and {len(x1)}; raise --trials"
        )
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}; e.g. 0.05")
    generator = rng if rng is not None else np.random.default_rng()
    x0, x1 = generator.permutation(x0), generator.permutation(x1)
    half = len(x0) // 2
    pick0, pick1, test0, test1 = x0[:half], x1[:half], x0[half:], x1[half:]
    level = alpha / 2
    candidates = np.unique(
        np.quantile(np.concatenate([pick0, pick1]), np.linspace(0, 1, _CANDIDATES))
    )
    best = (-1.0, 0.0, True, True)  # bound, threshold, above, D₁ as the "positive" input
    for t in candidates:
        for above in (True, False):
            h1, h0 = _rates(pick1, pick0, t, above)
            for swap in (False, True):
                a, b = (h0, h1) if swap else (h1, h0)
                value = _bound(measure, a, b, half, level, delta)
                if value > best[0]:
                    best = (value, float(t), above, not swap)
    _, t, above, forward = best
    h1, h0 = _rates(test1, test0, t, above)
    n = len(test0)
    lower = (
        _bound(measure, h1, h0, n, level, delta)
        if forward
        else _bound(measure, h0, h1, n, level, delta)
    )
    return AuditResult(mechanism, measure, claimed, lower, delta, len(x0), alpha)
