"""The exact samplers: distributions match the stated ones, the exact path agrees with
the float path, and nothing in the release path uses NumPy's float noise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.dp._samplers import (
    _exact_exceeds,
    _exact_geometric,
    _exp_bounds,
    bernoulli_exp_neg,
    geometric,
)
from shopveil.dp.hazmat import (
    AesCtrBits,
    as_bits,
    sample_discrete_gaussian,
    sample_discrete_laplace,
)
from shopveil.errors import ParameterError

N = 200_000


def _laplace_pmf(z: np.ndarray, scale: float) -> np.ndarray:
    q = math.exp(-1 / scale)
    return (1 - q) / (1 + q) * q ** np.abs(z)


def _gaussian_pmf(z: np.ndarray, sigma: float) -> np.ndarray:
    support = np.arange(-int(12 * sigma) - 5, int(12 * sigma) + 6)
    weights = np.exp(-(support.astype(float) ** 2) / (2 * sigma**2))
    return np.exp(-(z.astype(float) ** 2) / (2 * sigma**2)) / weights.sum()


def _chi_square_ok(samples: np.ndarray, pmf) -> None:  # type: ignore[no-untyped-def]
    """Pearson's test over cells with expected count ≥ 20, at a 5-sigma threshold."""
    values, counts = np.unique(samples, return_counts=True)
    expected = pmf(values) * len(samples)
    keep = expected >= 20
    observed = counts[keep]
    exp = expected[keep]
    stat = float(((observed - exp) ** 2 / exp).sum())
    dof = int(keep.sum()) - 1
    # chi2 with k dof has mean k and sd sqrt(2k); 6 sd is far beyond chance here.
    assert stat < dof + 6 * math.sqrt(2 * dof), (stat, dof)
    assert observed.sum() > 0.98 * len(samples)


@pytest.mark.parametrize("scale", [0.5, 3.0, 40.0])
def test_discrete_laplace_matches_its_pmf_and_variance(scale: float) -> None:
    z = sample_discrete_laplace(scale, N)
    _chi_square_ok(z, lambda v: _laplace_pmf(v, scale))
    q = math.exp(-1 / scale)
    variance = 2 * q / (1 - q) ** 2
    # the sample variance of N draws is within a few standard errors of the truth
    assert abs(z.var() - variance) < 6 * variance * math.sqrt(2 / N) * 3


@pytest.mark.parametrize("sigma", [0.4, 0.7, 2.5, 30.0])
def test_discrete_gaussian_matches_its_pmf(sigma: float) -> None:
    z = sample_discrete_gaussian(sigma, N)
    _chi_square_ok(z, lambda v: _gaussian_pmf(v, sigma))
    assert abs(z.mean()) < 6 * sigma / math.sqrt(N)


def test_discrete_gaussian_zero_and_sign_have_their_exact_weights() -> None:
    # The proposal is a sign times a geometric with (−, 0) rejected: a bug there shows
    # as a zero cell twice too heavy, or an asymmetry between z and −z.
    sigma = 1.5
    z = sample_discrete_gaussian(sigma, N)
    for v in (0, 1, 2):
        p = float(_gaussian_pmf(np.array([v]), sigma)[0])
        for w in {v, -v}:
            assert abs((z == w).mean() - p) < 5 * math.sqrt(p * (1 - p) / N), (w, p)


def test_coins_by_magnitude_agree_between_the_table_and_the_exact_path() -> None:
    from fractions import Fraction

    from shopveil.dp._samplers import _coins_by_magnitude

    gamma = np.array([0.0, 0.3, 1.2, 800.0])  # 800: exp underflows, the margin must hold
    exact = [Fraction(0), Fraction(3, 10), Fraction(6, 5), Fraction(800)]
    magnitude = np.arange(40_000) % 4
    bits = as_bits(None)
    for bound in (gamma, np.full(4, 1e12)):  # 1e12: no bracket, every coin goes exact
        n = 40_000 if bound is gamma else 4_000
        coins = _coins_by_magnitude(magnitude[:n], gamma, bound, lambda i: exact[i % 4], bits)
        for k in range(4):
            p = math.exp(-float(gamma[k]))
            got = coins[magnitude[:n] == k].mean()
            assert abs(got - p) <= 5 * math.sqrt(max(p * (1 - p), 1e-12) / (n / 4)), (k, got)


