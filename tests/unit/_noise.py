"""Measure a release's noise and hold it to the scale its privacy map promises.

Each noise-scale test knows the true statistic, so every released coordinate minus
the truth is one noise draw. The root mean square of ``n`` draws estimates the noise
standard deviation with a relative standard error of about ``1/√(2n)`` for Gaussian
noise and ``√5/(2√n)`` for Laplace noise (kurtosis 6). With ``n ≥ MIN_DRAWS`` that is
at most 1.2%, so the tolerance ``REL_TOL`` = 10% sits 8 standard errors away (a false
failure below 1e-15) while halving the scale (ratio 0.5) or halving a sensitivity
under zCDP (σ ∝ Δ, ratio 0.5) misses it by 40 points. Too little noise is a privacy
bug, too much a utility bug: both bounds are checked.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._interactions import Interactions

REL_TOL = 0.10
MIN_DRAWS = 10_000


def seeded(seed: int) -> np.random.Generator:
    """A reproducible generator (the tests are deterministic; the margins are not luck)."""
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def discrete_laplace_sd(scale: float) -> float:
    """Standard deviation of the discrete Laplace on the integers with ``scale``."""
    q = math.exp(-1 / scale)
    return math.sqrt(2 * q) / (1 - q)


def discrete_gaussian_sd(sigma: float) -> float:
    """Standard deviation of the discrete Gaussian on the integers with parameter ``sigma``."""
    support = np.arange(-math.ceil(40 * sigma) - 8, math.ceil(40 * sigma) + 9, dtype=np.float64)
    weights = np.exp(-(support**2) / (2 * sigma**2))
    return float(math.sqrt(np.sum(support**2 * weights) / np.sum(weights)))


def measured_sd(noise: np.ndarray, *, min_draws: int = MIN_DRAWS) -> float:
    """Root mean square of zero-mean noise draws (a bias shows up as extra spread)."""
    draws = np.asarray(noise, dtype=np.float64).ravel()
    assert draws.size >= min_draws, f"only {draws.size} noise draws; the margins need more"
    return float(np.sqrt(np.mean(draws**2)))


def assert_scale(measured: float, promised: float, what: str, tol: float = REL_TOL) -> None:
    """``measured`` within ``tol`` (relative) of ``promised``, on both sides."""
    ratio = measured / promised
    assert abs(ratio - 1) <= tol, (
        f"{what}: measured noise sd {measured:.5g}, the privacy map promises {promised:.5g} "
        f"(ratio {ratio:.3f}, allowed 1 ± {tol})"
    )


def assert_noise(noise: np.ndarray, promised: float, what: str) -> None:
    """The draws' spread matches ``promised`` within :data:`REL_TOL`."""
    assert_scale(measured_sd(noise), promised, what)


def interactions(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> Interactions:
    """Events on a public catalogue of ``n_items`` items (ids zero-padded: sorted)."""
    catalogue = Catalogue(np.array([f"i{i:06d}" for i in range(n_items)]))
    return Interactions(
        users.astype(np.int32),
        items.astype(np.int32),
        np.full(len(users), np.datetime64(datetime(2024, 1, 1), "us")),
        np.array([f"u{i}" for i in range(n_users)]),
        catalogue.item_ids,
        catalogue=catalogue,
    )
