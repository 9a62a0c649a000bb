"""A federated churn run in one process, next to the centralized model on the same data.

:func:`simulate` partitions the training customers, charges the ledger once when the
run is private (every training customer, the run's whole ``ApproxDP``), drives the
Flower ClientApps through :class:`~shopveil.federated._grid.InProcessGrid`, and scores
the final model and a centralized non-private model (:mod:`shopveil.learn`'s churn
model) on the same held-out customers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.errors import ParameterError
from shopveil.federated._client import ChurnTask, client_app
from shopveil.federated._data import ChurnData, Partition, partition
from shopveil.federated._dp import ClipMode, noise_multiplier
from shopveil.federated._model import LocalTraining, auc, predict
from shopveil.federated._personal import client_of, personalized
from shopveil.federated._server import FederatedRun, RoundReport, train_on_grid
from shopveil.learn import CUSTOMER, charge_customers, consenting

__all__ = [
    "SimulationResult", "central_auc", "private_shards", "run_costs", "simulate",
]  # fmt: skip


@dataclass(frozen=True)
class SimulationResult:
    """A run's scores and costs."""

    auc: float
    central_auc: float
    rounds: int
    clients: int
    bytes_per_round: float
    seconds_per_round: float
    epsilon: float | None
    delta: float | None
    noise_multiplier: float | None
    rejected: int
    weights: np.ndarray
    per_country_auc: dict[str, float]
    personalized_auc: float | None = None
    per_country_personalized_auc: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints."""
        personal: dict[str, object] = {}
        if self.personalized_auc is not None:
            personal = {
                "personalized_auc": _rounded(self.personalized_auc),
                "per_country_personalized_auc": {
                    k: _rounded(v) for k, v in self.per_country_personalized_auc.items()
                },
            }
        return personal | {
            "auc": _rounded(self.auc), "central_auc": _rounded(self.central_auc),
            "rounds": self.rounds, "clients": self.clients,
            "bytes_per_round": round(self.bytes_per_round, 1),
            "seconds_per_round": round(self.seconds_per_round, 4),
            "epsilon": self.epsilon, "delta": self.delta,
            "noise_multiplier": self.noise_multiplier, "rejected_updates": self.rejected,
            "per_country_auc": {k: _rounded(v) for k, v in self.per_country_auc.items()},
        }  # fmt: skip


def _rounded(value: float) -> float | None:
    """An AUC to 4 places; None where it is undefined (a test set of one class)."""
    return round(value, 4) if math.isfinite(value) else None


def central_auc(data: ChurnData, *, seed: int | None = None) -> float:
    """Test AUC of :mod:`shopveil.learn`'s non-private churn model on all training customers."""
    from shopveil._core.rng import insecure_seeded_rng, secure_rng
    from shopveil.learn import CustomerFeatures, CustomerModelConfig, train_customer_model

    def rows(mask: np.ndarray) -> CustomerFeatures:
        ids = tuple(c for c, k in zip(data.customers, mask, strict=True) if k)
        return CustomerFeatures(ids, data.raw[mask])

    rng = secure_rng() if seed is None else insecure_seeded_rng(seed)
    model = train_customer_model(
        rows(data.train), data.y[data.train], config=CustomerModelConfig(task="churn"), rng=rng
    )
    return auc(model.predict(rows(~data.train)), data.y[~data.train])


def simulate(
    data: ChurnData,
    run: FederatedRun,
    *,
    how: Partition = Partition.COUNTRY,
    clients: int | None = None,
    ledger: Ledger | None = None,
    dataset: str = "",
    request_id: str = "",
    unit: PerCustomer = CUSTOMER,
    seed: int | None = None,
    on_round: Callable[[RoundReport], None] | None = None,
    apps: Callable[[list[np.ndarray]], list[object]] | None = None,
    subjects: SubjectFilter | None = None,
    personalize: LocalTraining | None = None,
) -> SimulationResult:
    """Train federated, score it and the centralized model on the held-out customers.

    With ``run.dp`` the run's noise multiplier is set from its budget and rounds, and
    every training customer is charged that budget once on ``ledger`` before round 1;
    those who cannot afford it are left out. ``apps`` builds one ClientApp per shard
    (default: the honest :func:`~shopveil.federated._client.client_app`). ``subjects``
    (the consent register's answer for the purpose) keeps the customers it does not
    allow out of every client, the centralized baseline and the test set, before
    anything is charged or trained. ``personalize`` is the local fine-tuning each client
    does after the last round (:mod:`~shopveil.federated._personal`): each held-out
    customer is then also scored by their country's client's own model.
    """
    allowed = consenting(subjects, data.customers)
    if not allowed.all():
        data = data.of_customers(allowed)
    shards = partition(data, how, clients=clients)
    run, shards = private_shards(
        run, shards, data.customers, ledger=ledger, dataset=dataset, request_id=request_id,
        unit=unit, subjects=subjects, what="churn model, federated DP-FedAvg",
    )  # fmt: skip
    if apps is None:
        app = client_app(data, shards, seed=seed)
        built: list[object] = [app] * len(shards)
    else:
        built = apps(shards)
    from shopveil.federated._grid import InProcessGrid

    grid = InProcessGrid(built)
    rng = None if seed is None else np.random.default_rng(seed)
    start = time.perf_counter()
    weights, reports = train_on_grid(grid, data.dim, run, rng=rng, on_round=on_round)
    seconds = (time.perf_counter() - start) / run.rounds
    test = ~data.train
    scores = predict(weights, data.x.astype(np.float64))
    return SimulationResult(
        auc=auc(scores[test], data.y[test]),
        central_auc=central_auc(data, seed=seed),
        **run_costs(run, reports, seconds, len(shards)),
        weights=weights,
        per_country_auc=_per_country(data, scores),
        **_personal(data, weights, shards, personalize, seed),
    )


