"""Baselines every evaluation reports: popularity, DP popularity and "buy again".

- :class:`Popularity` ranks items by how many distinct customers bought them (not private).
- :class:`DPPopularity` releases those counts with differential privacy per customer:
  each customer counts in at most ``max_items_per_user`` distinct items (a uniform sample
  when they bought more), and exact discrete Laplace (ε-DP) or Gaussian (zCDP) noise is
  added on the integer counts. The ledger is charged before the counts leave ``fit``.
  The item vocabulary is the public catalogue the purchases were loaded with (the fit
  refuses without one): every listed item gets a noisy count, so no item's presence
  is revealed by whether it is listed.
- :class:`BuyAgain` needs no central model of its own: a customer's own past items first
  (most recently and often bought first), then the rest by (DP) popularity. Its privacy
  is that of the popularity counts it falls back on; the customer's own history never
  leaves their side.

Every fitted model here scores a customer with no history (an empty row): the popularity
order is then the whole ranking.
"""

from __future__ import annotations

import json
import math
import uuid
import warnings
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from scipy import sparse

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
from shopveil._core.rng import secure_rng
from shopveil.dp import Charge, Ledger, gaussian_for, laplace_for
from shopveil.dp.hazmat import Rng
from shopveil.errors import ParameterError, PrivacyError
from shopveil.learn._charging import charge_customers
from shopveil.learn._interactions import Interactions, require_catalogue
from shopveil.learn._popularity import bound_contributions
from shopveil.learn._recommender import FitContext, NoSignalWarning

__all__ = [
    "BuyAgain",
    "BuyAgainModel",
    "DPPopularity",
    "Popularity",
    "PopularityModel",
    "admit",
    "as_generator",
    "popularity_order",
    "require_ledger",
]


def as_generator(rng: Rng) -> np.random.Generator:
    """A NumPy generator for non-noise randomness (sampling, initialization).

    ``None`` gives a CSPRNG-seeded generator; a generator is used as it is; a raw bit
    source seeds a fresh generator from 256 of its bits.
    """
    if rng is None:
        return secure_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    words = rng.words(4)
    return np.random.Generator(np.random.PCG64([int(w) for w in words]))


def require_ledger(context: FitContext, what: str) -> Ledger:
    """The ledger a private fit charges; refuse before any work when there is none."""
    if context.ledger is None:
        raise ParameterError(
            f"{what} is private and charges the budget ledger: pass FitContext(ledger=...)"
        )
    return context.ledger


def admit(
    train: Interactions, context: FitContext, cost: Budget, what: str, *, replayable: bool = False
) -> tuple[Interactions, Charge]:
    """Charge ``cost`` for a private fit to every customer in ``train``; return who stays.

    Returns the training data without the customers who cannot afford the fit (and
    without ids that are no one's), and the charge. A fit that stores no answer cannot
    be replayed, so a retry of its request id is refused (:class:`PrivacyError`) unless
    ``replayable``: fitting again would release fresh noise for one charge.
    """
    ledger = require_ledger(context, what)
    request_id = context.request_id or uuid.uuid4().hex
    inactive = np.ones(train.n_users, dtype=bool)
    inactive[train.active_users()] = False
    # Only customers with events in ``train`` are in the fit; the rest pay nothing.
    customers = pa.array(np.asarray(train.user_ids, dtype=str), pa.string(), mask=inactive)
    charge, keep = charge_customers(
        ledger, request_id, context.dataset, context.unit, cost, customers,
        what=what, subjects=context.subjects, replayable=replayable,
    )  # fmt: skip
    return train.of_users(keep), charge


def popularity_order(counts: np.ndarray) -> np.ndarray:
    """Scores in ``[0, 1)`` that rank items as ``counts`` does (ties by item index)."""
    order = np.lexsort((np.arange(len(counts)), -np.asarray(counts, dtype=np.float64)))
    ranks = np.empty(len(counts), dtype=np.float64)
    ranks[order] = np.arange(len(counts), dtype=np.float64)
    return 1.0 - (ranks + 1.0) / (len(counts) + 1.0)


@dataclass(frozen=True, eq=False)
class PopularityModel:
    """Items ranked by (possibly noisy) buyer counts; the same list for every customer."""

    counts: np.ndarray = field(repr=False)
    name: str = "popularity"
    privacy: ApproxDP | None = None

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        return np.tile(np.asarray(self.counts, dtype=np.float64), (len(users), 1))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"counts": np.asarray(self.counts)}


@dataclass(frozen=True)
class Popularity:
    """Rank items by distinct buyers in training (not private)."""

    def fit(self, train: Interactions, context: FitContext) -> PopularityModel:
        """Fit the model on ``train`` (not private: charges nothing)."""
        train = context.consented(train)
        counts = np.asarray(train.matrix().sum(axis=0)).ravel()
        return PopularityModel(counts.astype(np.float64))


def bounded_item_counts(matrix: sparse.csr_matrix, limit: int, rng: Rng) -> np.ndarray:
    """Buyers per item when each row keeps at most ``limit`` of its items, chosen uniformly."""
    bounded = bound_contributions(matrix, limit, rng)
    bounded.data[:] = 1.0
    return np.asarray(bounded.sum(axis=0)).ravel().astype(np.int64)


