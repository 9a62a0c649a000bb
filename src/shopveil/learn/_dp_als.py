"""Private alternating least squares (after Chien et al. 2021), user-side.

Only item-side state is central. A fit releases, all with Gaussian noise from the exact
discrete sampler (:func:`~shopveil.dp.gaussian_for`, on a fine power-of-two
grid) and composed in zCDP:

1. **DP item counts** ``c_i`` (how many customers bought item i). They rank the items: the
   ``n_items_kept`` most bought get factors, every other item falls back to these counts
   (DP popularity), and customers with no history get DP popularity too.
2. Starting from item factors that use no customer data (the latent semantic space of the
   public catalogue texts, ``Interactions.catalogue``, or a random basis without them), per
   iteration the **noisy sufficient statistics** of the item-factor update: the global
   Gram matrix ``G = Σ_u u uᵀ`` (upper triangle) and, per kept item, ``b_i = Σ_{u buys i} u``.
   Item factors are ``V = B (G + λI)⁻¹``; the user factors ``u = (VᵀV + λI)⁻¹ Vᵀ x_u`` are
   solved locally from each customer's own row ``x_u``, scaled to ``‖u‖ = C`` and never
   released; at scoring time the same solve runs on the history passed in.

The objective is the implicit-feedback least squares over *all* (customer, item) cells
with one weight (a purchase is r = 1, every other cell r = 0), i.e. the α → 0 end of
implicit ALS, whose fixed point is the rank-``r`` truncated SVD of the purchase matrix
(PureSVD, Cremonesi et al. 2010, strong for top-N). Its item update needs only one
global Gram matrix instead of one per item, which is what makes it cheap to privatize:
the per-item Gram matrices of Chien et al. cost ``r²`` noisy numbers per item, the
global one ``r(r+1)/2`` in total, with a signal from every customer.

Sensitivity (one customer added or removed; the privacy unit is the customer)
----------------------------------------------------------------------------
Before anything is computed each customer's items are cut to at most ``m =
max_items_per_user``, sampled uniformly (a customer's sample does not depend on anyone
else's data), and their row ``x_u`` (k_u ≤ m ones) is weighted by ``1/√k_u``, so
``‖x_u/√k_u‖₂ = 1`` whatever k_u is. Then

* counts ``Σ_u x_u/√k_u``: the customer's term has L2 norm 1 → sensitivity **1**;
* ``B = Σ_u (x_u/√k_u) uᵀ``: the customer's term is an outer product with Frobenius
  norm ``‖x_u/√k_u‖·‖u‖ ≤ C`` → sensitivity **C**, whatever u is (u depends only on the
  customer's own row and on the previous, already released V);
* ``G = Σ_u u uᵀ``: its upper triangle has L2 norm ≤ ‖u uᵀ‖_F = ‖u‖² ≤ **C²**.

The 1/√k_u weighting is what makes the item statistics usable on a small retailer: an
m-item bound without it costs a factor √m in noise. Gaussian noise σ on a release of L2
sensitivity Δ is ``Δ²/(2σ²)``-zCDP; the counts and T iterations compose to ``ρ =
ρ_counts + T(ρ_B + ρ_G)`` (Bun & Steinke 2016); an (ε, δ) target gets the largest ρ whose
RDP curve ρα converts to within it (:func:`~shopveil.dp.hazmat.max_zcdp_within`; about 40% more
ρ at ε = 1 than ρ + 2√(ρ ln 1/δ) allows), and the fit states that conversion of ρ.
``count_share`` of ρ goes to the counts, the rest evenly to the iterations, 1/10 of each
iteration's share to G (it sums over all customers, so little noise suffices). Rounding
to the grid is accounted for by ``gaussian_for``. Each customer's u is scaled to norm
exactly C (≤ C, so the bounds hold) because a shorter u adds less signal for the same noise.

Noise awareness: the expected squared norm of the noise in a row of ``B`` is ``r σ_B²``;
an item whose noisy ``‖b_i‖²`` is not clearly above it carries no signal, so its factor
is shrunk by ``max(0, 1 − rσ_B²/‖b_i‖²)`` (a James–Stein factor). ``G``'s noise is
symmetric; ``λ`` plus the noise's expected spectral norm (≈ 2σ_G√r) is added to its
diagonal so the solve stays well conditioned. Scores on kept items blend the factor
score (scaled to [0, 1] per customer) with the item's DP-count rank among kept items
(``popularity_weight``), so where the factors are noisy the ranking backs off to DP
popularity rather than to noise; when no row of ``B`` rises clearly above the noise (a
χ² test at level 10⁻³ over all rows), the factors are dropped and the fit warns
(:class:`~shopveil.learn.NoSignalWarning`): everyone gets DP popularity.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse, stats

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.extras import from_extra
from shopveil.dp import gaussian_for
from shopveil.dp.hazmat import RandomBits, as_bits, max_zcdp_within, rdp_of_zcdp, rdp_to_approx_dp
from shopveil.errors import ParameterError
from shopveil.learn._baselines import admit
from shopveil.learn._interactions import Interactions, require_catalogue
from shopveil.learn._popularity import bound_contributions, unit_rows
from shopveil.learn._recommender import FitContext, NoSignalWarning
from shopveil.learn._text import tfidf

__all__ = ["DPALS", "FittedDPALS"]

_REPORT_DELTA = 1e-6  # δ used to state a ZCDP target as (ε, δ)
_G_SHARE = 0.1  # fraction of an iteration's ρ spent on the global Gram matrix


@dataclass(frozen=True)
class DPALS:
    """Configuration of private ALS.

    Parameters
    ----------
    epsilon
        The target, per customer: ``ApproxDP(ε, δ)`` or ``ZCDP(ρ)``.
    rank
        Factor dimension r.
    iterations
        Noisy item updates T (each costs budget; one suffices from a text start).
    max_items_per_user
        m: a customer's items are sampled down to m before anything is computed.
    clip
        C: user factors are clipped to ``‖u‖ ≤ C`` before they enter the statistics.
    reg
        λ of both solves.
    n_items_kept
        How many items (the most bought, by DP count) get factors.
    count_share
        Fraction of the budget spent on the DP item counts.
    popularity_weight
        Weight of the DP-count rank against the factor score on kept items (both in [0, 1]).

    The defaults are tuned for ε ≈ 1 on a few thousand customers; with more budget or
    more customers, a larger rank, more kept items and a smaller popularity weight win
    (e.g. rank 16 at ε = 8 on Online Retail).
    """

    epsilon: ApproxDP | ZCDP
    rank: int = 4
    iterations: int = 1
    max_items_per_user: int = 100
    clip: float = 1.0
    reg: float = 1.0
    n_items_kept: int = 600
    count_share: float = 0.3
    popularity_weight: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.epsilon, ApproxDP | ZCDP):
            raise ParameterError(
                f"epsilon must be ApproxDP(ε, δ) or ZCDP(ρ), got {self.epsilon!r}; "
                "e.g. epsilon=ApproxDP(1.0, 1e-6)"
            )
        if isinstance(self.epsilon, ApproxDP) and not (
            self.epsilon.epsilon > 0 < self.epsilon.delta
        ):
            raise ParameterError(f"epsilon needs ε > 0 and δ > 0, got {self.epsilon}")
        if isinstance(self.epsilon, ZCDP) and not self.epsilon.rho > 0:
            raise ParameterError(f"epsilon needs ρ > 0, got {self.epsilon}")
        for name in ("rank", "iterations", "max_items_per_user", "n_items_kept"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("clip", "reg"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")
        if not (isinstance(self.popularity_weight, int | float) and self.popularity_weight >= 0):
            raise ParameterError(
                f"popularity_weight must be a number >= 0, got {self.popularity_weight!r}"
            )
        if not 0 < self.count_share < 1:
            raise ParameterError(f"count_share must be in (0, 1), got {self.count_share!r}")

    @property
    def rho(self) -> float:
        """The total zCDP budget the fit spends."""
        if isinstance(self.epsilon, ZCDP):
            return self.epsilon.rho
        return max_zcdp_within(self.epsilon).rho

    @property
    def cost(self) -> ApproxDP | ZCDP:
        """What the ledger is charged, in the kind of the target."""
        if isinstance(self.epsilon, ZCDP):
            return self.epsilon
        return stated(ZCDP(self.rho), self.epsilon.delta)

    def fit(self, train: Interactions, context: FitContext) -> FittedDPALS:
        """Charge the ledger, then release DP counts and noisy item factors."""
        train = context.consented(train)
        require_catalogue(train, "dp-als")
        train, _ = admit(train, context, self.cost, "dp-als fit")
        bits = as_bits(context.rng)
        rows = bound_contributions(train.matrix(), self.max_items_per_user, bits)
        weighted = unit_rows(rows)
        sigmas = self.noise_scales()
        counts = noisy(
            np.asarray(weighted.sum(axis=0)).ravel(),
            sigmas.counts,
            1.0,
            self.max_items_per_user,
            bits,
        )
        kept = np.sort(np.argsort(-counts, kind="stable")[: min(self.n_items_kept, train.n_items)])
        texts = None if train.item_text is None else [train.item_text[i] for i in kept]
        start = start_factors(len(kept), texts, self.rank, bits)
        factors, signal = item_factors(rows[:, kept], weighted[:, kept], start, self, sigmas, bits)
        if not signal:
            factors = np.zeros_like(factors)  # noise would rank worse than the DP counts
            warnings.warn(
                f"dp-als at {self.epsilon}: no item's statistics rose clearly above the "
                "noise, so every customer gets DP popularity. Raise epsilon, or lower rank "
                "or n_items_kept",
                NoSignalWarning,
                stacklevel=2,
            )
        privacy = self.cost if isinstance(self.cost, ApproxDP) else stated(self.cost, _REPORT_DELTA)
        return FittedDPALS(counts, kept, factors, self.reg, self.popularity_weight, privacy)

    def noise_scales(self) -> NoiseScales:
        """σ of the counts, of B and of G, from the budget split (see the module doc)."""
        rho = self.rho
        per_iteration = rho * (1 - self.count_share) / self.iterations
        c = self.clip
        return NoiseScales(
            counts=1.0 / math.sqrt(2 * rho * self.count_share),
            b=c / math.sqrt(2 * per_iteration * (1 - _G_SHARE)),
            gram=c * c / math.sqrt(2 * per_iteration * _G_SHARE),
            rho_counts=rho * self.count_share,
            rho_b=per_iteration * (1 - _G_SHARE),
            rho_gram=per_iteration * _G_SHARE,
        )


def stated(spent: ZCDP, delta: float) -> ApproxDP:
    """ρ-zCDP as (ε, δ)-DP by the optimal RDP conversion (tighter than ρ + 2√(ρ ln 1/δ))."""
    return rdp_to_approx_dp(rdp_of_zcdp(spent), delta)


@dataclass(frozen=True)
class NoiseScales:
    """Nominal noise σ's and the ρ each release is calibrated to."""

    counts: float
    b: float
    gram: float
    rho_counts: float
    rho_b: float
    rho_gram: float


