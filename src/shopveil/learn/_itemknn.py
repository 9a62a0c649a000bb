"""Item-kNN on implicit feedback (not private): cosine similarity of item columns.

``S[i, j]`` is the cosine similarity of items i and j over the binary user × item
matrix, keeping only each item's ``neighbours`` most similar items. A customer's
scores are ``history · S``: the sum of similarities to what they bought. Items with
equal score (all of them for a customer without history) are ordered by popularity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from shopveil.errors import ParameterError
from shopveil.learn._baselines import popularity_order
from shopveil.learn._interactions import Interactions
from shopveil.learn._recommender import FitContext

__all__ = ["ItemKNN", "ItemKNNModel"]

# Below the smallest nonzero similarity sum that matters: ties only.
_TIE_WEIGHT = 1e-9


@dataclass(frozen=True, eq=False)
class ItemKNNModel:
    """Sparse item × item similarities and the popularity order that breaks ties."""

    similarity: sparse.csr_matrix = field(repr=False)
    popularity: np.ndarray = field(repr=False)
    name: str = "itemknn"
    privacy: None = None

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        binary = sparse.csr_matrix(history, dtype=np.float64, copy=True)
        binary.data[:] = 1.0
        out = np.asarray((binary @ self.similarity).todense())
        return out + _TIE_WEIGHT * self.popularity[None, :]

    def arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {
            "data": s.data,
            "indices": s.indices,
            "indptr": s.indptr,
            "popularity": self.popularity,
        }


@dataclass(frozen=True)
class ItemKNN:
    """Cosine item-kNN.

    Parameters
    ----------
    neighbours
        Similar items kept per item.
    shrink
        Added to the cosine denominator, damping similarities of rarely bought items.
    """

    neighbours: int = 100
    shrink: float = 0.0

    def __post_init__(self) -> None:
        n = self.neighbours
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(f"neighbours must be an int >= 1, got {n!r}; e.g. 100")
        if not isinstance(self.shrink, int | float) or not 0 <= self.shrink < float("inf"):
            raise ParameterError(f"shrink must be a number >= 0, got {self.shrink!r}")

    def fit(self, train: Interactions, context: FitContext) -> ItemKNNModel:
        """Fit the model on ``train`` (not private: charges nothing)."""
        x = sparse.csc_matrix(train.matrix(), dtype=np.float64)
        counts = np.asarray(x.sum(axis=0)).ravel()  # binary: squared norms = buyers
        norms = np.sqrt(counts)
        co = sparse.csr_matrix(x.T @ x)
        keep = min(self.neighbours, max(train.n_items - 1, 1))
        rows, cols, vals = [], [], []
        block = 512
        for start in range(0, train.n_items, block):
            stop = min(start + block, train.n_items)
            dense = np.asarray(co[start:stop].todense())
            denom = np.outer(norms[start:stop], norms) + self.shrink
            sim = np.divide(dense, denom, out=np.zeros_like(dense), where=denom > 0)
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            top = np.argpartition(-sim, keep - 1, axis=1)[:, :keep]
            top_vals = np.take_along_axis(sim, top, axis=1)
            nonzero = top_vals > 0
            rows.append(np.repeat(np.arange(start, stop), keep)[nonzero.ravel()])
            cols.append(top[nonzero])
            vals.append(top_vals[nonzero])
        # Row i holds item i's neighbours; a customer's score for j sums S[i, j] over
        # their items i.
        similarity = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(train.n_items, train.n_items),
        )
        return ItemKNNModel(similarity, popularity_order(counts))
