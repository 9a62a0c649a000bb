"""DP-FedAvg with the customer as the unit: clipping, noise, adaptive clipping, accounting.

Pure functions; :mod:`shopveil.federated._server` applies them as a wrapper around the
plain averaging (the Flower style: DP is a strategy wrapper, not a different model).

Every customer contributes one update per round (their own local training), clipped to
L2 norm ``C`` and rounded to a public grid ``γ`` (integers, so the sum is exact under
secure aggregation and the noise is exact integer noise). Rounding moves a vector by at
most ``γ√d/2``, so one customer changes the integer sum by at most
``Δ = C/γ + √d/2`` in L2 norm. The server adds discrete Gaussian noise
``σ = z·Δ`` per coordinate (:func:`shopveil.dp.hazmat.sample_discrete_gaussian`), which
is ``α/(2z²)``-RDP per round whatever the data (Canonne, Kamath & Steinke 2020).

Two more releases are charged every round, each of sensitivity 1 and noise ``κ z``: the
number of customers, that the sum is divided by, and under adaptive clipping (Andrew et
al. 2021) the number whose update was within the clip. All are Gaussian, so the run is ρ-zCDP with

    ρ = rounds/(2z²) · (1 + (1 + adaptive)/κ²),

and ``z`` is the smallest that keeps ρ within ``max_zcdp_within(budget)``: a fixed
number of rounds over every customer, no subsampling amplification claimed.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil.dp.hazmat import Rng, max_zcdp_within, sample_discrete_gaussian
from shopveil.errors import ParameterError

__all__ = [
    "ClipMode",
    "DPFedAvgConfig",
    "adapt_clip",
    "clip_rows",
    "noise_multiplier",
    "noisy_sum",
    "run_zcdp",
    "sensitivity",
    "to_grid",
]

KAPPA = 10.0
"""Noise of the count releases, in units of the update noise: they cost 1/κ² as much."""


class ClipMode(enum.Enum):
    """How the clip norm is chosen."""

    FIXED = "fixed"
    ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class DPFedAvgConfig:
    """Customer-level DP-FedAvg.

    Parameters
    ----------
    budget
        The whole run's ``ApproxDP(ε, δ)``, charged once to every customer.
    clip
        The L2 clip norm ``C`` of one customer's update (the initial one when adaptive).
    mode
        Fixed clip, or adaptive towards the ``target_quantile`` of update norms.
    grid
        ``γ`` as a fraction of ``C``: updates are rounded to multiples of ``γ·C``.
    target_quantile, clip_rate
        Adaptive clipping's target fraction of unclipped updates and its step size.
    server_rate
        The step the server takes along the noisy mean update.
    """

    budget: ApproxDP
    clip: float = 0.5
    mode: ClipMode = ClipMode.FIXED
    grid: float = 1e-3
    target_quantile: float = 0.5
    clip_rate: float = 0.2
    server_rate: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.budget, ApproxDP) or not 0 < self.budget.delta < 1:
            raise ParameterError(
                f"budget must be ApproxDP(epsilon, delta) with 0 < delta < 1, got {self.budget!r}"
            )
        if not isinstance(self.mode, ClipMode):
            raise ParameterError(f"mode must be a ClipMode, got {self.mode!r}")
        for name in ("clip", "grid", "clip_rate", "server_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")
            if not 0 < value < math.inf:
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")
        if not 0 < self.target_quantile < 1:
            raise ParameterError(
                f"target_quantile must be in (0, 1), got {self.target_quantile!r}; e.g. 0.5"
            )


def clip_rows(updates: np.ndarray, clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row scaled to L2 norm at most ``clip``; and which rows were within it."""
    norms = np.linalg.norm(updates, axis=1)
    within = norms <= clip
    factor = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    return updates * factor[:, None], within


def to_grid(values: np.ndarray, step: float) -> np.ndarray:
    """``values`` rounded to the nearest multiple of ``step``, as int64 multiples."""
    return np.rint(np.asarray(values) / step).astype(np.int64)


def sensitivity(clip: float, step: float, dim: int) -> float:
    """L2 change one customer makes to the integer sum: ``C/γ + √d/2``."""
    return clip / step + math.sqrt(dim) / 2


def run_zcdp(z: float, rounds: int, *, adaptive: bool) -> ZCDP:
    """ρ of a whole run at noise multiplier ``z`` (module docstring)."""
    if not z > 0 or rounds < 1:
        raise ParameterError(f"need z > 0 and rounds >= 1, got z={z!r}, rounds={rounds!r}")
    return ZCDP(rounds / (2 * z * z) * (1 + (1 + int(adaptive)) / KAPPA**2))


def noise_multiplier(budget: ApproxDP, rounds: int, *, adaptive: bool) -> float:
    """The smallest ``z`` whose run fits in ``budget``."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ParameterError(f"rounds must be an int >= 1, got {rounds!r}")
    rho = max_zcdp_within(budget).rho
    return math.sqrt(rounds * (1 + (1 + int(adaptive)) / KAPPA**2) / (2 * rho))


def noisy_sum(total: np.ndarray, sigma: float, rng: Rng = None) -> np.ndarray:
    """``total`` (integers) plus discrete Gaussian noise of scale ``sigma`` per entry."""
    total = np.asarray(total, dtype=np.int64)
    noise = sample_discrete_gaussian(sigma, total.size, rng=rng).astype(np.int64)
    return np.asarray(total + noise.reshape(total.shape))


def adapt_clip(clip: float, noisy_within: float, count: float, config: DPFedAvgConfig) -> float:
    """Geometric update of the clip towards the target quantile (Andrew et al. 2021)."""
    fraction = min(max(noisy_within / max(count, 1.0), 0.0), 1.0)
    return clip * math.exp(-config.clip_rate * (fraction - config.target_quantile))
