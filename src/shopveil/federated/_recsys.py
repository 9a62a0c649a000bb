"""The federated recommender: item factors trained where the purchases are (federated MF).

Implicit-feedback matrix factorization with ALS's loss (:class:`shopveil.learn.ALS`):
a purchase of item i by customer u is a preference 1 with confidence ``1 + α``, every
other item a preference 0 with confidence 1. The weights on the wire are the item
factors ``Y`` (items × factors, flattened). A customer's factors ``x_u`` never leave
their client: each round the client solves them from its own purchases against the
current ``Y`` (the ALS user step, :func:`shopveil.learn.solve_factors`; stateless, so
a device that was not asked last round needs no memory of it), then takes gradient
steps on ``Y``:

``∇_Y L_u = 2 (c_u ⊙ (Y x_u − p_u)) x_uᵀ``, a rank-one matrix per customer,

and sends the change (Ammad-ud-din et al. 2019's federated collaborative filtering).
Under DP each customer's change is one gradient step from the round's ``Y``, clipped
and rounded on its own (:meth:`FactorTask.clipped_sum`), as DP-FedAvg needs.

The trained ``Y`` is scored like ALS (:class:`shopveil.learn.ALSModel`): a customer's
vector is solved from their own history at scoring time, so the federated model and
the centralized ALS are measured by the same :func:`shopveil.learn.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from shopveil._core.extras import from_extra
from shopveil.errors import ParameterError
from shopveil.federated._dp import to_grid
from shopveil.federated._model import LocalTraining
from shopveil.learn import (
    ALSModel,
    Catalogue,
    Interactions,
    from_table,
    popularity_order,
    purchases_only,
    solve_factors,
)

with from_extra("ml"):
    from scipy import sparse

__all__ = [
    "SPLIT", "FactorTask", "Factorization", "RecommenderData", "fitted", "initial_factors",
    "item_gradient", "recommender_data",
]  # fmt: skip

SPLIT = datetime(2011, 7, 1)
"""Train on purchases before, test on purchases from then on (as ``bench_recsys.py``)."""

_CHUNK = 32  # customers whose dense per-customer updates are held at once (DP)


@dataclass(frozen=True)
class Factorization:
    """The model's shape and its loss, the same for the federated and the central fit.

    Parameters
    ----------
    factors
        Rank of the factorization.
    alpha
        Confidence of an observed purchase is ``1 + alpha``.
    reg
        L2 regularization of a customer's factors (the ALS user step).
    solve_steps
        Conjugate-gradient steps for a customer's factors on the client.
    scoring_steps
        Conjugate-gradient steps for a customer's factors at scoring time.
    """

    factors: int = 16
    alpha: float = 3.0
    reg: float = 1.0
    solve_steps: int = 3
    scoring_steps: int = 12

    def __post_init__(self) -> None:
        for name in ("factors", "solve_steps", "scoring_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("alpha", "reg"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")
            if not 0 < value < np.inf:
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")


@dataclass(frozen=True, eq=False)
class RecommenderData:
    """Purchases split in time, and each customer's country.

    ``before`` and ``after`` share vocabularies (one user per customer); ``train`` is
    True for the customers with a purchase before the split (the ones clients hold),
    ``rows`` their binary customer × item matrix of those purchases.
    """

    before: Interactions = field(repr=False)
    after: Interactions = field(repr=False)
    country: tuple[str, ...] = field(repr=False)
    train: np.ndarray = field(repr=False)
    rows: sparse.csr_matrix = field(repr=False)

    @property
    def customers(self) -> tuple[str, ...]:
        """Every customer's id, in row order."""
        return tuple(str(c) for c in self.before.user_ids)

    @property
    def n_items(self) -> int:
        """The number of items."""
        return self.before.n_items

    def dim(self, model: Factorization) -> int:
        """Number of weights on the wire: the item factors, then a popularity per item."""
        return self.n_items * (model.factors + 1)

    def of_customers(self, keep: np.ndarray) -> RecommenderData:
        """Only the purchases of the customers where ``keep`` (one bool each) is True."""
        kept = np.asarray(keep, dtype=bool)
        return _assemble(self.before.of_users(kept), self.after.of_users(kept), self.country)


def _assemble(
    before: Interactions, after: Interactions, country: tuple[str, ...]
) -> RecommenderData:
    rows = before.matrix().astype(np.float64)
    return RecommenderData(before, after, country, np.diff(rows.indptr) > 0, rows)


def recommender_data(
    table: pa.Table, *, split: datetime = SPLIT, catalogue: Catalogue | None = None
) -> RecommenderData:
    """The recommender task of an Online Retail table (:func:`shopveil.data.load_online_retail`).

    Cancellations are dropped. With ``catalogue`` (needed for a private run) the items
    are the catalogue's; without one, the items found in the purchases.
    """
    purchases = purchases_only(table)
    for name in ("CustomerID", "StockCode", "InvoiceDate", "Country"):
        if name not in purchases.column_names:
            raise ParameterError(f"--data has no {name} column; give an Online Retail file")
    events = from_table(
        purchases, user="CustomerID", item="StockCode", time="InvoiceDate", catalogue=catalogue
    )
    before, after = events.between(None, split), events.between(split, None)
    if not len(before) or not len(after):
        raise ParameterError(
            f"--data needs purchases before and after {split:%Y-%m-%d} (train, then test); "
            f"it has {len(before)} before and {len(after)} after"
        )
    # Each customer's first country, over the same (normalized) customer ids.
    places = from_table(purchases, user="CustomerID", item="Country", time="InvoiceDate")
    first = np.unique(places.users, return_index=True)[1]
    where = dict(
        zip(
            places.user_ids[places.users[first]].tolist(),
            places.item_ids[places.items[first]].tolist(),
            strict=True,
        )
    )
    country = tuple(str(where.get(c, "unknown")) for c in events.user_ids.tolist())
    return _assemble(before, after, country)


