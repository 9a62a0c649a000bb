"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008), not private, user-side scoring.

A purchase of item i by user u is a preference ``p = 1`` with confidence ``1 + α``;
everything else is ``p = 0`` with confidence 1. ALS alternates the exact least-squares
problems for user factors ``U`` and item factors ``Y``:

``(YᵀY + α Y_uᵀ Y_u + λI) x_u = (1 + α) Y_uᵀ 1``

solved for all users at once by conjugate gradient (Takács et al. 2011, as the
``implicit`` package does), warm-started, a few steps per sweep; each step costs
``O(nnz · factors)``. Only ``Y`` is kept: a customer's vector is solved at scoring time
from their own history, so the model is consistent with the user-side contract. Items
with equal score (all of them for a customer without history) go by popularity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from shopveil.errors import ParameterError
from shopveil.learn._baselines import as_generator, popularity_order
from shopveil.learn._interactions import Interactions
from shopveil.learn._recommender import FitContext

__all__ = ["ALS", "ALSModel", "solve_factors"]

_TIE_WEIGHT = 1e-9


def solve_factors(
    confidence: sparse.csr_matrix,
    fixed: np.ndarray,
    *,
    reg: float,
    start: np.ndarray | None = None,
    steps: int = 3,
) -> np.ndarray:
    """Row factors minimizing the implicit-ALS loss given the other side's ``fixed`` factors.

    ``confidence`` holds ``α·r`` at each observed entry (rows × cols); preferences are 1
    there and 0 elsewhere.
    """
    conf = sparse.csr_matrix(confidence, dtype=np.float64)
    n, f = conf.shape[0], fixed.shape[1]
    gram = fixed.T @ fixed + reg * np.eye(f)
    rows = np.repeat(np.arange(n), np.diff(conf.indptr))
    at_items = fixed[conf.indices]  # nnz × f

    def apply(v: np.ndarray) -> np.ndarray:
        dots = np.einsum("ij,ij->i", v[rows], at_items)
        weighted = sparse.csr_matrix((conf.data * dots, conf.indices, conf.indptr), conf.shape)
        return v @ gram + weighted @ fixed

    target = sparse.csr_matrix((conf.data + 1.0, conf.indices, conf.indptr), conf.shape) @ fixed
    x = np.zeros((n, f)) if start is None else np.array(start, dtype=np.float64)
    residual = target - apply(x)
    direction = residual.copy()
    rs = np.einsum("ij,ij->i", residual, residual)
    for _ in range(steps):
        ad = apply(direction)
        curvature = np.einsum("ij,ij->i", direction, ad)
        step = np.divide(rs, curvature, out=np.zeros_like(rs), where=curvature > 1e-20)
        x += step[:, None] * direction
        residual -= step[:, None] * ad
        rs_next = np.einsum("ij,ij->i", residual, residual)
        beta = np.divide(rs_next, rs, out=np.zeros_like(rs), where=rs > 1e-20)
        direction = residual + beta[:, None] * direction
        rs = rs_next
    return x


@dataclass(frozen=True, eq=False)
class ALSModel:
    """Item factors; user factors are solved from each history when scoring."""

    item_factors: np.ndarray = field(repr=False)
    popularity: np.ndarray = field(repr=False)
    alpha: float
    reg: float
    solve_steps: int
    name: str = "als"
    privacy: None = None

    def user_factors(self, history: sparse.csr_matrix) -> np.ndarray:
        """Each history row's factors (zero for an empty row)."""
        binary = sparse.csr_matrix(history, dtype=np.float64, copy=True)
        binary.data[:] = self.alpha
        return solve_factors(binary, self.item_factors, reg=self.reg, steps=self.solve_steps)

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        """Each history row's factors times the item factors (ties by popularity)."""
        factors = self.user_factors(history)
        return factors @ self.item_factors.T + _TIE_WEIGHT * self.popularity[None, :]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a model file stores."""
        return {"item_factors": self.item_factors, "popularity": self.popularity}


@dataclass(frozen=True)
class ALS:
    """Implicit ALS configuration.

    Parameters
    ----------
    factors
        Rank of the factorization.
    reg
        L2 regularization λ.
    alpha
        Confidence of an observed purchase is ``1 + alpha``.
    iterations
        Alternating sweeps (users, then items).
    cg_steps
        Conjugate-gradient steps per sweep (warm-started).
    solve_steps
        Conjugate-gradient steps for a user's factors at scoring time (from zero).
    """

    factors: int = 64
    reg: float = 1.0
    alpha: float = 3.0
    iterations: int = 10
    cg_steps: int = 3
    solve_steps: int = 12

    def __post_init__(self) -> None:
        for name in ("factors", "iterations", "cg_steps", "solve_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("reg", "alpha"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")

    def fit(self, train: Interactions, context: FitContext) -> ALSModel:
        """Fit the model on ``train`` (not private: charges nothing)."""
        train = context.consented(train)
        x = train.matrix().astype(np.float64)
        conf = x * self.alpha
        conf_t = sparse.csr_matrix(conf.T)
        rng = as_generator(context.rng)
        items = rng.normal(0.0, 0.01, size=(train.n_items, self.factors))
        users = np.zeros((train.n_users, self.factors))
        for _ in range(self.iterations):
            users = solve_factors(conf, items, reg=self.reg, start=users, steps=self.cg_steps)
            items = solve_factors(conf_t, users, reg=self.reg, start=items, steps=self.cg_steps)
        counts = np.asarray(x.sum(axis=0)).ravel()
        return ALSModel(
            items.astype(np.float64), popularity_order(counts), self.alpha, self.reg,
            self.solve_steps,
        )  # fmt: skip
