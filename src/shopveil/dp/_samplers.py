"""Exact, vectorized samplers for integer noise: geometric, discrete Laplace, discrete Gaussian.

Why this is floating-point safe
-------------------------------
Mironov (2012) showed that Laplace noise computed as ``-b·log(U)`` in doubles leaks the
input through the pattern of representable outputs. ShopVeil never releases a float
computed that way. Every sampler here returns **integers** whose distribution is
*exactly* the stated one, and the releases that use them put the true value on a
public grid first (see :mod:`shopveil.dp._measurement`), so no low-order bits remain.

Exactness comes from one idea. Each sample consumes an exponential variable
``E = -ln U`` where ``U`` is uniform on (0, 1). ``U`` is known only to its first 53
bits, so ``E`` is known to lie in a small interval; the float path computes that interval
with a rounding error bound that is deliberately generous (2⁻⁴⁴ relative). When the
whole interval leads to one outcome (``floor(b·E)`` for a geometric, ``E > γ`` for a
Bernoulli(exp(-γ)) acceptance) the outcome is exact. When it does not, which happens
with probability about 2⁻⁴⁰ per draw, the sample is settled exactly: more random bits
of ``U`` are drawn and ``ln`` is evaluated with :mod:`decimal` (correctly rounded) at a
precision that grows until the outcome is certain. Hence the samples follow

* ``geometric(b)``: ``P(G ≥ k) = exp(-k/b)`` for k = 0, 1, ...;
* ``discrete_laplace(b)``: ``P(Z = z) ∝ exp(-|z|/b)``, as the difference of two
  independent geometrics;
* ``discrete_gaussian(σ)``: ``P(Z = z) ∝ exp(-z²/(2σ²))``, by rejection from a discrete
  Laplace proposal (Canonne, Kamath & Steinke 2020, Algorithm 3), the acceptance coin
  decided by the same kind of exact comparison (``U`` against a bracket of ``exp(-γ)``
  computed once per magnitude when the proposals have few distinct magnitudes).

Work runs in chunks that fit in cache, so the float path reaches tens of millions of
values per second from an AES-CTR keystream.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from shopveil.dp._bits import RandomBits, Rng, as_bits
from shopveil.errors import ParameterError

__all__ = [
    "bernoulli_exp_neg",
    "discrete_gaussian",
    "discrete_laplace",
    "geometric",
    "sample_discrete_gaussian",
    "sample_discrete_laplace",
]

_CHUNK = 1 << 16
_TWO53 = float(2**53)
_REL = 2.0**-44  # generous bound on the float path's relative rounding error
_ABS = 2.0**-60
_TINY = 2.0**-1000  # above exp's absolute error where it underflows (γ > 700)
_MAX_SCALE = 2.0**48
_GAUSS_OVERSAMPLE = 1.3  # proposals per wanted value: most σ accept over 0.6 of them
# Batches of 2^14: their 128 KiB arrays stay below glibc's mmap threshold, so they are
# not mapped, faulted in and unmapped again on every batch (2x slower at 2^16).
_GAUSS_BATCH = 1 << 14


def sample_discrete_laplace(scale: float, size: int, *, rng: Rng = None) -> np.ndarray:
    """``size`` integers with ``P(z) ∝ exp(-|z|/scale)``; ``rng`` defaults to a CSPRNG."""
    return discrete_laplace(_check_scale("scale", scale), size, as_bits(rng))


def sample_discrete_gaussian(sigma: float, size: int, *, rng: Rng = None) -> np.ndarray:
    """``size`` integers with ``P(z) ∝ exp(-z²/(2σ²))``; ``rng`` defaults to a CSPRNG."""
    return discrete_gaussian(_check_scale("sigma", sigma), size, as_bits(rng))


def _check_scale(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not (0 < value <= _MAX_SCALE):
        raise ParameterError(f"{name} must be in (0, 2^48], got {value}")
    return value


def _size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ParameterError(f"size must be a non-negative int, got {size!r}")
    return int(size)


# --- the float path -----------------------------------------------------------------------


def _exp_bounds(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 53-bit prefixes of U and a certain interval [lo, hi] holding E = -ln U."""
    prefix = words >> np.uint64(11)
    u_lo = prefix.astype(np.float64) / _TWO53
    with np.errstate(divide="ignore", invalid="ignore"):
        e_top = -np.log(u_lo)  # E ≤ -ln(u_lo); +inf when the prefix is 0
        width = (1.0 / _TWO53) / u_lo  # ln's slope bounds how far E can sit below e_top
        e_hi = e_top * (1 + _REL) + _ABS
        e_lo = (e_top - width) * (1 - _REL) - _ABS
    return prefix, e_lo, e_hi