def test_large_scales_have_the_stated_spread() -> None:
    z = sample_discrete_laplace(1e9, 100_000)
    assert z.dtype == np.int64
    # mean |Z| of a discrete Laplace with huge scale is ≈ scale
    assert 0.97e9 < np.abs(z).mean() < 1.03e9
    g = sample_discrete_gaussian(1e6, 100_000)
    assert 0.98e6 < g.std() < 1.02e6


def test_geometric_tail_is_exact_in_distribution() -> None:
    scale = 2.0
    g = geometric(scale, N, as_bits(None))
    for k in range(6):
        expected = math.exp(-k / scale)
        observed = float((g >= k).mean())
        assert abs(observed - expected) < 5 * math.sqrt(expected * (1 - expected) / N) + 1e-9


def test_exact_path_agrees_with_the_float_path() -> None:
    """Where the float path settles a draw, the decimal path gives the same answer."""
    bits = AesCtrBits()
    words = bits.words(300)
    prefix, e_lo, e_hi = _exp_bounds(words)
    for scale in (0.3, 7.0, 12345.6):
        low = np.floor(scale * e_lo)
        high = np.floor(scale * e_hi)
        for i in np.flatnonzero(low == high)[:100]:
            assert _exact_geometric(scale, int(prefix[i]), bits) == int(low[i])


def test_exact_path_alone_samples_the_right_distribution() -> None:
    """Drive the rare exact path directly: its geometric follows P(G ≥ k) = exp(-k/b)."""
    bits = AesCtrBits()
    prefixes = bits.words(4000) >> np.uint64(11)
    g = np.array([_exact_geometric(1.5, int(p), bits) for p in prefixes])
    for k in range(4):
        expected = math.exp(-k / 1.5)
        assert abs(float((g >= k).mean()) - expected) < 5 * math.sqrt(expected / 4000) + 0.01


def test_exact_comparison_handles_the_zero_prefix_and_ties() -> None:
    from fractions import Fraction

    bits = AesCtrBits()
    # a zero prefix means U < 2^-53, so E > 36: larger than γ = 1 for certain
    assert _exact_exceeds(Fraction(1), 0, bits) is True
    assert _exact_geometric(1.0, 0, bits) >= 36


def test_bernoulli_exp_neg_has_bias_exp_minus_gamma() -> None:
    from fractions import Fraction

    gamma = np.full(N, 0.7)
    coins = bernoulli_exp_neg(gamma, gamma, lambda i: Fraction(7, 10), as_bits(None))
    p = math.exp(-0.7)
    assert abs(coins.mean() - p) < 5 * math.sqrt(p * (1 - p) / N)


def test_seeded_sources_warn_and_reproduce() -> None:
    with pytest.warns(InsecureRandomnessWarning):
        a = sample_discrete_laplace(2.0, 50, rng=insecure_seeded_rng(7))
    with pytest.warns(InsecureRandomnessWarning):
        b = sample_discrete_laplace(2.0, 50, rng=insecure_seeded_rng(7))
    assert np.array_equal(a, b)
    with pytest.warns(InsecureRandomnessWarning):
        AesCtrBits(key=bytes(32))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_bad_scales_are_refused(bad: object) -> None:
    with pytest.raises(ParameterError, match="scale"):
        sample_discrete_laplace(bad, 3)  # type: ignore[arg-type]


def test_release_code_never_uses_numpy_float_noise() -> None:
    source = Path(__file__).resolve().parents[2] / "src" / "shopveil" / "dp"
    text = "\n".join(p.read_text() for p in source.rglob("*.py"))
    for banned in (".laplace(", ".normal(", ".exponential(", "random.random("):
        assert banned not in text
