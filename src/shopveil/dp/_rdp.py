"""Rényi DP (RDP) accounting: Gaussian releases, PATE's GNMax, and conversion to (ε, δ).

A mechanism is (α, r)-RDP when the Rényi divergence of order α between its outputs on
neighbouring datasets is at most r (Mironov 2017). RDP curves (r at each order of a fixed
grid) add under composition, and the curve converts to (ε, δ)-DP by

    ε = min_α  r(α) + log((α − 1)/α) − (log δ + log α)/(α − 1)

(Canonne, Kamath & Steinke 2020, Prop. 12; Balle et al. 2020, Thm 21), which is tighter
than Mironov's ``r + log(1/δ)/(α − 1)`` and is what Opacus uses.

* Gaussian noise of scale σ on a query of L2 sensitivity Δ is (α, αΔ²/(2σ²))-RDP; so is
  the *discrete* Gaussian on an integer query (Canonne, Kamath & Steinke 2020, Thm 4 per
  coordinate; independent coordinates add their Rényi divergences).
* ρ-zCDP is (α, ρα)-RDP for every α > 1 (Bun & Steinke 2016).
* GNMax (arg max of vote counts plus Gaussian noise) is (α, α/σ²)-RDP whatever the votes;
  when one label clearly wins, Papernot et al. (2018, Thm 6 with Prop. 7) give a smaller,
  *data-dependent* bound. That bound depends on the votes, so it is itself sensitive: it
  is reported, never charged (see :mod:`shopveil.learn._pate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil.errors import ParameterError

__all__ = [
    "DEFAULT_ORDERS",
    "RdpAccountant",
    "gaussian_rdp",
    "gnmax_data_dependent_rdp",
    "gnmax_log_q",
    "max_zcdp_within",
    "rdp_of_zcdp",
    "rdp_to_approx_dp",
    "threshold_rdp",
]

Curve: TypeAlias = Sequence[float] | np.ndarray
"""One value per order: an RDP curve, or the grid of orders itself."""

DEFAULT_ORDERS: tuple[float, ...] = (
    *(1 + x / 10 for x in range(1, 100)),
    *map(float, range(11, 64)),
    *map(float, range(64, 257, 8)),
    512.0,
    1024.0,
)
"""Orders α: Opacus's default grid, extended upwards for PATE's small per-query costs."""


def _orders(orders: Curve) -> np.ndarray:
    grid = np.asarray(orders, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 1):
        raise ParameterError(
            "orders must be a non-empty list of finite numbers > 1, e.g. (2, 4, 8)"
        )
    return grid


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ParameterError(f"{name} must be a number > 0, got {value!r}")
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return float(value)


def gaussian_rdp(
    sigma: float, orders: Curve = DEFAULT_ORDERS, *, sensitivity: float = 1.0
) -> np.ndarray:
    """RDP of one Gaussian (or discrete Gaussian) release: ``αΔ²/(2σ²)`` at each order."""
    sigma = _positive("sigma", sigma)
    sensitivity = _positive("sensitivity", sensitivity)
    return _orders(orders) * sensitivity**2 / (2 * sigma**2)


def threshold_rdp(sigma: float, orders: Curve = DEFAULT_ORDERS) -> np.ndarray:
    """RDP of confident-GNMax's noisy check ``max vote + N(0, σ₁²) ≥ T``.

    One customer moves one teacher's vote, so the top count moves by at most 1.
    """
    return gaussian_rdp(sigma, orders, sensitivity=1.0)


def rdp_of_zcdp(budget: ZCDP, orders: Curve = DEFAULT_ORDERS) -> np.ndarray:
    """ρ-zCDP as an RDP curve: ``ρα`` at each order (Bun & Steinke 2016, Def. 1.1)."""
    if not isinstance(budget, ZCDP):
        raise ParameterError(f"budget must be ZCDP, got {budget!r}")
    return _orders(orders) * budget.rho


def rdp_to_approx_dp(rdp: Curve, delta: float, orders: Curve = DEFAULT_ORDERS) -> ApproxDP:
    """The smallest ε over the grid with the CKS20 / Balle et al. 2020 conversion."""
    grid = _orders(orders)
    curve = np.asarray(rdp, dtype=np.float64)
    if curve.shape != grid.shape or np.any(np.isnan(curve)) or np.any(curve < 0):
        raise ParameterError(
            f"rdp must give one value >= 0 per order ({grid.size}), got shape {curve.shape}"
        )
    if not 0 < delta < 1:
        raise ParameterError(f"delta must be in (0, 1), got {delta!r}; use e.g. 1e-6")
    eps = curve + np.log1p(-1 / grid) - (math.log(delta) + np.log(grid)) / (grid - 1)
    best = float(np.min(eps))
    if not math.isfinite(best):
        raise ParameterError("the RDP curve is infinite at every order: no (ε, δ) bound")
    return ApproxDP(max(best, 0.0), delta)


def max_zcdp_within(budget: ApproxDP, orders: Curve = DEFAULT_ORDERS) -> ZCDP:
    """The largest ρ whose RDP curve ``ρα`` converts to at most ``budget`` (bisection).

    Gaussian costs are linear in α, so a stopping rule "total ρ ≤ this" is a zCDP filter:
    it holds at every order at once even when what is spent is chosen adaptively
    (Feldman & Zrnic 2021; Whitehouse et al. 2023).
    """
    if not isinstance(budget, ApproxDP) or budget.delta <= 0:
        raise ParameterError(f"budget must be ApproxDP with delta > 0, got {budget!r}")
    grid = _orders(orders)
    low, high = 0.0, max(budget.epsilon, 1e-12)
    while rdp_to_approx_dp(grid * high, budget.delta, grid).epsilon <= budget.epsilon:
        low, high = high, 2 * high
    for _ in range(100):
        mid = (low + high) / 2
        if rdp_to_approx_dp(grid * mid, budget.delta, grid).epsilon <= budget.epsilon:
            low = mid
        else:
            high = mid
    return ZCDP(low)


def gnmax_log_q(counts: Sequence[int], sigma: float, *, discrete: bool = True) -> float:
    """log of an upper bound on P[noisy arg max ≠ true arg max] for GNMax (Papernot+ 2018).

    Union bound over the labels i that lose to the winner by gap ``g_i``:
    ``q ≤ Σ_i P[Z_i − Z_* ≥ g_i]`` (ties count as errors). For continuous noise this is
    ``Σ_i ½ erfc(g_i / 2σ)`` (Prop. 7). The discrete Gaussian is σ²-subgaussian
    (Canonne, Kamath & Steinke 2020, §2), so ``Z_i − Z_*`` is 2σ²-subgaussian and
    ``P ≤ exp(−g²/4σ²)``; that is the bound used when ``discrete``. Returned ≤ 0.
    """
    sigma = _positive("sigma", sigma)
    votes = np.asarray(counts, dtype=np.float64)
    if votes.ndim != 1 or votes.size < 2 or np.any(votes < 0):
        raise ParameterError("counts must list >= 2 non-negative vote counts, one per label")
    winner = int(np.argmax(votes))
    gaps = np.delete(votes[winner] - votes, winner)
    if discrete:
        terms = np.where(gaps > 0, -(gaps**2) / (4 * sigma**2), 0.0)
    else:
        terms = np.array([_log_normal_tail(g / (math.sqrt(2) * sigma)) for g in gaps])
    return min(float(np.logaddexp.reduce(terms)), 0.0)


def gnmax_data_dependent_rdp(
    log_q: float, sigma: float, orders: Curve = DEFAULT_ORDERS
) -> np.ndarray:
    """RDP of one GNMax answer given ``log q`` (Papernot et al. 2018, Thm 6).

    The theorem combines the mechanism's data-independent guarantees at two higher
    orders μ₁ = μ₂ + 1, μ₂ = σ√(−log q) (their Prop. 10) with ``q``. It applies at orders
    α < μ₁ when μ₂ > 1, ``q e^{ε₂} < 1`` and ``q`` lies where the bound increases in q:
    ``log q ≤ (μ₂ − 1)ε₂ − μ₂ (log(μ₁/(μ₁−1)) + log(μ₂/(μ₂−1)))``. Elsewhere, and never
    above it, the data-independent ``α/σ²`` is returned.
    """
    sigma = _positive("sigma", sigma)
    grid = _orders(orders)
    if not (log_q <= 0) or math.isnan(log_q):
        raise ParameterError(f"log_q must be <= 0 (q is a probability), got {log_q!r}")
    variance = sigma**2
    independent = grid / variance
    if math.isinf(log_q):
        return np.zeros_like(grid)  # the winner is certain: the output is constant
    mu2 = sigma * math.sqrt(-log_q)
    mu1 = mu2 + 1
    if mu2 <= 1:
        return independent
    eps1, eps2 = mu1 / variance, mu2 / variance
    limit = (mu2 - 1) * eps2 - mu2 * (math.log(mu1 / (mu1 - 1)) + math.log(mu2 / (mu2 - 1)))
    if not (log_q <= limit and -log_q > eps2):
        return independent
    log_1mq = _log1mexp(log_q)
    log_a = (grid - 1) * (log_1mq - _log1mexp((log_q + eps2) * (1 - 1 / mu2)))
    log_b = (grid - 1) * (eps1 - log_q / (mu1 - 1))
    dependent = np.logaddexp(log_1mq + log_a, log_q + log_b) / (grid - 1)
    return np.where(grid < mu1, np.minimum(independent, np.maximum(dependent, 0.0)), independent)


def _log_normal_tail(z: float) -> float:
    """log P[N(0, 1) ≥ z]; past z = 30, where erfc underflows, the Mills-ratio upper bound."""
    if z < 30:
        return math.log(0.5 * math.erfc(z / math.sqrt(2)))
    return -(z**2) / 2 - math.log(z * math.sqrt(2 * math.pi))


def _log1mexp(x: float) -> float:
    """log(1 − eˣ) for x < 0, accurate near 0 and far below it."""
    return math.log(-math.expm1(x)) if x > -0.693 else math.log1p(-math.exp(x))


@dataclass(frozen=True)
class RdpAccountant:
    """An immutable RDP curve over a fixed grid of orders; ``spend`` returns a new one.

    ``spend`` takes a curve (one value per order), a :class:`~shopveil.ZCDP` cost, or a
    Gaussian release via :meth:`spend_gaussian`; :meth:`total` converts to (ε, δ).
    """

    orders: tuple[float, ...] = DEFAULT_ORDERS
    rdp: tuple[float, ...] = ()
    releases: int = 0

    def __post_init__(self) -> None:
        grid = _orders(self.orders)
        object.__setattr__(self, "orders", tuple(float(a) for a in grid))
        curve = self.rdp or (0.0,) * grid.size
        values = np.asarray(curve, dtype=np.float64)
        if values.shape != grid.shape or np.any(np.isnan(values)) or np.any(values < 0):
            raise ParameterError(f"rdp must give one value >= 0 per order ({grid.size})")
        object.__setattr__(self, "rdp", tuple(float(v) for v in values))

    def spend(self, cost: Curve | ZCDP, times: int = 1) -> RdpAccountant:
        """The accountant after ``times`` more releases of ``cost`` each."""
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise ParameterError(f"times must be an int >= 0, got {times!r}")
        curve = rdp_of_zcdp(cost, self.orders) if isinstance(cost, ZCDP) else np.asarray(cost)
        if curve.shape != (len(self.orders),) or np.any(np.isnan(curve)) or np.any(curve < 0):
            raise ParameterError(
                f"cost must give one RDP value >= 0 per order ({len(self.orders)})"
            )
        total = np.asarray(self.rdp) + times * curve
        return RdpAccountant(self.orders, tuple(total.tolist()), self.releases + times)

    def spend_gaussian(
        self, sigma: float, *, sensitivity: float = 1.0, times: int = 1
    ) -> RdpAccountant:
        """The accountant after ``times`` Gaussian releases of scale σ, L2 sensitivity Δ."""
        return self.spend(gaussian_rdp(sigma, self.orders, sensitivity=sensitivity), times)

    def total(self, *, delta: float) -> ApproxDP:
        """The tightest (ε, δ) bound over the grid on everything spent so far."""
        return rdp_to_approx_dp(self.rdp, delta, self.orders)