def _personal(
    data: ChurnData, weights: np.ndarray, shards: list[np.ndarray],
    training: LocalTraining | None, seed: int | None,
) -> dict[str, Any]:  # fmt: skip
    """Held-out AUC, overall and per country, each customer scored by their client's model."""
    if training is None:
        return {}
    own = personalized(ChurnTask(data), weights, shards, training, seed=seed)
    owners = client_of(data.country, shards)
    mine = np.stack([own[owners[c]] if c in owners else weights for c in data.country])
    x = data.x.astype(np.float64)
    scores = 1 / (1 + np.exp(-(np.einsum("ij,ij->i", x, mine[:, :-1]) + mine[:, -1])))
    test = ~data.train
    return {
        "personalized_auc": auc(scores[test], data.y[test]),
        "per_country_personalized_auc": _per_country(data, scores),
    }


def run_costs(
    run: FederatedRun, reports: list[RoundReport], seconds: float, clients: int
) -> dict[str, Any]:
    """What every run's result reports besides its scores: rounds, bytes, seconds, budget."""
    budget = run.dp.budget if run.dp is not None else None
    return {
        "rounds": run.rounds, "clients": clients,
        "bytes_per_round": float(np.mean([r.uplink_bytes for r in reports])),
        "seconds_per_round": seconds,
        "epsilon": budget.epsilon if budget is not None else None,
        "delta": budget.delta if budget is not None else None,
        "noise_multiplier": run.noise if budget is not None else None,
        "rejected": sum(r.rejected for r in reports),
    }  # fmt: skip


def private_shards(
    run: FederatedRun,
    shards: list[np.ndarray],
    customers: Sequence[str],
    *,
    ledger: Ledger | None,
    dataset: str,
    request_id: str,
    unit: PerCustomer,
    subjects: SubjectFilter | None,
    what: str,
) -> tuple[FederatedRun, list[np.ndarray]]:
    """A private run's noise multiplier, and its shards less those who cannot afford it.

    Without ``run.dp`` both come back as they are. With it, every customer in the
    shards is charged the run's budget once on ``ledger``, before round 1.
    """
    dp = run.dp
    if dp is None:
        return run, shards
    if ledger is None or not dataset or not request_id:
        raise ParameterError("a private run needs ledger=, dataset= and request_id=")
    adaptive = dp.mode is ClipMode.ADAPTIVE
    run = replace(run, noise=noise_multiplier(dp.budget, run.rounds, adaptive=adaptive))
    training = np.concatenate(shards) if shards else np.zeros(0, dtype=np.int64)
    _, kept = charge_customers(
        ledger, request_id, dataset, unit, dp.budget, [customers[int(i)] for i in training],
        what=what, subjects=subjects,
    )  # fmt: skip
    # Those who could not afford the run leave their client's shard before round 1.
    left_out = set(training[~kept].tolist())
    return run, [np.array([i for i in s if i not in left_out], dtype=np.int64) for s in shards]


def _per_country(data: ChurnData, scores: np.ndarray, smallest: int = 30) -> dict[str, float]:
    """Held-out AUC per country with at least ``smallest`` test customers of both classes."""
    country = np.array(data.country)
    out = {}
    for name in sorted(set(country[~data.train].tolist())):
        rows = (~data.train) & (country == name)
        labels = data.y[rows]
        if rows.sum() >= smallest and 0 < labels.sum() < rows.sum():
            out[name] = auc(scores[rows], labels)
    return out