def to_norm(vectors: np.ndarray, bound: float) -> np.ndarray:
    """Each nonzero row scaled to L2 norm ``bound`` (zero rows stay zero): all norms ≤ bound."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.where(norms > 0, vectors * (bound / np.where(norms > 0, norms, 1.0)), 0.0)


def noisy(
    values: np.ndarray, sigma: float, sensitivity: float, changed: int, bits: RandomBits
) -> np.ndarray:
    """``values`` plus discrete Gaussian noise on a grid, calibrated to ρ = Δ²/2σ²."""
    rho = sensitivity**2 / (2 * sigma**2)
    measurement = gaussian_for(ZCDP(rho), sensitivity, integer=False, changed_coordinates=changed)
    assert measurement.check(sensitivity, ZCDP(rho))
    return np.asarray(measurement(values, rng=bits), dtype=np.float64)


def solve_users(rows: sparse.csr_matrix, factors: np.ndarray, reg: float) -> np.ndarray:
    """Each user's least-squares factor ``(VᵀV + λI)⁻¹ Vᵀ x_u``, from their own row."""
    rank = factors.shape[1]
    gram = factors.T @ factors + reg * np.eye(rank)
    return np.linalg.solve(gram, (rows @ factors).T).T


def start_factors(n_items: int, texts: list[str] | None, rank: int, bits: RandomBits) -> np.ndarray:
    """Item factors to start from, using no customer data: the rank-r latent semantic space
    of the public item texts (TF-IDF, truncated SVD) when they span r dimensions, else a
    random basis."""
    vectors = tfidf(texts, pairs=False) if texts is not None else None
    if vectors is not None and min(vectors.shape) > rank:
        with from_extra("ml"):
            from sklearn.decomposition import TruncatedSVD

        # ARPACK's start vector is fixed, so the start is a function of the texts alone.
        svd = TruncatedSVD(rank, algorithm="arpack", random_state=0)
        return np.asarray(svd.fit_transform(vectors))
    uniform = (bits.words(n_items * rank) >> np.uint64(11)).astype(np.float64) / 2.0**53
    return (uniform - 0.5).reshape(n_items, rank)


