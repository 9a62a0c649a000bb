"""Re-identification risk from equivalence-class sizes.

The prosecutor's risk of a record in a class of size ``f`` is ``1 / f``. When the table is
a sample (fraction ``pi``) of a larger population, the population class size ``F`` is
unknown; the journalist's risk is ``E[1 / F | f]`` under the negative-binomial model of
Benedetti and Franconi (1998), the model sdcMicro and mu-Argus use. Population uniqueness
is estimated with Zayatz's (1991) method.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["expected_inverse_population_size", "zayatz_population_uniques"]

_SERIES_LIMIT = 200_000


def expected_inverse_population_size(f: np.ndarray, pi: float) -> np.ndarray:
    """``E[1 / F | f]`` for each sample class size in ``f`` at sampling fraction ``pi``.

    ``F - f`` is negative binomial with ``f`` successes of probability ``pi``, so
    ``E[1/F] = sum_h (1/h) C(h-1, f-1) pi^f (1-pi)^(h-f)`` over ``h >= f``; with ``pi = 1``
    this is ``1 / f``.
    """
    sizes = np.asarray(f, dtype=np.int64)
    if pi >= 1.0:
        return 1.0 / sizes
    unique = np.unique(sizes)
    risk = np.empty(len(unique), dtype=np.float64)
    log_pi, log_q = math.log(pi), math.log1p(-pi)
    for i, size in enumerate(unique.tolist()):
        mean = size * (1 - pi) / pi
        spread = math.sqrt(size * (1 - pi)) / pi
        terms = int(mean + 40 * spread + 100)
        if size == 1:
            risk[i] = -pi * log_pi / (1 - pi)
            continue
        if terms > _SERIES_LIMIT:
            # So many terms only when f / pi is huge; then F concentrates at its mean.
            risk[i] = pi / (size - 1 + pi)
            continue
        h = np.arange(size, size + terms, dtype=np.float64)
        # P(F = h) / P(F = h - 1) = (h - 1) q / (h - f); accumulate in log space.
        steps = np.log(h[1:] - 1) - np.log(h[1:] - size) + log_q
        log_pmf = size * log_pi + np.concatenate(([0.0], np.cumsum(steps)))
        risk[i] = float(np.sum(np.exp(log_pmf) / h))
    return risk[np.searchsorted(unique, sizes)]


def zayatz_population_uniques(sizes: np.ndarray, pi: float) -> float:
    """Estimated number of population uniques among the sample uniques (Zayatz).

    The sample's class-size distribution stands in for the population's; a population
    class of size ``i`` yields a sample unique with probability ``i pi (1 - pi)^(i - 1)``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    uniques = int(np.count_nonzero(sizes == 1))
    if uniques == 0:
        return 0.0
    if pi >= 1.0:
        return float(uniques)
    size_values, class_counts = np.unique(sizes, return_counts=True)
    share = class_counts / class_counts.sum()
    exponent = (size_values - 1).astype(np.float64)
    yields = share * size_values * pi * np.exp(exponent * math.log1p(-pi))
    from_unique = share[0] * pi if size_values[0] == 1 else 0.0
    return uniques * float(from_unique / yields.sum())
