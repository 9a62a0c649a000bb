"""A federated recommender run in one process, next to the centralized ALS on the same data.

:func:`simulate_recommender` partitions the customers with purchases before the split,
charges the ledger once when the run is private, trains the item factors through the
Flower ClientApps (:class:`~shopveil.federated._recsys.FactorTask`) on the in-process
grid, and measures the federated model and :class:`shopveil.learn.ALS` (not private,
the same loss and rank, trained on all the same purchases) with
:func:`shopveil.learn.evaluate` on the purchases after the split: Recall@k and NDCG@k.
With ``personalize`` each client also fine-tunes the final factors on its own customers
(:mod:`~shopveil.federated._personal`), and the per-country figures show both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopveil._core.rng import insecure_seeded_rng, secure_rng
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.federated._client import client_app
from shopveil.federated._data import Partition, partition
from shopveil.federated._model import LocalTraining
from shopveil.federated._personal import client_of, personalized
from shopveil.federated._recsys import (
    Factorization,
    FactorTask,
    RecommenderData,
    fitted,
    initial_factors,
)
from shopveil.federated._server import FederatedRun, RoundReport, train_on_grid
from shopveil.federated._simulate import private_shards, run_costs
from shopveil.learn import ALS, CUSTOMER, FitContext, consenting, evaluate

__all__ = [
    "RECOMMENDER_CLIP", "RECOMMENDER_FINE_TUNING", "RECOMMENDER_TRAINING", "RecommenderResult",
    "simulate_recommender",
]  # fmt: skip

RECOMMENDER_CLIP = 50.0
"""Clip norm of one customer's item-factor change (at learning rate 10), chosen on a
validation window (train before 2011-04-01, validate 2011-04 … 06) at ε = 8."""

RECOMMENDER_TRAINING = LocalTraining(epochs=1, learning_rate=10.0)
"""Local training the recommender's defaults were tuned with: one full-batch step."""

RECOMMENDER_FINE_TUNING = LocalTraining(epochs=1, learning_rate=1.0)
"""Personalization: one step at a tenth of the rate (on the validation window, the mean
per-country Recall@20 went 0.214 → 0.236; at the full rate a small country overfits)."""