def item_factors(
    rows: sparse.csr_matrix,
    weighted: sparse.csr_matrix,
    start: np.ndarray,
    config: DPALS,
    sigmas: NoiseScales,
    bits: RandomBits,
) -> tuple[np.ndarray, bool]:
    """T noisy item updates from ``start``, and whether the last rose above the noise.

    ``rows`` are the bounded histories over the kept items, ``weighted`` the same rows
    divided by the square roots of their lengths.
    """
    rank = config.rank
    factors = start
    upper = np.triu_indices(rank)
    m = config.max_items_per_user
    for _ in range(config.iterations):
        users = to_norm(solve_users(rows, factors, config.reg), config.clip)
        b = noisy(weighted.T @ users, sigmas.b, config.clip, m * rank, bits)
        gram_upper = noisy(
            (users.T @ users)[upper], sigmas.gram, config.clip**2, len(upper[0]), bits
        )
        gram = np.zeros((rank, rank))
        gram[upper] = gram_upper
        gram = gram + np.triu(gram, 1).T
        # A symmetric Gaussian r×r matrix has spectral norm about 2σ√r; adding it keeps G ⪰ 0.
        gram += (config.reg + 2 * sigmas.gram * math.sqrt(rank)) * np.eye(rank)
        noise_energy = rank * sigmas.b**2
        energy = np.einsum("ij,ij->i", b, b)
        shrink = np.clip(1 - noise_energy / np.maximum(energy, 1e-300), 0.0, 1.0)
        factors = np.linalg.solve(gram, (b * shrink[:, None]).T).T
    # Signal when some row of B is beyond what noise alone reaches with probability 1e-3
    # over all rows (‖noise row‖²/σ² is χ² with r degrees of freedom).
    limit = stats.chi2.isf(1e-3 / max(len(energy), 1), rank) * sigmas.b**2
    return factors, bool(np.any(energy > limit))