def initial_factors(n_items: int, model: Factorization, rng: np.random.Generator) -> np.ndarray:
    """Random item factors to start from (public: drawn before any data is seen), and
    popularity 0."""
    return np.concatenate([rng.normal(0.0, 0.1, size=n_items * model.factors), np.zeros(n_items)])


def fitted(weights: np.ndarray, n_items: int, model: Factorization) -> ALSModel:
    """The federated weights as a scorer; equal scores go by the federated popularity."""
    weights = np.asarray(weights, dtype=np.float64)
    factors = weights[: n_items * model.factors].reshape(n_items, model.factors)
    return ALSModel(
        factors, popularity_order(weights[n_items * model.factors :]), model.alpha, model.reg,
        model.scoring_steps, name="federated-mf",
    )  # fmt: skip


def _errors(
    y: np.ndarray, rows: sparse.csr_matrix, model: Factorization
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """The customers' factors, and the sparse part of ``c ⊙ (XYᵀ − P)`` at their purchases."""
    x = solve_factors(rows * model.alpha, y, reg=model.reg, steps=model.solve_steps)
    coo = rows.tocoo()
    at = np.einsum("ij,ij->i", x[coo.row], y[coo.col])
    # At a purchase: c·(s − 1) − s = α·s − (1 + α); the dense part s = x·y is added apart.
    extra = sparse.csr_matrix(
        (model.alpha * at - (1 + model.alpha), (coo.row, coo.col)), shape=rows.shape
    )
    return x, extra


def item_gradient(y: np.ndarray, rows: sparse.csr_matrix, model: Factorization) -> np.ndarray:
    """The mean over ``rows``' customers of ``∇_Y L_u`` (items × factors)."""
    x, extra = _errors(y, rows, model)
    return np.asarray(2 * (y @ (x.T @ x) + extra.T @ x) / max(rows.shape[0], 1))


@dataclass(frozen=True, eq=False)
class FactorTask:
    """Federated MF's local training on a client's customers (a :class:`LocalTask`)."""

    data: RecommenderData
    model: Factorization = field(default_factory=Factorization)

    def _factors(self, weights: np.ndarray) -> np.ndarray:
        size = self.data.n_items * self.model.factors
        return np.asarray(weights[:size], dtype=np.float64).reshape(self.data.n_items, -1)

    def _bought(self, index: np.ndarray) -> sparse.csr_matrix:
        """Each customer's purchases as a unit-norm row (their share of the popularity)."""
        rows = sparse.csr_matrix(self.data.rows[index], copy=True)
        norms = np.sqrt(np.maximum(np.diff(rows.indptr), 1)).astype(np.float64)
        rows.data /= np.repeat(norms, np.diff(rows.indptr))
        return rows

    def update(
        self, weights: np.ndarray, index: np.ndarray, training: LocalTraining,
        rng: np.random.Generator,
    ) -> np.ndarray:  # fmt: skip
        """``training.epochs`` full-batch gradient steps on the client's customers.

        Each step re-solves the customers' factors; ``mu`` adds FedProx's pull towards
        the round's ``Y``.
        """
        start = self._factors(weights)
        rows = self.data.rows[index]
        y = start.copy()
        for _ in range(training.epochs):
            step = item_gradient(y, rows, self.model) + training.mu * (y - start)
            y -= training.learning_rate * step
        popularity = np.asarray(self._bought(index).mean(axis=0)).ravel()
        return np.concatenate([(y - start).ravel(), popularity])

    def clipped_sum(
        self, weights: np.ndarray, index: np.ndarray, training: LocalTraining, clip: float,
        step: float,
    ) -> tuple[np.ndarray, int]:  # fmt: skip
        """Per customer: one gradient step's change to ``Y`` and their popularity share
        (``clip/2`` times their unit-norm purchase row), clipped together, rounded; summed.

        The change to ``Y`` is ``−η·2 e_u x_uᵀ`` (rank one), so its norm is
        ``2η‖e_u‖‖x_u‖`` without forming it; each customer is rounded on its own.
        """
        y = self._factors(weights)
        total = np.zeros(len(weights), dtype=np.int64)
        within = 0
        scale = 2 * training.learning_rate
        for start in range(0, len(index), _CHUNK):
            chunk = index[start : start + _CHUNK]
            x, extra = _errors(y, self.data.rows[chunk], self.model)
            errors = x @ y.T + extra.toarray()  # chunk × items: c ⊙ (XYᵀ − P)
            shares = self._bought(chunk).toarray() * (clip / 2)
            norms = np.hypot(
                scale * np.linalg.norm(errors, axis=1) * np.linalg.norm(x, axis=1),
                np.linalg.norm(shares, axis=1),
            )
            within += int((norms <= clip).sum())
            factor = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
            changes = -scale * factor[:, None, None] * errors[:, :, None] * x[:, None, :]
            full = np.concatenate([changes.reshape(len(x), -1), shares * factor[:, None]], axis=1)
            total += to_grid(full, step).sum(axis=0)
        return total, within