def geometric(scale: float, size: int, bits: RandomBits) -> np.ndarray:
    """``floor(scale·E)``: ``P(G ≥ k) = exp(-k/scale)``, exactly."""
    n = _size(size)
    out = np.empty(n, dtype=np.int64)
    # The same interval as _exp_bounds, folded into fewer passes over each chunk.
    spread_factor = scale / _TWO53
    grow, shrink = (1 + _REL) ** 2, (1 - _REL) ** 2
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        prefix = bits.words(stop - start) >> np.uint64(11)
        u = prefix.astype(np.float64)
        u *= 1.0 / _TWO53
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = np.log(u)
            x *= -scale  # scale·E at the top of U's interval
            spread = spread_factor / u  # how far scale·E can sit below it
            high = x * grow
            high += _ABS * (1 + scale)
            np.floor(high, out=high)
            x -= spread
            x *= shrink
            x -= _ABS * (1 + scale)
            np.floor(x, out=x)
        settled = x == high
        chunk = np.where(settled, x, 0.0).astype(np.int64)
        for i in np.flatnonzero(~settled):
            chunk[i] = _exact_geometric(scale, int(prefix[i]), bits)
        out[start:stop] = chunk
    return out


def discrete_laplace(scale: float, size: int, bits: RandomBits) -> np.ndarray:
    """``P(Z = z) ∝ exp(-|z|/scale)``, as the difference of two geometrics."""
    n = _size(size)
    return geometric(scale, n, bits) - geometric(scale, n, bits)


def bernoulli_exp_neg(
    gamma: np.ndarray,
    magnitude: np.ndarray,
    exact_gamma: Callable[[int], Fraction],
    bits: RandomBits,
) -> np.ndarray:
    """Coins with ``P(True) = exp(-γ)``, exactly.

    ``gamma`` holds float approximations computed from terms no larger than
    ``magnitude`` (which bounds their rounding error); ``exact_gamma(i)`` gives the exact
    rational γ of coin ``i`` when the float path cannot settle it.
    """
    n = len(gamma)
    out = np.empty(n, dtype=bool)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        g = gamma[start:stop]
        slack = _REL * (np.abs(g) + magnitude[start:stop]) + _ABS
        prefix, e_lo, e_hi = _exp_bounds(bits.words(stop - start))
        accept = e_lo > g + slack
        reject = e_hi <= g - slack
        chunk = accept.copy()
        for i in np.flatnonzero(~(accept | reject)):
            chunk[i] = _exact_exceeds(exact_gamma(start + int(i)), int(prefix[i]), bits)
        out[start:stop] = chunk
    return out


