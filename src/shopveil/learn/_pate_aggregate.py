"""PATE's noisy vote aggregation: GNMax and confident-GNMax with RDP accounting.

Each query's teacher votes are integer counts, and one customer sits in one teacher's
shard, so one customer moves at most one vote: the count vector changes by at most √2 in
L2 norm and its maximum by at most 1. Noise is the *discrete* Gaussian from
:func:`~shopveil.dp.hazmat.sample_discrete_gaussian`, exact on integers; its RDP is at most the
continuous Gaussian's (Canonne, Kamath & Steinke 2020, Thm 4, coordinate by coordinate).

Confident-GNMax (Papernot et al. 2018, Alg. 1) answers a query only when
``max vote + N(0, σ₁²) ≥ T`` and then releases ``arg max(votes + N(0, σ₂²))``: every check
costs α/(2σ₁²), every answer α/σ₂². Answering stops before the data-independent total
would pass the budget; since both costs are linear in α the stopping rule is a zCDP
filter, valid for adaptively chosen releases at every order at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shopveil._core.budgets import ApproxDP
from shopveil.dp.hazmat import (
    DEFAULT_ORDERS,
    RdpAccountant,
    Rng,
    gnmax_data_dependent_rdp,
    gnmax_log_q,
    max_zcdp_within,
    sample_discrete_gaussian,
    threshold_rdp,
)
from shopveil.errors import ParameterError

__all__ = ["Aggregate", "GNMaxConfig", "aggregate_votes"]


@dataclass(frozen=True)
class GNMaxConfig:
    """Noise for the vote aggregate.

    Parameters
    ----------
    sigma
        σ₂, the noise on the vote counts of an answered query.
    threshold
        T for confident-GNMax; ``None`` answers every query (plain GNMax).
    threshold_sigma
        σ₁, the noise on the top count in the threshold check; needed with ``threshold``.
    """

    sigma: float
    threshold: float | None = None
    threshold_sigma: float | None = None

    def __post_init__(self) -> None:
        if not _is_positive(self.sigma):
            raise ParameterError(f"sigma must be a finite number > 0, got {self.sigma!r}; e.g. 20")
        if (self.threshold is None) != (self.threshold_sigma is None):
            raise ParameterError(
                "threshold and threshold_sigma go together: give both (confident-GNMax) "
                f"or neither (GNMax), got {self.threshold!r} and {self.threshold_sigma!r}"
            )
        if self.threshold_sigma is not None and not _is_positive(self.threshold_sigma):
            raise ParameterError(
                f"threshold_sigma must be a finite number > 0, got {self.threshold_sigma!r}"
            )
        if self.threshold is not None and not np.isfinite(self.threshold):
            raise ParameterError(f"threshold must be finite, got {self.threshold!r}")

    @property
    def check_rho(self) -> float:
        """zCDP cost ρ of one threshold check (0 for plain GNMax)."""
        return 0.0 if self.threshold_sigma is None else 1 / (2 * self.threshold_sigma**2)

    @property
    def answer_rho(self) -> float:
        """zCDP cost ρ of one answer: sensitivity √2, so 2/(2σ₂²)."""
        return 1 / self.sigma**2


@dataclass(frozen=True, eq=False)
class Aggregate:
    """Noisy labels for the queries and what they cost.

    ``labels`` holds -1 where a query was not answered (failed the threshold check, or
    came after the budget ran out). ``independent`` is the guarantee that holds whatever
    the data; ``dependent`` uses the vote margins and is itself a function of the private
    data: report it, do not release it as a DP guarantee.
    """

    labels: np.ndarray = field(repr=False)
    checked: int
    answered: int
    independent: ApproxDP
    dependent: ApproxDP

    @property
    def answered_mask(self) -> np.ndarray:
        return self.labels >= 0


def aggregate_votes(
    votes: np.ndarray,
    config: GNMaxConfig,
    budget: ApproxDP,
    *,
    rng: Rng = None,
    orders: tuple[float, ...] = DEFAULT_ORDERS,
) -> Aggregate:
    """Label each query (a row of ``votes``) by (confident-)GNMax until ``budget`` is used.

    Parameters
    ----------
    votes
        Integer matrix, one row per query, one column per label: how many teachers chose it.
    config
        σ₂, and T with σ₁ for confident-GNMax.
    budget
        The most this call may spend, data-independently, as (ε, δ).
    rng
        Randomness for the noise; a CSPRNG by default.
    """
    counts = np.asarray(votes)
    if counts.ndim != 2 or counts.shape[1] < 2 or counts.shape[0] == 0:
        raise ParameterError(f"votes must be (queries, labels >= 2), got shape {counts.shape}")
    if not np.issubdtype(counts.dtype, np.integer) or np.any(counts < 0):
        raise ParameterError("votes must be non-negative integer counts")
    if not isinstance(budget, ApproxDP) or budget.delta <= 0:
        raise ParameterError(f"budget must be ApproxDP with delta > 0, got {budget!r}")
    n_queries, n_labels = counts.shape
    limit = max_zcdp_within(budget, orders).rho
    per_query = config.check_rho + config.answer_rho
    if per_query > limit:
        raise ParameterError(
            f"one query costs ρ={per_query:.3g} but the budget {budget} allows ρ={limit:.3g}; "
            "raise sigma (and threshold_sigma) or the budget"
        )
    # Noise does not depend on the data, so it is drawn for every query up front.
    answer_noise = sample_discrete_gaussian(config.sigma, n_queries * n_labels, rng=rng)
    answer_noise = answer_noise.reshape(n_queries, n_labels)
    check_noise = np.zeros(n_queries, dtype=np.int64)
    if config.threshold_sigma is not None:
        check_noise = sample_discrete_gaussian(config.threshold_sigma, n_queries, rng=rng)
    labels = np.full(n_queries, -1, dtype=np.int64)
    spent, checked, answered = 0.0, 0, 0
    grid = np.asarray(orders)
    dependent = np.zeros_like(grid)
    for i in range(n_queries):
        if spent + per_query > limit:
            break
        checked += 1
        spent += config.check_rho
        if config.threshold is not None and counts[i].max() + check_noise[i] < config.threshold:
            continue
        spent += config.answer_rho
        answered += 1
        labels[i] = int(np.argmax(counts[i] + answer_noise[i]))
        log_q = gnmax_log_q(counts[i], config.sigma, discrete=True)
        dependent += gnmax_data_dependent_rdp(log_q, config.sigma, orders)
    independent = RdpAccountant(orders).spend(grid * spent, 1)
    if config.threshold_sigma is not None:
        dependent += checked * threshold_rdp(config.threshold_sigma, orders)
    return Aggregate(
        labels=labels,
        checked=checked,
        answered=answered,
        independent=independent.total(delta=budget.delta),
        dependent=RdpAccountant(orders).spend(dependent).total(delta=budget.delta),
    )


def _is_positive(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and bool(np.isfinite(value))
        and value > 0
    )