@dataclass(frozen=True)
class FittedDPALS:
    """Released state: DP item counts, the kept items and their factors."""

    counts: np.ndarray = field(repr=False)
    kept: np.ndarray = field(repr=False)
    factors: np.ndarray = field(repr=False)
    reg: float
    popularity_weight: float
    privacy: ApproxDP | None
    name: str = "dp-als"

    def arrays(self) -> dict[str, np.ndarray]:
        """The released arrays, for a model file."""
        return {"counts": self.counts, "kept": self.kept, "factors": self.factors}

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        """Factor scores on kept items, then the rest by DP count; empty rows get DP counts."""
        history = sparse.csr_matrix(history, dtype=np.float64)
        if history.shape[0] != len(users):
            raise ParameterError(f"history has {history.shape[0]} rows for {len(users)} users")
        n_items = len(self.counts)
        # Popularity as a rank-preserving score in [0, 1): a tie-breaker and the fallback.
        order = np.argsort(np.argsort(self.counts, kind="stable"), kind="stable")
        popularity = order / n_items
        out = np.tile(popularity, (len(users), 1))
        personal = np.diff(history.indptr) > 0
        if personal.any() and len(self.kept):
            user_factors = solve_users(history[personal][:, self.kept], self.factors, self.reg)
            kept_scores = user_factors @ self.factors.T
            rows = np.flatnonzero(personal)
            out[rows] -= 2.0  # unkept items rank below every kept one
            base = kept_scores - kept_scores.min(axis=1, keepdims=True)
            span = np.maximum(base.max(axis=1, keepdims=True), 1e-300)
            kept_rank = np.argsort(np.argsort(self.counts[self.kept], kind="stable"))
            kept_popularity = kept_rank / len(self.kept)
            out[np.ix_(rows, self.kept)] = base / span + self.popularity_weight * kept_popularity
        return out