def discrete_gaussian(sigma: float, size: int, bits: RandomBits) -> np.ndarray:
    """``P(Z = z) ∝ exp(-z²/(2σ²))`` by exact rejection from a discrete Laplace.

    The proposal ``Y ~ DLap(t)``, ``t = ⌊σ⌋ + 1``, is drawn as a sign times one geometric,
    rejecting (−, 0): every ``y`` then has weight ``½·(1−q)·q^|y|``, a discrete Laplace,
    for one logarithm instead of the two of a difference of geometrics. The acceptance
    coin depends on ``|Y|`` only, so the sign (and the (−, 0) rejection, independent of
    the coin) is drawn after it, for the accepted magnitudes only.
    """
    n = _size(size)
    t = math.floor(sigma) + 1
    sigma2 = sigma * sigma
    center = sigma2 / t
    half_inv_sigma2 = 0.5 / sigma2  # a multiply rounds once more; the slack covers it
    exact_sigma2 = Fraction(sigma) ** 2
    exact_center = exact_sigma2 / t
    out = np.empty(n, dtype=np.int64)
    filled = 0
    while filled < n:
        want = n - filled
        batch = min(int(want * _GAUSS_OVERSAMPLE) + 16, _GAUSS_BATCH)
        absolute = geometric(float(t), batch, bits)

        def exact(i: int, _abs: np.ndarray = absolute) -> Fraction:
            return (Fraction(int(_abs[i])) - exact_center) ** 2 / (2 * exact_sigma2)

        top = int(absolute.max())
        if top < batch:  # few magnitudes: γ once per magnitude, not per proposal
            gamma, bound = _gamma(np.arange(top + 1, dtype=np.float64), center, half_inv_sigma2)
            keep = _coins_by_magnitude(absolute, gamma, bound, exact, bits)
        else:
            gamma, bound = _gamma(absolute.astype(np.float64), center, half_inv_sigma2)
            keep = bernoulli_exp_neg(gamma, bound, exact, bits)
        kept = absolute[keep]
        # The sign is independent of the coin, so it is drawn for kept values only.
        signs = np.unpackbits(bits.words(-(-len(kept) // 64)).view(np.uint8), count=len(kept))
        negative = signs.view(bool)
        np.negative(kept, out=kept, where=negative)
        kept = kept[~(negative & (kept == 0))][:want]
        out[filled : filled + len(kept)] = kept
        filled += len(kept)
    return out


def _gamma(
    magnitudes: np.ndarray, center: float, half_inv_sigma2: float
) -> tuple[np.ndarray, np.ndarray]:
    """γ = (|y| − c)²/(2σ²) and the scale of its rounding error, (|y| + c)²/(2σ²)."""
    bound = magnitudes + center
    gamma = magnitudes - center
    gamma *= gamma
    gamma *= half_inv_sigma2
    bound *= bound
    bound *= half_inv_sigma2
    return gamma, bound


def _coins_by_magnitude(
    magnitude: np.ndarray,
    gamma: np.ndarray,
    bound: np.ndarray,
    exact_gamma: Callable[[int], Fraction],
    bits: RandomBits,
) -> np.ndarray:
    """Coin ``i`` is True with probability ``exp(-gamma[magnitude[i]])``, exactly.

    ``E > γ`` is ``U < exp(-γ)``: ``exp(-γ)`` is bracketed once per magnitude, with a
    margin for γ's rounding (``slack``, as in :func:`bernoulli_exp_neg`) and for
    ``exp``'s (≤ 2⁻⁴⁴ relative; 2⁻¹⁰⁰⁰ absolute where it underflows), and each coin
    compares its ``U`` interval with the bracket: no logarithm per coin. Coins the
    bracket cannot settle go to the exact path.
    """
    slack = _REL * (gamma + bound) + _ABS
    margin = 2 * slack + 4 * _REL  # e^(±slack)·(1 ± exp's error), while slack ≤ 1/4
    threshold = np.exp(-gamma)
    usable = slack <= 0.25
    low = np.where(usable, threshold * (1 - margin) - _TINY, -np.inf)
    high = np.where(usable, threshold * (1 + margin) + _TINY, np.inf)
    prefix = bits.words(len(magnitude)) >> np.uint64(11)
    u = prefix.astype(np.float64)
    u *= 1.0 / _TWO53  # U ≥ u
    reject = u >= high[magnitude]
    u += 1.0 / _TWO53  # U < u, exactly: (prefix + 1) / 2^53
    accept = u <= low[magnitude]
    for i in np.flatnonzero(~(accept | reject)):
        accept[i] = _exact_exceeds(exact_gamma(int(i)), int(prefix[i]), bits)
    return accept


# --- the exact path (rare) ----------------------------------------------------------------


def _ln_bounds(a: int, nbits: int, prec: int) -> tuple[decimal.Decimal, decimal.Decimal] | None:
    """Certain bounds on E = -ln U for U in [a/2^n, (a+1)/2^n); None when a == 0."""
    if a == 0:
        return None
    ctx = decimal.Context(prec=prec)
    scale = decimal.Decimal(2) ** nbits
    lo_u = ctx.divide(decimal.Decimal(a), scale)
    hi_u = ctx.divide(decimal.Decimal(a + 1), scale)
    e_hi = -ctx.ln(lo_u)
    e_lo = -ctx.ln(hi_u)
    pad = decimal.Decimal(10) ** (-(prec - 3)) * (abs(e_hi) + 1)
    return e_lo - pad, e_hi + pad


def _refine(a: int, nbits: int, bits: RandomBits) -> tuple[int, int]:
    word = int(bits.words(1)[0])
    return (a << 64) | word, nbits + 64


def _exact_geometric(scale: float, prefix: int, bits: RandomBits) -> int:
    a, nbits, prec = prefix, 53, 40
    b = decimal.Decimal(scale)  # exact: a double is a dyadic rational
    while True:
        bounds = _ln_bounds(a, nbits, prec)
        if bounds is not None:
            ctx = decimal.Context(prec=prec + 10)
            pad = decimal.Decimal(10) ** (-prec)
            x_lo = ctx.multiply(b, bounds[0]) - pad * (1 + b * bounds[1])
            x_hi = ctx.multiply(b, bounds[1]) + pad * (1 + b * bounds[1])
            if math.floor(x_lo) == math.floor(x_hi):
                return math.floor(x_lo)
        a, nbits = _refine(a, nbits, bits)
        prec += 20


def _exact_exceeds(gamma: Fraction, prefix: int, bits: RandomBits) -> bool:
    """Exactly decide E > γ (i.e. U < exp(-γ))."""
    a, nbits, prec = prefix, 53, 40
    while True:
        bounds = _ln_bounds(a, nbits, prec)
        if bounds is not None:
            ctx = decimal.Context(prec=prec)
            g = ctx.divide(decimal.Decimal(gamma.numerator), decimal.Decimal(gamma.denominator))
            pad = decimal.Decimal(10) ** (-(prec - 3)) * (abs(g) + 1)
            if bounds[0] > g + pad:
                return True
            if bounds[1] < g - pad:
                return False
        a, nbits = _refine(a, nbits, bits)
        prec += 20
