"""DP co-purchase: a private item-to-item recommender that leans on the public catalogue.

What is central, and what it costs
----------------------------------
Two Gaussian releases, composed in zCDP, are all that leaves the customers' data:

1. **Item popularity.** Each customer's purchase vector is scaled to unit L2 norm
   (``x / √n`` over the ``n`` distinct items they bought) and summed per item. Adding or
   removing one customer moves the vector of sums by exactly that unit vector, so the
   L2 sensitivity is 1 whatever the customer bought: no sampling, no dropped rows.
2. **Co-purchase** among the ``top_items`` most popular items (chosen from release 1,
   which is post-processing). The same unit vectors, restricted and rescaled to those
   items, give the Gram matrix ``Σ x xᵀ``; only its upper triangle off the diagonal is
   released. One customer changes it by the upper triangle of ``x xᵀ``, whose L2 norm is
   ``√((1 − Σ xᵢ⁴) / 2) ≤ 1/√2``.

Both are released on a fine grid with exact discrete Gaussian noise
(:func:`~shopveil.dp.gaussian_for`). The two ρ add up to the largest ρ whose RDP curve
``ρα`` converts to the requested (ε, δ) (:func:`~shopveil.dp.hazmat.max_zcdp_within`). The
ledger is charged before anything is computed.

What is not central
-------------------
* **Catalogue text** (product descriptions, film titles and genres) is public, and comes
  from the declared catalogue (``Interactions.catalogue``), which is also the item
  vocabulary of a private fit: item-to-item text similarity costs nothing and carries
  most of the signal on a small shop whose co-purchase counts drown in noise at ε ≈ 1.
* **The customer's own history** stays with the customer (user-side mode): a score is
  computed on request from their own purchases, central statistics and the catalogue.

Noise-aware weighting
---------------------
Noise of scale σ on ``E`` released cells adds ``E·σ²`` energy to the co-purchase
matrix; what is observed beyond that estimates the signal energy. The co-purchase term
is weighted by the Wiener gain ``1 − E·σ² / observed`` (zero unless the excess is three
standard deviations of the noise energy, ``σ²√(2E)``), so at small ε, where
the release is mostly noise, the model falls back to catalogue text and popularity on
its own, and at large ε co-purchase takes over. Cells under two σ are set to zero
first (soft thresholding): most pairs are never bought together.
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
from shopveil.learn._text import text_neighbours

__all__ = ["DPCoPurchase", "FittedCoPurchase"]

_THRESHOLD_SIGMAS = 2.0


@dataclass(frozen=True)
class DPCoPurchase:
    """Configuration of the DP co-purchase recommender.

    Parameters
    ----------
    budget
        Total (ε, δ) per customer for the fit; None fits the same model on exact
        statistics (not private: a reference for what the noise costs).
    popularity_share
        Fraction of ρ spent on item popularity; the rest goes to co-purchase.
    top_items
        How many of the most popular items get co-purchase scores.
    text_weight, copurchase_weight, popularity_weight, repeat_weight
        How the four signals mix in a score: catalogue-text neighbours, co-purchase
        neighbours, log popularity, and the customer's own past items (repeat purchases).
    """

    budget: ApproxDP | None
    popularity_share: float = 0.7
    top_items: int = 600
    text_weight: float = 1.0
    copurchase_weight: float = 10.0
    popularity_weight: float = 0.15
    repeat_weight: float = 0.5
    repeat_half_life_days: float | None = 90.0

    def __post_init__(self) -> None:
        if self.budget is not None and (
            not isinstance(self.budget, ApproxDP) or self.budget.epsilon <= 0
        ):
            raise ParameterError(f"budget must be ApproxDP with epsilon > 0, got {self.budget!r}")
        if self.budget is not None and self.budget.delta <= 0:
            raise ParameterError("budget needs delta > 0 for Gaussian noise, e.g. 1e-6")
        if not 0 < self.popularity_share < 1:
            raise ParameterError(f"popularity_share must be in (0, 1), got {self.popularity_share}")
        if isinstance(self.top_items, bool) or not isinstance(self.top_items, int):
            raise ParameterError(f"top_items must be an int, got {self.top_items!r}")
        if self.top_items < 2:
            raise ParameterError(f"top_items must be >= 2, got {self.top_items}")
        for name in ("text_weight", "copurchase_weight", "popularity_weight", "repeat_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")
        days = self.repeat_half_life_days
        if days is not None and not (isinstance(days, int | float) and days > 0):
            raise ParameterError(f"repeat_half_life_days must be > 0 or None, got {days!r}")

    def fit(self, train: Interactions, context: FitContext) -> FittedCoPurchase:
        """Charge the ledger, then release popularity and co-purchase with noise."""
        train = context.consented(train)
        if self.budget is not None:
            require_catalogue(train, "dp-cobuy")
            train, _ = admit(train, context, self.budget, "dp-cobuy fit")
        share = self.popularity_share
        rho = max_zcdp_within(self.budget).rho if self.budget is not None else None
        matrix = train.matrix().astype(np.float64)
        popularity = release_popularity(matrix, ZCDP(rho * share) if rho else None, context.rng)
        kept = np.sort(np.argsort(-popularity, kind="stable")[: min(self.top_items, train.n_items)])
        copurchase, gain = _release_copurchase(
            matrix[:, kept], popularity[kept], ZCDP(rho * (1 - share)) if rho else None, context.rng
        )
        if gain == 0.0:
            warnings.warn(
                f"at {self.budget} the co-purchase release is all noise; "
                "recommending from catalogue text and popularity",
                NoSignalWarning,
                stacklevel=2,
            )
        text = text_neighbours(train.item_text) if train.item_text is not None else None
        return FittedCoPurchase(
            config=self,
            popularity=popularity,
            kept=kept,
            copurchase=(copurchase * gain).astype(np.float32),
            text=text,
        )


@dataclass(frozen=True)
class FittedCoPurchase:
    """The released statistics plus the public text neighbours; no per-customer state."""

    config: DPCoPurchase
    popularity: np.ndarray = field(repr=False)
    kept: np.ndarray = field(repr=False)
    copurchase: np.ndarray = field(repr=False)
    text: sparse.csr_matrix | None = field(repr=False)
    name: str = "dp-cobuy"

    @property
    def privacy(self) -> ApproxDP | None:
        return self.config.budget

    @property
    def history_half_life_days(self) -> float | None:
        """Asks the caller for recency-weighted purchase counts as history values."""
        return self.config.repeat_half_life_days

    def arrays(self) -> dict[str, np.ndarray]:
        """The released statistics and the public text neighbours, for a model file."""
        text = self.text if self.text is not None else sparse.csr_matrix((0, 0))
        return {
            "popularity": self.popularity,
            "kept": self.kept,
            "copurchase": self.copurchase,
            "text_data": text.data,
            "text_indices": text.indices,
            "text_indptr": text.indptr,
        }

    @classmethod
    def from_arrays(
        cls, config: DPCoPurchase, arrays: Mapping[str, np.ndarray]
    ) -> FittedCoPurchase:
        """The inverse of :meth:`arrays`."""
        n = len(arrays["popularity"])
        text = None
        if len(arrays["text_indptr"]) == n + 1:
            parts = (arrays["text_data"], arrays["text_indices"], arrays["text_indptr"])
            text = sparse.csr_matrix(parts, shape=(n, n))
        return cls(config, arrays["popularity"], arrays["kept"], arrays["copurchase"], text)

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        """Scores from each customer's own history; an empty history gets popularity."""
        c = self.config
        bought = history.astype(bool).astype(np.float64)
        per_user = np.maximum(np.asarray(bought.sum(axis=1)).ravel(), 1.0)[:, None]
        log_pop = np.log1p(np.maximum(self.popularity, 0.0))
        out = np.tile(c.popularity_weight * log_pop / max(log_pop.max(), 1e-12), (len(users), 1))
        if self.text is not None and c.text_weight:
            out += c.text_weight * np.asarray((bought @ self.text).todense()) / per_user
        if c.copurchase_weight and self.copurchase.any():
            near = np.asarray(bought[:, self.kept] @ self.copurchase) / per_user
            out[:, self.kept] += c.copurchase_weight * near
        if c.repeat_weight:
            # Own past items first, most (and most recently) bought first: repeat
            # purchases dominate retail.
            counts = np.asarray(history.todense(), dtype=np.float64)
            out += c.repeat_weight * np.where(counts > 0, 1.0 + np.log1p(counts), 0.0)
        return out