@dataclass(frozen=True)
class RecommenderResult:
    """A recommender run's scores (federated and central) and costs."""

    k: int
    recall: float
    ndcg: float
    recall_new: float
    central_recall: float
    central_ndcg: float
    central_recall_new: float
    rounds: int
    clients: int
    bytes_per_round: float
    seconds_per_round: float
    epsilon: float | None
    delta: float | None
    noise_multiplier: float | None
    rejected: int
    weights: np.ndarray = field(repr=False)
    per_country: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints."""
        k = self.k
        return {
            f"recall@{k}": _rounded(self.recall), f"ndcg@{k}": _rounded(self.ndcg),
            f"recall@{k}_new": _rounded(self.recall_new),
            f"central_recall@{k}": _rounded(self.central_recall),
            f"central_ndcg@{k}": _rounded(self.central_ndcg),
            f"central_recall@{k}_new": _rounded(self.central_recall_new),
            "rounds": self.rounds, "clients": self.clients,
            "bytes_per_round": round(self.bytes_per_round, 1),
            "seconds_per_round": round(self.seconds_per_round, 4),
            "epsilon": self.epsilon, "delta": self.delta,
            "noise_multiplier": self.noise_multiplier, "rejected_updates": self.rejected,
            "per_country": {
                c: {m: _rounded(v) for m, v in row.items()} for c, row in self.per_country.items()
            },
        }  # fmt: skip


def _rounded(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _scores(evaluation: Any, k: int) -> tuple[float, float, float]:
    out = evaluation.as_dict()
    return tuple(  # type: ignore[return-value]
        math.nan if out[key] is None else float(out[key])
        for key in (f"recall@{k}", f"ndcg@{k}", f"recall@{k}_new")
    )


def simulate_recommender(
    data: RecommenderData,
    run: FederatedRun,
    *,
    how: Partition = Partition.COUNTRY,
    clients: int | None = None,
    model: Factorization | None = None,
    personalize: LocalTraining | None = None,
    ledger: Ledger | None = None,
    dataset: str = "",
    request_id: str = "",
    unit: PerCustomer = CUSTOMER,
    seed: int | None = None,
    k: int = 20,
    on_round: Callable[[RoundReport], None] | None = None,
    subjects: SubjectFilter | None = None,
    smallest: int = 10,
) -> RecommenderResult:
    """Train the item factors federated; score them and the central ALS after the split.

    As :func:`~shopveil.federated.simulate`: ``run.dp`` charges every training customer
    its budget once on ``ledger`` before round 1 (``dataset``, ``request_id``, ``unit``);
    ``subjects`` leaves out the customers the consent register does not allow, from
    every client, the central model and the test. ``personalize`` is the local
    fine-tuning each client does after the last round. Countries with at least
    ``smallest`` test customers get their own figures (``per_country``).
    """
    model = model if model is not None else Factorization()
    allowed = consenting(subjects, data.customers)
    if not allowed.all():
        data = data.of_customers(allowed)
    shards = partition(data, how, clients=clients)
    run, shards = private_shards(
        run, shards, data.customers, ledger=ledger, dataset=dataset, request_id=request_id,
        unit=unit, subjects=subjects, what="recommender, federated DP-FedAvg",
    )  # fmt: skip
    task = FactorTask(data, model)
    from shopveil.federated._grid import InProcessGrid

    grid = InProcessGrid([client_app(task, shards, seed=seed)] * len(shards))
    rng = secure_rng() if seed is None else np.random.default_rng(seed)
    start = time.perf_counter()
    weights, reports = train_on_grid(
        grid, data.dim(model), run, rng=None if seed is None else rng, on_round=on_round,
        initial=initial_factors(data.n_items, model, rng),
    )  # fmt: skip
    seconds = (time.perf_counter() - start) / run.rounds
    before, after = data.before, data.after
    ours = _scores(evaluate(fitted(weights, data.n_items, model), before, after, k=k), k)
    central = ALS(factors=model.factors, reg=model.reg, alpha=model.alpha)
    context = FitContext(rng=secure_rng() if seed is None else insecure_seeded_rng(seed))
    theirs = _scores(evaluate(central.fit(before, context), before, after, k=k), k)
    return RecommenderResult(
        k=k, recall=ours[0], ndcg=ours[1], recall_new=ours[2], central_recall=theirs[0],
        central_ndcg=theirs[1], central_recall_new=theirs[2],
        **run_costs(run, reports, seconds, len(shards)), weights=weights,
        per_country=_per_country(
            data, task, weights, shards, model, personalize, k, smallest, seed
        ),
    )  # fmt: skip


def _per_country(
    data: RecommenderData, task: FactorTask, weights: np.ndarray, shards: list[np.ndarray],
    model: Factorization, personalize: LocalTraining | None, k: int, smallest: int,
    seed: int | None,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Recall@k and NDCG@k per country; with ``personalize``, also its client's own model's."""
    country = np.array(data.country)
    tested = np.zeros(len(country), dtype=bool)
    tested[data.after.active_users()] = True
    owners = client_of(data.country, shards)
    own = personalized(task, weights, shards, personalize, seed=seed) if personalize else None
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(country[tested].tolist())):
        users = country == name
        if (tested & users).sum() < smallest:
            continue
        test = data.after.of_users(users)
        recall, ndcg, _ = _scores(
            evaluate(fitted(weights, data.n_items, model), data.before, test, k=k), k
        )
        row = {f"recall@{k}": recall, f"ndcg@{k}": ndcg}
        if own is not None:
            mine = own[owners[name]] if name in owners else weights
            recall, ndcg, _ = _scores(
                evaluate(fitted(mine, data.n_items, model), data.before, test, k=k), k
            )
            row |= {f"personalized_recall@{k}": recall, f"personalized_ndcg@{k}": ndcg}
        out[name] = row
    return out
