"""Measurements: a randomized function paired with its privacy map (as in OpenDP).

``m.map(d_in)`` says what privacy loss ``m`` has on inputs at distance ``d_in`` (an L1,
L2 or L∞ sensitivity, or a number of changed rows); ``m.check(d_in, d_out)`` says
whether that loss fits in a budget. The additive mechanisms here release values on a
public grid: integer data as they are, real data rounded to a power-of-two granularity
γ first (which the map accounts for: rounding moves each changed coordinate by at most
one grid step). Noise is integer noise from the exact samplers, times γ, so a release
is ``γ·(round(x/γ) + Z)``: an exact float with no data-dependent low-order bits.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopveil._core.budgets import ZCDP, Budget, PureDP
from shopveil.dp._accounting import fits
from shopveil.dp._bits import RandomBits, Rng, as_bits
from shopveil.dp._samplers import discrete_gaussian, discrete_laplace
from shopveil.errors import ParameterError

__all__ = [
    "Measurement",
    "auto_granularity",
    "gaussian_for",
    "gaussian_tail",
    "half_width",
    "laplace_for",
    "laplace_tail",
    "make_gaussian",
    "make_laplace",
]


@dataclass(frozen=True)
class Measurement:
    """A randomized function and the privacy map that bounds its loss.

    Parameters
    ----------
    name
        What it is, for messages and the ledger.
    input_metric
        How ``d_in`` is measured: ``"l1"``, ``"l2"``, ``"linf"`` or ``"rows"``.
    function
        ``function(data, bits)``: the release.
    privacy_map
        ``privacy_map(d_in)``: the loss on inputs at distance ``d_in``.
    """

    name: str
    input_metric: str
    function: Callable[[Any, RandomBits], Any] = field(repr=False)
    privacy_map: Callable[[float], Budget] = field(repr=False)
    scale: float = 0.0
    granularity: float | None = None

    def __call__(self, data: Any, *, rng: Rng = None) -> Any:
        return self.function(data, as_bits(rng))

    def map(self, d_in: float) -> Budget:
        """The privacy loss on inputs at distance ``d_in``."""
        if isinstance(d_in, bool) or not isinstance(d_in, int | float) or not d_in >= 0:
            raise ParameterError(f"d_in must be a number >= 0, got {d_in!r}")
        return self.privacy_map(float(d_in))

    def check(self, d_in: float, d_out: Budget) -> bool:
        """True when the loss at ``d_in`` fits in ``d_out``."""
        return fits(self.map(d_in), d_out)


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not (0 < value < math.inf):
        raise ParameterError(f"{name} must be finite and > 0, got {value}")
    return value


def _check_granularity(granularity: float | None) -> float | None:
    if granularity is None:
        return None
    g = _positive("granularity", granularity)
    if math.frexp(g)[0] != 0.5:
        raise ParameterError(f"granularity must be a power of two, got {g}; use auto_granularity")
    return g


def auto_granularity(scale: float) -> float:
    """A power of two about 2^16 times finer than ``scale``."""
    return 2.0 ** (math.floor(math.log2(_positive("scale", scale))) - 16)


def _on_grid(data: Any, granularity: float | None) -> np.ndarray:
    values = np.asarray(data)
    if granularity is None:
        if values.dtype.kind in "iub":
            return values.astype(np.int64)
        floats = values.astype(np.float64)
        if not np.all(np.isfinite(floats)) or not np.all(floats == np.rint(floats)):
            raise ParameterError(
                "this mechanism releases integers; pass integer data or set a granularity"
            )
        return floats.astype(np.int64)
    floats = values.astype(np.float64)
    if not np.all(np.isfinite(floats)):
        raise ParameterError("data holds NaN or infinite values; clamp them first")
    steps = np.rint(floats / granularity)
    if np.any(np.abs(steps) >= 2**52):
        raise ParameterError("values are too large for the grid; clamp them or raise the scale")
    return steps.astype(np.int64)


def _release(data: Any, noise: np.ndarray, granularity: float | None) -> Any:
    steps = _on_grid(data, granularity)
    shaped = noise.reshape(steps.shape)
    out = steps + shaped
    if granularity is None:
        return out if out.ndim else int(out)
    result = out.astype(np.float64) * granularity
    return result if result.ndim else float(result)


def _grid_distance(d_in: float, granularity: float | None, changed: float) -> float:
    if granularity is None:
        return d_in
    return d_in / granularity + changed


def make_laplace(
    scale: float, *, granularity: float | None = None, changed_coordinates: int = 1
) -> Measurement:
    """Discrete Laplace noise of ``scale`` (in value units) on integers or a grid.

    The map takes an L1 distance and returns ``PureDP(Δ/scale)``, where Δ counts the
    grid steps the rounded input can move (``d_in/γ + changed_coordinates``).
    """
    scale = _positive("scale", scale)
    granularity = _check_granularity(granularity)
    grid_scale = scale / granularity if granularity else scale

    def function(data: Any, bits: RandomBits) -> Any:
        size = int(np.asarray(data).size)
        return _release(data, discrete_laplace(grid_scale, size, bits), granularity)

    def privacy_map(d_in: float) -> Budget:
        shift = math.floor(_grid_distance(d_in, granularity, changed_coordinates) + 1e-9)
        return PureDP(shift / grid_scale)

    return Measurement("laplace", "l1", function, privacy_map, scale, granularity)


def make_gaussian(
    sigma: float, *, granularity: float | None = None, changed_coordinates: int = 1
) -> Measurement:
    """Discrete Gaussian noise of ``sigma`` (in value units); the map is ``ZCDP(Δ²/2σ²)``."""
    sigma = _positive("sigma", sigma)
    granularity = _check_granularity(granularity)
    grid_sigma = sigma / granularity if granularity else sigma

    def function(data: Any, bits: RandomBits) -> Any:
        size = int(np.asarray(data).size)
        return _release(data, discrete_gaussian(grid_sigma, size, bits), granularity)

    def privacy_map(d_in: float) -> Budget:
        shift = _grid_distance(d_in, granularity, math.sqrt(changed_coordinates))
        return ZCDP(shift**2 / (2 * grid_sigma**2))

    return Measurement("gaussian", "l2", function, privacy_map, sigma, granularity)


def laplace_for(
    budget: PureDP, sensitivity: float, *, integer: bool = True, changed_coordinates: int = 1
) -> Measurement:
    """The least-noise Laplace measurement whose loss at ``sensitivity`` fits ``budget``."""
    if not isinstance(budget, PureDP) or budget.epsilon <= 0:
        raise ParameterError(f"laplace needs a PureDP budget with epsilon > 0, got {budget!r}")
    sensitivity = _positive("sensitivity", sensitivity)
    if integer:
        return make_laplace(math.ceil(sensitivity - 1e-9) / budget.epsilon * (1 + 2**-40))
    granularity = auto_granularity(sensitivity / budget.epsilon)
    shift = math.floor(sensitivity / granularity + changed_coordinates + 1e-9)
    scale = shift * granularity / budget.epsilon * (1 + 2**-40)
    return make_laplace(scale, granularity=granularity, changed_coordinates=changed_coordinates)


def gaussian_for(
    budget: ZCDP, sensitivity: float, *, integer: bool = True, changed_coordinates: int = 1
) -> Measurement:
    """The least-noise Gaussian measurement whose loss at L2 ``sensitivity`` fits ``budget``."""
    if not isinstance(budget, ZCDP) or budget.rho <= 0:
        raise ParameterError(f"gaussian needs a ZCDP budget with rho > 0, got {budget!r}")
    sensitivity = _positive("sensitivity", sensitivity)
    if integer:
        return make_gaussian(sensitivity / math.sqrt(2 * budget.rho) * (1 + 2**-40))
    granularity = auto_granularity(sensitivity / math.sqrt(2 * budget.rho))
    shift = sensitivity / granularity + math.sqrt(changed_coordinates)
    sigma = shift * granularity / math.sqrt(2 * budget.rho) * (1 + 2**-40)
    return make_gaussian(sigma, granularity=granularity, changed_coordinates=changed_coordinates)


def laplace_tail(grid_scale: float, alpha: float) -> int:
    """The least k with P(|Z| > k) ≤ alpha for discrete Laplace noise of ``grid_scale``."""
    q = math.exp(-1 / grid_scale)
    # P(|Z| > k) = 2 q^(k+1) / (1 + q); log q is -1/grid_scale even where q underflows to 0.
    k = -grid_scale * math.log(alpha * (1 + q) / 2) - 1
    return max(0, math.ceil(k))


def half_width(m: Measurement, alpha: float = 0.05) -> float:
    """Half the width of the (1 - alpha) noise interval of an additive measurement."""
    grid = m.granularity or 1.0
    grid_scale = m.scale / grid
    if m.name == "laplace":
        return laplace_tail(grid_scale, alpha) * grid
    return gaussian_tail(grid_scale, alpha) * grid


def gaussian_tail(grid_sigma: float, alpha: float) -> int:
    """The least k with P(|Z| > k) ≤ alpha for discrete Gaussian noise of ``grid_sigma``."""
    if grid_sigma > 1e5:  # the discrete and continuous tails agree to far below 1e-6 here
        z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
        return math.ceil(z * grid_sigma)
    support = np.arange(0, math.ceil(14 * grid_sigma) + 8, dtype=np.float64)
    weights = np.exp(-(support**2) / (2 * grid_sigma**2))
    mass = np.where(support == 0, 1.0, 2.0) * weights
    outside = 1 - np.cumsum(mass) / mass.sum()  # P(|Z| > k)
    return int(np.argmax(outside <= alpha))
