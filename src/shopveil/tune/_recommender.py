"""Tuning a recommender: model size, the ε split and regularization on a validation window.

The validation window is carved from the training data the caller gives (each
customer's last purchases); the caller's test window never enters the search. Every
private fit the search runs charges the ledger of the fit context, once per fit, under
its own request id, before anything is computed: the search spends the budget of the
customers it trains on, as any other fit does, and reports each charge.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from shopveil._core.budgets import DEFAULT_DELTA
from shopveil.errors import ParameterError, PrivacyError
from shopveil.learn import (
    FitContext,
    Interactions,
    Recommender,
    build_recommender,
    is_private,
)
from shopveil.scorecard import max_membership_auc
from shopveil.tune._pareto import pareto_front
from shopveil.tune._validation import Fits, Progress, last_share_per_user

__all__ = [
    "DEFAULT_GRIDS",
    "RecommenderCandidate",
    "RecommenderMeasure",
    "RecommenderSpace",
    "RecommenderTarget",
    "RecommenderTuning",
    "tune_recommender",
]

DEFAULT_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    # model size, the ε split between the counts and the factors, regularization
    "dp-als": {"rank": (2, 4, 8, 16), "count_share": (0.1, 0.3, 0.5), "reg": (0.3, 1.0, 3.0)},
    # the ε split between popularity and co-purchase, and how many items get neighbours
    "dp-cobuy": {"popularity_share": (0.3, 0.5, 0.7, 0.9), "top_items": (300, 600, 1200)},
    "dp-eigen": {"max_rank": (16, 32, 64), "popularity_share": (0.1, 0.2, 0.4)},
    "als": {"factors": (16, 32, 64, 128), "reg": (0.1, 1.0, 10.0)},
}
"""The options searched per model when the space names none."""


class RecommenderMeasure(StrEnum):
    """The validation measure a recommender search maximizes (at the target's k)."""

    RECALL = "recall"
    NDCG = "ndcg"


@dataclass(frozen=True)
class RecommenderTarget:
    """The privacy target and the utility measure of a recommender search.

    Parameters
    ----------
    epsilon
        ε per customer of the model (None: a model that trains without DP).
    measure, k
        Recall@k or NDCG@k on the validation window, higher is better.
    membership_auc_ceiling
        The highest customer-level membership AUC accepted: a point is recommended only
        when its (ε, δ) caps every attack's AUC at or below it.
    """

    epsilon: float | None
    measure: RecommenderMeasure = RecommenderMeasure.RECALL
    k: int = 20
    membership_auc_ceiling: float | None = None

    def __post_init__(self) -> None:
        e = self.epsilon
        if e is not None and not (isinstance(e, int | float) and 0 < e < math.inf):
            raise ParameterError(f"epsilon: expected a number > 0 per customer, got {e!r}")
        object.__setattr__(self, "measure", RecommenderMeasure(self.measure))
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ParameterError(f"k: expected an integer >= 1, got {self.k!r}")
        c = self.membership_auc_ceiling
        if c is not None and not (isinstance(c, int | float) and 0.5 <= c <= 1):
            raise ParameterError(f"membership_auc_ceiling: expected [0.5, 1], got {c!r}")


@dataclass(frozen=True)
class RecommenderSpace:
    """What a recommender search tries, and what it may spend.

    Parameters
    ----------
    grid
        ``(option, values)`` pairs; every combination is tried (empty: the model's
        :data:`DEFAULT_GRIDS`). The model's defaults are always tried too.
    epsilon_fractions
        Fractions of the target ε tried (each ≤ 1): lower ε draws the front.
    repeats
        Fits per point (their validation figures are averaged; each is charged).
    validation_share
        Each customer's last share of training purchases that validates.
    finalists
        After the first round, the best ``finalists`` points and the defaults are fitted
        ``repeats`` times more, and only they can be recommended (by the mean over all
        their fits): the best of many noisy fits is otherwise chosen partly for its luck.
        0 for one round.
    max_search_epsilon
        The most ε per customer the whole search may charge (the sum over its fits);
        a plan that costs more is refused before the first fit.
    """

    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    epsilon_fractions: tuple[float, ...] = (1.0,)
    repeats: int = 1
    validation_share: float = 0.2
    finalists: int = 0
    max_search_epsilon: float | None = None

    @classmethod
    def of(cls, grid: Mapping[str, Sequence[Any]], **settings: Any) -> RecommenderSpace:
        """A space from ``{"rank": (4, 8), ...}``."""
        return cls(tuple((k, tuple(v)) for k, v in grid.items()), **settings)

    def __post_init__(self) -> None:
        if any(not values for _, values in self.grid):
            raise ParameterError("grid: every option needs at least one value")
        if not self.epsilon_fractions or any(not 0 < f <= 1 for f in self.epsilon_fractions):
            raise ParameterError(
                f"epsilon_fractions: expected fractions in (0, 1], got {self.epsilon_fractions}"
            )
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise ParameterError(f"repeats: expected an integer >= 1, got {self.repeats!r}")
        if not 0 < self.validation_share < 1:
            raise ParameterError(
                f"validation_share: expected a share in (0, 1), got {self.validation_share!r}"
            )
        if isinstance(self.finalists, bool) or not (
            isinstance(self.finalists, int) and self.finalists >= 0
        ):
            raise ParameterError(f"finalists: expected an integer >= 0, got {self.finalists!r}")
        m = self.max_search_epsilon
        if m is not None and not m > 0:
            raise ParameterError(f"max_search_epsilon: expected ε > 0, got {m!r}")

    def options(self, model: str) -> list[dict[str, Any]]:
        """Every combination of the grid (the model's default grid when empty)."""
        grid = dict(self.grid) if self.grid else DEFAULT_GRIDS.get(model, {})
        names = list(grid)
        return [
            dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())
        ]