@dataclass(frozen=True)
class DPPopularity:
    """Buyer counts per item with DP per customer.

    Parameters
    ----------
    epsilon
        ``PureDP(ε)`` adds discrete Laplace noise of scale ``max_items_per_user / ε``;
        ``ZCDP(ρ)`` adds discrete Gaussian noise of σ = ``√max_items_per_user / √(2ρ)``.
    max_items_per_user
        Each customer counts in at most this many distinct items (sampled uniformly).
    delta
        Only used to state a zCDP guarantee as (ε, δ) in ``privacy``.
    """

    epsilon: PureDP | ZCDP
    max_items_per_user: int = 8
    delta: float = 1e-6

    def __post_init__(self) -> None:
        if not isinstance(self.epsilon, PureDP | ZCDP) or not _positive_budget(self.epsilon):
            raise ParameterError(
                f"epsilon must be PureDP(ε > 0) or ZCDP(ρ > 0), got {self.epsilon!r}; "
                "e.g. DPPopularity(PureDP(1.0))"
            )
        m = self.max_items_per_user
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ParameterError(f"max_items_per_user must be an int >= 1, got {m!r}; e.g. 8")
        if not 0 < self.delta < 1:
            raise ParameterError(f"delta must be in (0, 1), got {self.delta!r}; e.g. 1e-6")

    @property
    def guarantee(self) -> ApproxDP:
        """The (ε, δ) this fit spends per customer."""
        if isinstance(self.epsilon, PureDP):
            return self.epsilon.to_approx_dp()
        return self.epsilon.to_approx_dp(self.delta)

    def fit(self, train: Interactions, context: FitContext) -> PopularityModel:
        """Charge the customers in ``train`` on the context's ledger, then fit with DP."""
        train = context.consented(train)
        require_catalogue(train, "dp-popularity")
        m = self.max_items_per_user
        if isinstance(self.epsilon, PureDP):
            mechanism = laplace_for(self.epsilon, m)  # L1 sensitivity: m distinct items
        else:
            mechanism = gaussian_for(self.epsilon, math.sqrt(m))  # L2 sensitivity: √m
        train, charge = admit(train, context, self.epsilon, "dp-popularity", replayable=True)
        if charge.replayed:
            if charge.answer is None:
                raise PrivacyError(
                    f"request id {charge.request_id!r} was charged before but stored no "
                    "counts; fit again under a new request id (charged again)"
                )
            noisy = np.asarray(json.loads(charge.answer), dtype=np.int64)
        else:
            counts = bounded_item_counts(train.matrix(), m, context.rng)
            noisy = np.asarray(mechanism(counts, rng=context.rng), dtype=np.int64)
            if context.request_id is not None:
                require_ledger(context, "dp-popularity").record_answer(
                    charge.request_id, json.dumps(noisy.tolist())
                )
        if noisy.size and not _has_signal(noisy, mechanism.scale, mechanism.name):
            warnings.warn(
                f"dp-popularity at {self.epsilon}: the noisy counts carry no detectable signal "
                "(their total is within the noise), so the ranking is close to random. Raise "
                "epsilon or lower max_items_per_user",
                NoSignalWarning,
                stacklevel=2,
            )
        return PopularityModel(noisy.astype(np.float64), "dp-popularity", self.guarantee)


def _has_signal(noisy: np.ndarray, scale: float, kind: str) -> bool:
    """Whether the released total is 3 noise standard deviations above zero.

    True counts are ≥ 0 and pure noise sums to 0 on average, so a total within the noise
    means the release cannot be told apart from noise alone (a test on released values
    only: it spends no budget).
    """
    variance = 2 * scale**2 if kind == "laplace" else scale**2
    return float(noisy.sum()) > 3 * math.sqrt(noisy.size * variance)


def _positive_budget(budget: PureDP | ZCDP) -> bool:
    value = budget.epsilon if isinstance(budget, PureDP) else budget.rho
    return value > 0


@dataclass(frozen=True, eq=False)
class BuyAgainModel:
    """A customer's own items first (by the weights of ``history``), then popularity.

    ``history_half_life_days`` asks the evaluation for recency-weighted purchase counts
    as history values (each purchase weighs ``0.5^(age / half-life)``); with a binary
    history, own items are ordered by popularity.
    """

    fallback: PopularityModel
    history_half_life_days: float | None = 30.0
    name: str = "buy-again"

    @property
    def privacy(self) -> ApproxDP | None:
        return self.fallback.privacy

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        base = np.tile(popularity_order(self.fallback.counts), (len(users), 1))
        history = sparse.csr_matrix(history, dtype=np.float64)
        rows = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
        cols = history.indices
        row_max = history.max(axis=1).toarray().ravel()
        weights = history.data / row_max[rows]
        # Own items score in (1, 2]: above every popularity score in [0, 1).
        base[rows, cols] = 1.0 + weights + 1e-6 * base[rows, cols]
        return base

    def arrays(self) -> dict[str, np.ndarray]:
        return self.fallback.arrays()


@dataclass(frozen=True)
class BuyAgain:
    """Buy-again on top of ``fallback`` popularity (DP popularity for a private model)."""

    fallback: Popularity | DPPopularity
    history_half_life_days: float | None = 30.0

    def __post_init__(self) -> None:
        days = self.history_half_life_days
        if days is not None and not (isinstance(days, int | float) and 0 < days < math.inf):
            raise ParameterError(f"history_half_life_days must be > 0 or None, got {days!r}")

    def fit(self, train: Interactions, context: FitContext) -> BuyAgainModel:
        """Fit the model on ``train``: each customer's own history, nothing shared."""
        train = context.consented(train)
        fallback = self.fallback.fit(train, context)
        return BuyAgainModel(fallback, self.history_half_life_days)
