"""Measuring a trained model on private test data: metrics released with DP, charged.

A model's metrics on a test window are computed from the test customers' purchases, so
releasing them releases something about those customers. :func:`evaluate_private`
charges every customer in the test data ``budget`` (ε, pure DP) on the shared ledger
before anything is computed, leaves out those who cannot pay, and releases:

- per pass (all purchases; new items only), the number of customers evaluated and the
  sums of their Recall@k, NDCG@k and MAP@k, each customer's value in [0, 1];
- the means are the noisy sums over the noisy counts, clamped to [0, 1].

One customer (their history and their test purchases together) moves each count by at
most 1 and each sum by at most 1. Values are rounded to the grid 2⁻¹⁶ and summed as
integers, so the sums are exact whatever the order (a float sum can move by more than
its bound). The 2 counts get ε/4 and the 6 sums 3ε/4, discrete Laplace noise on each
vector by its L1 sensitivity (2 and 6 · 2¹⁶ grid steps): every coordinate gets noise of
scale 8/ε. Coverage, diversity and novelty depend on other customers' lists and the
training data, so they are not released. The model itself is already released: scoring
it costs nothing more.

A customer's training-window history, used to score them (user-side) and to tell new
items from repeats, is their own; it is weighted by recency up to the model's public
training end, never up to a date found in the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from shopveil._core.budgets import PureDP
from shopveil.dp import half_width, laplace_for
from shopveil.dp.hazmat import RandomBits, as_bits
from shopveil.errors import ParameterError
from shopveil.learn._baselines import admit
from shopveil.learn._evaluate import history_matrix
from shopveil.learn._interactions import Interactions
from shopveil.learn._metrics import ranking_scores, top_k
from shopveil.learn._recommender import FitContext, FittedRecommender

__all__ = ["EVALUATION_EPSILON", "PrivateEvaluation", "evaluate_private", "release_metrics"]

EVALUATION_EPSILON = 0.5
"""ε per test customer of ``shopveil evaluate --model-file`` when none is given."""

GRID_BITS = 16  # per-customer values are rounded to multiples of 2^-16
_METRICS = ("recall", "ndcg", "map")
_COUNT_SHARE = 0.25


@dataclass(frozen=True)
class PrivateEvaluation:
    """Metrics released with DP; ``cost`` was charged to every test customer first."""

    model: str
    k: int
    cost: PureDP
    dataset: str
    means: dict[str, float | None]  # "recall@20", "recall@20_new", ...
    intervals: dict[str, tuple[float, float]]
    users: int  # noisy
    users_new: int  # noisy
    noise_scale: float  # of every released count and sum, in their units
    model_epsilon: float | None
    model_delta: float | None

    def as_dict(self) -> dict[str, Any]:
        """The evaluate contract's metric keys, their 95% intervals and what was paid."""
        return {
            "model": self.model,
            "k": self.k,
            **self.means,
            "intervals": {name: list(pair) for name, pair in self.intervals.items()},
            "users": self.users,
            "users_new": self.users_new,
            "epsilon": self.model_epsilon,
            "delta": self.model_delta,
            "private": True,
            "evaluation_cost": {"epsilon": self.cost.epsilon, "dataset": self.dataset},
            "noise_scale": self.noise_scale,
        }


@dataclass(frozen=True)
class Released:
    """Noisy sums (value units) and counts, the noise scale and the 95% half-widths."""

    sums: np.ndarray
    counts: np.ndarray
    scale: float
    sum_half_width: float
    count_half_width: float