@dataclass(frozen=True)
class RecommenderCandidate:
    """One point of the search: options, ε, and its validation figures.

    ``finalist`` is False for a point left after the first round (see
    :attr:`RecommenderSpace.finalists`); ``request_ids`` are its fits' ledger charges.
    """

    options: Mapping[str, Any]
    epsilon: float | None
    scores: tuple[float, ...]
    request_ids: tuple[str, ...]
    epsilon_charged: float
    seconds: float
    auc_bound: float
    default: bool = False
    meets_target: bool = True
    on_front: bool = False
    finalist: bool = True

    @property
    def value(self) -> float:
        """The mean validation measure over the point's fits."""
        return float(np.mean(self.scores))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        out = {**vars(self), "options": dict(self.options), "value": self.value}
        out["scores"], out["request_ids"] = list(self.scores), list(self.request_ids)
        return out


@dataclass(frozen=True)
class RecommenderTuning:
    """The candidates, the front over (ε, validation measure) and the recommended point."""

    model: str
    target: RecommenderTarget
    candidates: tuple[RecommenderCandidate, ...]
    recommended: RecommenderCandidate
    validation: Mapping[str, int]

    @property
    def default(self) -> RecommenderCandidate:
        """The model's default options at the target ε."""
        return next(c for c in self.candidates if c.default)

    @property
    def front(self) -> tuple[RecommenderCandidate, ...]:
        """The candidates on the front, lowest ε first."""
        on = [c for c in self.candidates if c.on_front]
        return tuple(sorted(on, key=lambda c: (c.epsilon or math.inf, -c.value)))

    @property
    def fits(self) -> int:
        """Fits the search ran."""
        return sum(len(c.scores) for c in self.candidates)

    @property
    def epsilon_charged(self) -> float:
        """ε per customer the search charged, summed over its fits (0 when not private)."""
        return sum(c.epsilon_charged for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the target, the recommendation next to the default, every candidate."""
        measure = f"{self.target.measure.value}@{self.target.k}"
        return {
            "kind": "recommender",
            "model": self.model,
            "target": {
                "epsilon": self.target.epsilon,
                "measure": measure,
                "membership_auc_ceiling": self.target.membership_auc_ceiling,
            },
            "recommended": self.recommended.to_dict(),
            "default": self.default.to_dict(),
            "gain_over_default": self.recommended.value - self.default.value,
            "validation": dict(self.validation),
            "fits": self.fits,
            "epsilon_charged": self.epsilon_charged,
            "front": [c.to_dict() for c in self.front],
            "candidates": [c.to_dict() for c in self.candidates],
        }


def _plan(
    model: str, target: RecommenderTarget, space: RecommenderSpace
) -> list[tuple[dict[str, Any], float | None, Recommender, bool]]:
    """Every (options, ε, config, is-default) point, built (and so checked) before any fit."""
    epsilons: list[float | None] = [None]
    if target.epsilon is not None:
        epsilons = [*sorted({target.epsilon * f for f in space.epsilon_fractions})]
    default = build_recommender(model, target.epsilon)
    points = []
    for epsilon in epsilons:
        for options in space.options(model):
            config = build_recommender(model, epsilon, options)
            points.append((options, epsilon, config, config == default))
    if not any(is_default for *_, is_default in points):
        points.append(({}, target.epsilon, default, True))
    return points


def _delta_of(config: Recommender) -> float:
    """The δ a fit of ``config`` is charged (0 for pure ε-DP)."""
    for name in ("budget", "epsilon"):
        delta = getattr(getattr(config, name, None), "delta", None)
        if delta is not None:
            return float(delta)
    return 0.0


def _check_account(context: FitContext, planned: float, deltas: float) -> None:
    """Refuse a search its dataset's account cannot pay for, before the first fit."""
    ledger = context.ledger
    assert ledger is not None
    try:
        left = ledger.show(context.dataset, context.unit).remaining
    except ParameterError:  # no account yet: the first charge opens one at the default
        left = ledger.default_total
    epsilon, delta = getattr(left, "epsilon", None), getattr(left, "delta", None)
    if (epsilon is not None and planned > epsilon + 1e-9) or (
        delta is not None and deltas > delta * (1 + 1e-9)
    ):
        raise ParameterError(
            f"the search would charge up to ε = {planned:g}, δ = {deltas:g} per customer, and "
            f"dataset {context.dataset!r} has ε = {epsilon:g}, δ = {delta:g} left; shrink "
            "the grid (--grid, --repeats) or raise the budget (shopveil budget set)"
        )


def tune_recommender(
    train: Interactions,
    model: str,
    target: RecommenderTarget,
    *,
    space: RecommenderSpace | None = None,
    context: FitContext | None = None,
    progress: Progress | None = None,
) -> RecommenderTuning:
    """Search ``model``'s options on a validation window carved from ``train``.

    ``train`` is the training data only; each customer's last ``validation_share`` of it
    validates, the rest trains every point. A private model's fits charge
    ``context.ledger`` (each under a fresh request id; ``context.request_id`` is not
    used). The recommended point has the highest validation measure among the points
    whose ε is within the target and whose membership-AUC bound is within the ceiling;
    a tie goes to the lower ε, then to the model's defaults.

    Raises
    ------
    ParameterError
        A private model without a ledger, an unknown option, a plan over
        ``max_search_epsilon`` or over what the dataset's account has left, or no
        validation purchases.
    """
    space = space or RecommenderSpace()
    context = context or FitContext()
    private = is_private(model, target.epsilon)
    if private and context.ledger is None:
        raise ParameterError(
            f"{model} at ε = {target.epsilon} is private and the search charges every fit: "
            "pass context=FitContext(ledger=...)"
        )
    points = _plan(model, target, space)
    rounds = len(points) + min(space.finalists + 1, len(points)) * bool(space.finalists)
    planned = sum((e or 0.0) for _, e, _, _ in points) * space.repeats if private else 0.0
    if space.finalists:  # the finalists are not known yet: charge the plan as the dearest
        dearest = max((e or 0.0) for _, e, _, _ in points)
        planned += dearest * space.repeats * (rounds - len(points)) if private else 0.0
    if space.max_search_epsilon is not None and planned > space.max_search_epsilon:
        raise ParameterError(
            f"the search would charge up to ε = {planned:g} per customer ({rounds} rounds "
            f"of {space.repeats} fits), over max_search_epsilon = {space.max_search_epsilon:g}; "
            "shrink the grid or raise the cap"
        )
    if private:
        assert context.ledger is not None
        per_fit = max(_delta_of(config) for _, _, config, _ in points)
        _check_account(context, planned, per_fit * space.repeats * rounds)
    fit_part, validation = last_share_per_user(train, space.validation_share)
    if not len(validation):
        raise ParameterError("no validation purchases: the customers have too few purchases")
    fits = Fits(
        fit_part,
        validation,
        target.k,
        target.measure.value,
        context,
        private,
        rounds * space.repeats,
        progress,
    )
    candidates: list[RecommenderCandidate] = []
    for options, epsilon, config, is_default in points:
        started = time.perf_counter()
        scores, ids, charged = fits.run(config, space.repeats)
        bound = 1.0 if epsilon is None else max_membership_auc(epsilon, DEFAULT_DELTA)
        ceiling = target.membership_auc_ceiling
        candidates.append(
            RecommenderCandidate(
                options,
                epsilon,
                scores,
                ids,
                charged,
                time.perf_counter() - started,
                bound,
                is_default,
                meets_target=ceiling is None or bound <= ceiling,
            )
        )
    if space.finalists:
        ranked = sorted(range(len(points)), key=lambda i: -candidates[i].value)
        chosen = set(ranked[: space.finalists]) | {i for i, p in enumerate(points) if p[3]}
        fits.total = (len(points) + len(chosen)) * space.repeats
        for i in sorted(chosen):
            started = time.perf_counter()
            scores, ids, charged = fits.run(points[i][2], space.repeats)
            c = candidates[i]
            candidates[i] = dataclasses.replace(
                c,
                scores=c.scores + scores,
                request_ids=c.request_ids + ids,
                epsilon_charged=c.epsilon_charged + charged,
                seconds=c.seconds + time.perf_counter() - started,
            )
        for i in set(range(len(points))) - chosen:
            candidates[i] = dataclasses.replace(candidates[i], finalist=False)
    front = pareto_front([(c.epsilon or math.inf, -c.value) for c in candidates])
    candidates = [
        dataclasses.replace(c, on_front=on) for c, on in zip(candidates, front, strict=True)
    ]
    eligible = [c for c in candidates if c.meets_target and c.finalist]
    if not eligible:
        raise PrivacyError(
            f"no ε tried keeps the membership AUC within {target.membership_auc_ceiling}; "
            "lower the target ε or add smaller epsilon_fractions"
        )
    best = max(eligible, key=lambda c: (c.value, -(c.epsilon or math.inf), c.default))
    sizes = {
        "customers": len(train.active_users()),
        "training_events": len(fit_part),
        "validation_events": len(validation),
    }
    return RecommenderTuning(model, target, tuple(candidates), best, sizes)