def _release_copurchase(
    matrix: sparse.csr_matrix, popularity: np.ndarray, rho: ZCDP | None, rng: Rng
) -> tuple[np.ndarray, float]:
    """Co-purchase similarities on the kept items and their Wiener gain (1 when exact)."""
    unit = unit_rows(matrix)
    gram = np.asarray((unit.T @ unit).todense())
    upper = np.triu_indices(len(popularity), k=1)
    if rho is None:
        shrunk, gain = gram[upper], 1.0
    else:
        release = gaussian_for(
            rho, 1 / math.sqrt(2), integer=False, changed_coordinates=len(upper[0])
        )
        noisy = np.asarray(release(gram[upper], rng=rng), dtype=np.float64)
        shrunk, gain = _denoise(noisy, release.scale)
    similarity = np.zeros((len(popularity), len(popularity)))
    similarity[upper] = shrunk
    similarity += similarity.T
    norms = np.sqrt(np.maximum(popularity, 1.0))
    return similarity / norms[:, None] / norms[None, :], gain


def _denoise(noisy: np.ndarray, sigma: float) -> tuple[np.ndarray, float]:
    """Soft-threshold the cells at two σ; the Wiener gain of the whole release."""
    observed = float(np.sum(noisy**2))
    noise = len(noisy) * sigma**2
    # The noise energy itself varies by σ²·√(2E); an excess within 3 of those is noise.
    excess = observed - noise
    gain = excess / observed if excess > 3 * sigma**2 * math.sqrt(2 * len(noisy)) else 0.0
    shrunk = np.sign(noisy) * np.maximum(np.abs(noisy) - _THRESHOLD_SIGMAS * sigma, 0.0)
    return shrunk, gain
