"""DP item–item Gram matrix (Analyze Gauss) and its denoised top eigenspace, user-side.

What is released, and what it costs
-----------------------------------
Each customer's distinct items form a 0/1 row ``x``, scaled to ``x/√n`` (``n`` distinct
items), so its L2 norm is 1 whatever they bought. Two Gaussian releases, composed in
zCDP, are all that leaves the customers' data:

1. **Item popularity** ``Σ x/√n``: one customer moves it by a unit vector, L2
   sensitivity **1** (``popularity_share`` of ρ).
2. **The Gram matrix** ``Σ (x/√n)(x/√n)ᵀ`` over the ``top_items`` most popular items
   (chosen from release 1: post-processing), upper triangle *with* its diagonal (Analyze
   Gauss, Dwork et al. 2014). One customer adds ``u uᵀ`` with ``‖u‖ ≤ 1``; the L2 norm of
   its upper triangle is ``√((1 + Σuᵢ⁴)/2) ≤ 1``: sensitivity **1** (the rest of ρ).

Both use the exact discrete Gaussian (:func:`~shopveil.dp.gaussian_for`); the two ρ add
up to the largest ρ whose RDP curve converts to the requested (ε, δ)
(:func:`~shopveil.dp.hazmat.max_zcdp_within`). The ledger is charged once, before
anything is computed. Everything after the releases is post-processing:

* **Eigen-denoising.** Symmetric noise of σ per cell on an ``m × m`` matrix has its
  eigenvalues inside ``±2σ√m`` (the semicircle edge). Only eigenvalues above the edge
  carry signal; a spike of strength ``ℓ`` shows as ``ℓ + σ²m/ℓ``, and its eigenvector
  keeps a share ``1 − σ²m/ℓ²`` of the true direction (Benaych-Georges & Nadakuditi
  2011). The model keeps those eigenvectors, weighted by ``ℓ^p·(1 − σ²m/ℓ²)``
  (``spike_power`` p; p = 0 projects on the estimated signal subspace, each direction
  shrunk by how much of it is signal): the rank is read off the release, not tuned, and
  grows with the number of customers (signal grows with them, the noise does not).
* **User-side scores.** A customer's scores are their own unit row projected on the
  kept eigenspace, ``x̂ V W Vᵀ``, computed on request from their own history: no
  per-customer state is released. Items outside the kept set rank below kept ones, by
  DP popularity; an empty history gets DP popularity.
* **Long-tail mode** (``tail_weight > 0``): scores (scaled to [0, 1] per customer)
  minus ``tail_weight`` × the item's log DP popularity (scaled to [0, 1]), a re-ranking
  for coverage and novelty that reads only the two releases: it costs no budget.

Hyperparameters (``top_items``, ``popularity_share``, ``popularity_weight``,
``spike_power``) were chosen on
a validation split carved from MovieLens 100K's training window (a public data set;
``benchmarks/bench_dp_eigen.py --tune``), never on a customer's data; the data-dependent
choice (the rank) is made from the release. So a fit spends its budget exactly once.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil.dp import gaussian_for
from shopveil.dp.hazmat import Rng, max_zcdp_within
from shopveil.errors import ParameterError
from shopveil.learn._baselines import admit
from shopveil.learn._interactions import Interactions, require_catalogue
from shopveil.learn._popularity import release_popularity, unit_rows
from shopveil.learn._recommender import FitContext, NoSignalWarning

__all__ = ["DPEigen", "FittedDPEigen", "denoised_eigenspace"]


@dataclass(frozen=True)
class DPEigen:
    """Configuration of the DP Gram-eigenspace recommender.

    Parameters
    ----------
    budget
        Total (ε, δ) per customer for the fit (δ > 0: Gaussian noise).
    top_items
        How many of the most popular items (by DP popularity) enter the Gram matrix.
    max_rank
        At most this many eigenvectors are kept (fewer when fewer rise above the noise).
    popularity_share
        Fraction of ρ spent on item popularity; the rest goes to the Gram matrix.
    popularity_weight
        Weight of log DP popularity (scaled to [0, 1]) added to the eigenspace scores.
    spike_power
        p in the eigenvector weights ``ℓ^p·(1 − σ²m/ℓ²)``: 0 weighs the directions by how
        much of each is signal, 1 also by their strength (closer to popularity). The
        noise edge accounts for the DP noise only, not for the sampling noise of a finite
        set of customers, whose weak directions p > 0 keeps small.
    tail_weight
        Long-tail mode: weight of the log-popularity penalty in the re-ranking (0: off).
    """

    budget: ApproxDP
    top_items: int = 400
    max_rank: int = 64
    popularity_share: float = 0.2
    popularity_weight: float = 0.3
    spike_power: float = 0.5
    tail_weight: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.budget, ApproxDP) or not (
            self.budget.epsilon > 0 < self.budget.delta
        ):
            raise ParameterError(
                f"budget must be ApproxDP with epsilon > 0 and delta > 0, got {self.budget!r}; "
                "e.g. ApproxDP(1.0, 1e-6)"
            )
        for name in ("top_items", "max_rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        if not (isinstance(self.popularity_share, int | float) and 0 < self.popularity_share < 1):
            raise ParameterError(
                f"popularity_share must be in (0, 1), got {self.popularity_share!r}"
            )
        for name in ("popularity_weight", "spike_power", "tail_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and math.isfinite(value) and value >= 0
            ):
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")

    @property
    def rho(self) -> float:
        """The total zCDP budget the two releases spend."""
        return max_zcdp_within(self.budget).rho

    def fit(self, train: Interactions, context: FitContext) -> FittedDPEigen:
        """Charge the ledger, release popularity and the Gram matrix, keep its eigenspace."""
        train = context.consented(train)
        require_catalogue(train, "dp-eigen")
        train, _ = admit(train, context, self.budget, "dp-eigen fit")
        rho = self.rho
        matrix = train.matrix().astype(np.float64)
        matrix.data[:] = 1.0
        popularity = release_popularity(matrix, ZCDP(rho * self.popularity_share), context.rng)
        m = min(self.top_items, train.n_items)
        kept = np.sort(np.argsort(-popularity, kind="stable")[:m])
        gram, sigma = release_gram(
            unit_rows(matrix)[:, kept], ZCDP(rho * (1 - self.popularity_share)), context.rng
        )
        vectors, weights, edge = denoised_eigenspace(gram, sigma, self.max_rank, self.spike_power)
        if not len(weights):
            warnings.warn(
                f"dp-eigen at {self.budget}: no eigenvalue of the released Gram matrix rose "
                f"above the noise edge {edge:.3g}, so every customer gets DP popularity. "
                "Raise epsilon or lower top_items",
                NoSignalWarning,
                stacklevel=2,
            )
        return FittedDPEigen(
            config=self,
            popularity=popularity,
            kept=kept,
            vectors=vectors.astype(np.float32),
            weights=weights,
            rank=len(weights),
            noise_edge=edge,
        )


def release_gram(rows: sparse.csr_matrix, rho: ZCDP, rng: Rng) -> tuple[np.ndarray, float]:
    """``rowsᵀ rows`` with noise on its upper triangle (diagonal included), symmetrized.

    Rows must have L2 norm ≤ 1 (:func:`~shopveil.learn._popularity.unit_rows` of 0/1
    rows): the released triangle then has L2 sensitivity 1. Returns the noisy matrix and
    the noise's σ.
    """
    gram = np.asarray((rows.T @ rows).todense(), dtype=np.float64)
    upper = np.triu_indices(gram.shape[0])
    release = gaussian_for(rho, 1.0, integer=False, changed_coordinates=len(upper[0]))
    noisy = np.zeros_like(gram)
    noisy[upper] = np.asarray(release(gram[upper], rng=rng), dtype=np.float64)
    return noisy + np.triu(noisy, 1).T, float(release.scale)


def denoised_eigenspace(
    gram: np.ndarray, sigma: float, max_rank: int, power: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """The eigenvectors above the noise edge ``2σ√m`` and their shrunk weights.

    Returns ``(V, w, edge)``: ``V`` is ``m × r``, ``w`` the weights ``ℓ^power(1 − σ²m/ℓ²)``
    of the estimated spikes ``ℓ`` (scaled so the largest is 1), ``r ≤ max_rank``.
    """
    m = gram.shape[0]
    edge = 2.0 * sigma * math.sqrt(m)
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(-values, kind="stable")[:max_rank]
    values, vectors = values[order], vectors[:, order]
    above = values > edge if sigma > 0 else values > 0
    values, vectors = values[above], vectors[:, above]
    # Observed λ = ℓ + σ²m/ℓ for a spike ℓ > σ√m; invert, then weigh by the overlap².
    spikes = (values + np.sqrt(np.maximum(values**2 - edge**2, 0.0))) / 2.0
    overlap = np.maximum(1.0 - sigma**2 * m / np.maximum(spikes, 1e-300) ** 2, 0.0)
    weights = spikes**power * overlap
    if len(weights):
        weights = weights / weights.max()
    return vectors, weights, edge


@dataclass(frozen=True)
class FittedDPEigen:
    """Released state: DP popularity, the kept items and their denoised eigenspace."""

    config: DPEigen
    popularity: np.ndarray = field(repr=False)
    kept: np.ndarray = field(repr=False)
    vectors: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    rank: int
    noise_edge: float
    name: str = "dp-eigen"

    @property
    def privacy(self) -> ApproxDP:
        """What the fit spent, per customer."""
        return self.config.budget

    def arrays(self) -> dict[str, np.ndarray]:
        """The released statistics' denoised form, for a model file."""
        return {
            "popularity": self.popularity,
            "kept": self.kept,
            "vectors": self.vectors,
            "weights": self.weights,
        }

    @classmethod
    def from_arrays(
        cls, config: DPEigen, arrays: Mapping[str, np.ndarray], noise_edge: float
    ) -> FittedDPEigen:
        """The inverse of :meth:`arrays`."""
        weights = np.asarray(arrays["weights"], dtype=np.float64)
        return cls(
            config, np.asarray(arrays["popularity"], dtype=np.float64), arrays["kept"],
            arrays["vectors"], weights, len(weights), noise_edge,
        )  # fmt: skip

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        """Eigenspace scores from each customer's own history; empty rows get popularity."""
        history = sparse.csr_matrix(history, dtype=np.float64)
        if history.shape[0] != len(users):
            raise ParameterError(f"history has {history.shape[0]} rows for {len(users)} users")
        c = self.config
        log_pop = np.log1p(np.maximum(self.popularity, 0.0))
        log_pop = log_pop / max(float(log_pop.max()), 1e-12)
        prior = (c.popularity_weight - c.tail_weight) * log_pop
        out = np.tile(log_pop if not c.tail_weight else prior, (len(users), 1))
        personal = np.flatnonzero(np.diff(history.indptr) > 0)
        if not (len(personal) and self.rank):
            return out
        bought = history[personal][:, self.kept]
        bought.data[:] = 1.0
        own = unit_rows(sparse.csr_matrix(bought)).toarray()
        vectors = self.vectors.astype(np.float64)
        kept_scores = ((own @ vectors) * self.weights) @ vectors.T
        kept_scores /= np.maximum(np.abs(kept_scores).max(axis=1, keepdims=True), 1e-300)
        out[personal] = prior - 2.0  # unkept items rank below every kept one
        out[np.ix_(personal, self.kept)] = kept_scores + prior[self.kept]
        return out