def release_metrics(
    sums: np.ndarray, counts: np.ndarray, budget: PureDP, bits: RandomBits
) -> Released:
    """Discrete Laplace noise on the grid sums (2⁻¹⁶ units) and the counts, within ``budget``.

    ``sums`` are the integer sums of per-customer values rounded to the grid, one per
    metric (each customer moves each by at most 2¹⁶); ``counts`` the customers per pass.
    """
    sums = np.asarray(sums, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    unit = 2**GRID_BITS
    count_budget = PureDP(budget.epsilon * _COUNT_SHARE)
    sum_budget = PureDP(budget.epsilon * (1 - _COUNT_SHARE))
    count_noise = laplace_for(count_budget, sensitivity=len(counts))
    sum_noise = laplace_for(sum_budget, sensitivity=len(sums) * unit)
    return Released(
        sums=np.asarray(sum_noise(sums, rng=bits), dtype=np.float64) / unit,
        counts=np.asarray(count_noise(counts, rng=bits), dtype=np.float64),
        scale=count_noise.scale,
        sum_half_width=half_width(sum_noise) / unit,
        count_half_width=half_width(count_noise),
    )


def evaluate_private(
    fitted: FittedRecommender,
    history: Interactions,
    test: Interactions,
    *,
    budget: PureDP,
    context: FitContext,
    k: int = 20,
    history_end: datetime | None = None,
) -> PrivateEvaluation:
    """Charge ``budget`` to every customer in ``test``, then release DP metrics of ``fitted``.

    ``history`` and ``test`` share vocabularies (the model's items; ``align`` them).
    ``history_end`` is the public end of the model's training window, up to which a
    recency-weighted history counts (None: no recency weights).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be an int >= 1, got {k!r}")
    if not isinstance(budget, PureDP) or budget.epsilon <= 0:
        raise ParameterError(f"budget must be PureDP(epsilon > 0), e.g. PureDP(0.5); got {budget}")
    if history.n_items != test.n_items or history.n_users != test.n_users:
        raise ParameterError("history and test use different vocabularies; align them first")
    what = f"evaluate {fitted.name}@{k}: DP recall, ndcg, map"
    test = context.consented(test)  # customers who object are neither charged nor measured
    test, _ = admit(test, context, budget, what)  # before anything is computed
    history = history.of_users(np.isin(np.arange(test.n_users), test.active_users()))
    sums, counts = _grid_sums(fitted, history, test, k, history_end)
    released = release_metrics(sums, counts, budget, as_bits(context.rng))
    means: dict[str, float | None] = {}
    intervals: dict[str, tuple[float, float]] = {}
    for position, (metric, suffix) in enumerate((m, s) for s in ("", "_new") for m in _METRICS):
        name = f"{metric}@{k}{suffix}"
        count = released.counts[0 if suffix == "" else 1]
        means[name], intervals[name] = _mean(
            released.sums[position], count, released.sum_half_width, released.count_half_width
        )
    privacy = fitted.privacy
    return PrivateEvaluation(
        model=fitted.name,
        k=k,
        cost=budget,
        dataset=context.dataset,
        means=means,
        intervals=intervals,
        users=max(int(released.counts[0]), 0),
        users_new=max(int(released.counts[1]), 0),
        noise_scale=released.scale,
        model_epsilon=privacy.epsilon if privacy is not None else None,
        model_delta=privacy.delta if privacy is not None else None,
    )


def _grid_sums(
    fitted: FittedRecommender,
    history: Interactions,
    test: Interactions,
    k: int,
    end: datetime | None,
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pass, the integer grid sums of each metric and the customers evaluated."""
    seen = history.matrix()
    half_life = getattr(fitted, "history_half_life_days", None)
    own = history_matrix(history, half_life, end=end) if end is not None else history.counts()
    relevant_all = test.matrix()
    users = test.active_users()
    sums = np.zeros(2 * len(_METRICS), dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = np.asarray(fitted.scores(batch, own[batch]), dtype=np.float64)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        relevant = relevant_all[batch]
        new = relevant - relevant.multiply(seen[batch])
        new.eliminate_zeros()
        for p, (lists, rel) in enumerate(
            ((top_k(scores, k), relevant), (top_k(scores, k, exclude=seen[batch]), new))
        ):
            result = ranking_scores(lists, rel, k)
            defined = ~np.isnan(result.recall)
            counts[p] += int(defined.sum())
            for m, values in enumerate((result.recall, result.ndcg, result.ap)):
                clipped = np.clip(values[defined], 0.0, 1.0)
                sums[p * len(_METRICS) + m] += int(np.rint(clipped * 2**GRID_BITS).sum())
    return sums, counts


def _mean(
    total: float, count: float, total_hw: float, count_hw: float
) -> tuple[float | None, tuple[float, float]]:
    """A noisy mean in [0, 1] and the interval its noise allows (all of [0, 1] when the
    noisy count may be 0)."""
    if count - count_hw <= 0:
        value = min(max(total / count, 0.0), 1.0) if count >= 1 else None
        return value, (0.0, 1.0)
    corners = [
        (total + a) / (count + b) for a in (-total_hw, total_hw) for b in (-count_hw, count_hw)
    ]
    value = min(max(total / count, 0.0), 1.0)
    return value, (max(0.0, min(corners)), min(1.0, max(corners)))
