"""Online Retail as a federated churn task: features, labels and who holds which customer.

Features are the RFM features of :mod:`shopveil.learn` over ``[SINCE, AS_OF)``, the label
is "no purchase in the next 92 days" (as ``benchmarks/bench_churn.py``). Every federated
model scales them with the *declared* caps (:data:`~shopveil.learn.FEATURE_CAPS`), never
with statistics of the data, so no client's data enters the model outside training.

A partition is a list of index arrays into one shared feature matrix: a client holds
only its indices, so 100+ simulated clients cost a few bytes each (memory-bounded).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil._core.rng import secure_rng
from shopveil.errors import ParameterError
from shopveil.learn import FEATURE_CAPS, FEATURE_NAMES, churn_labels, customer_features

__all__ = [
    "AS_OF", "HORIZON", "SINCE", "ChurnData", "Customers", "Partition", "churn_data", "partition",
]  # fmt: skip

SINCE, AS_OF, HORIZON = datetime(2010, 12, 1), datetime(2011, 7, 1), timedelta(days=92)


class Partition(enum.Enum):
    """How customers are spread over clients."""

    COUNTRY = "country"
    """One client per country (cross-silo, real regional heterogeneity)."""
    CUSTOMER = "customer"
    """One client per customer (cross-device)."""


class Customers(Protocol):
    """What :func:`partition` needs of a task: each customer's country and split."""

    @property
    def country(self) -> tuple[str, ...]:
        """Per customer, their country."""
        ...

    @property
    def train(self) -> np.ndarray:
        """Per customer, True when they are a training customer."""
        ...


@dataclass(frozen=True, eq=False)
class ChurnData:
    """Scaled features, churn labels, and each customer's id, country and split.

    ``x`` is ``float32`` (customers × features, in ``[-0.5, 0.5]``), ``y`` is 0/1,
    ``train`` is True for the training customers (the rest is the test set), ``raw`` the
    unscaled features (for the centralized baseline).
    """

    customers: tuple[str, ...]
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    country: tuple[str, ...] = field(repr=False)
    train: np.ndarray = field(repr=False)
    raw: np.ndarray = field(repr=False)

    @property
    def dim(self) -> int:
        """Number of model weights: one per feature, plus a bias."""
        return int(self.x.shape[1]) + 1

    def of_customers(self, keep: np.ndarray) -> ChurnData:
        """Only the customers where ``keep`` (one bool per customer) is True."""
        kept = np.asarray(keep, dtype=bool)
        return ChurnData(
            tuple(c for c, k in zip(self.customers, kept, strict=True) if k),
            self.x[kept], self.y[kept],
            tuple(c for c, k in zip(self.country, kept, strict=True) if k),
            self.train[kept], self.raw[kept],
        )  # fmt: skip


def scale_declared(values: np.ndarray) -> np.ndarray:
    """``log1p(clamp(x, 0, cap))`` centred and scaled by the declared caps (no data statistic)."""
    caps = np.array([FEATURE_CAPS[n] for n in FEATURE_NAMES], dtype=np.float64)
    logged = np.log1p(np.clip(values, 0, caps))
    top = np.log1p(caps)
    return np.ascontiguousarray((logged - top / 2) / top, dtype=np.float32)


def churn_data(
    table: pa.Table, *, test_fraction: float = 0.3, rng: np.random.Generator | None = None
) -> ChurnData:
    """The churn task of an Online Retail table (:func:`shopveil.data.load_online_retail`).

    Customers are split at random (``test_fraction`` held out for the AUC).
    """
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    features = customer_features(table, as_of=AS_OF, since=SINCE)
    if len(features) < 10:
        raise ParameterError(
            f"--data holds {len(features)} customers active before {AS_OF:%Y-%m-%d}; "
            "federated churn needs at least 10 (use the Online Retail file)"
        )
    y = churn_labels(table, as_of=AS_OF, horizon=HORIZON, customers=features.customers)
    if np.all(y == y[0]):
        raise ParameterError(
            f"--data: every customer active before {AS_OF:%Y-%m-%d} "
            f"{'churns' if y[0] else 'buys again'} in the next {HORIZON.days} days, so there "
            f"is nothing to learn; the file must run to {AS_OF + HORIZON:%Y-%m-%d}"
        )
    frame = pl.from_arrow(table.select(["CustomerID", "Country"]))
    assert isinstance(frame, pl.DataFrame)
    first = frame.drop_nulls("CustomerID").group_by("CustomerID").agg(pl.col("Country").first())
    lookup = dict(zip(first["CustomerID"].to_list(), first["Country"].to_list(), strict=True))
    country = tuple(str(lookup.get(c) or "unknown") for c in features.customers)
    rng = rng if rng is not None else secure_rng()
    n = len(features)
    train = np.ones(n, dtype=bool)
    train[rng.permutation(n)[: max(1, math.floor(n * test_fraction))]] = False
    return ChurnData(
        features.customers, scale_declared(features.values), np.asarray(y, dtype=np.float32),
        country, train, features.values,
    )  # fmt: skip


def partition(data: Customers, how: Partition, *, clients: int | None = None) -> list[np.ndarray]:
    """Index arrays (into ``data``, training customers only), one per client.

    By country: one client per country, largest first; with ``clients`` the smallest
    countries beyond ``clients - 1`` are merged into one "rest of world" client. By
    customer: one client per training customer (``clients`` then caps how many exist,
    the first ones by id order).
    """
    if clients is not None and (isinstance(clients, bool) or clients < 1):
        raise ParameterError(f"--clients must be an int >= 1, got {clients!r}")
    rows = np.flatnonzero(data.train)
    if how is Partition.CUSTOMER:
        shards = [rows[i : i + 1] for i in range(len(rows))]
        return shards[:clients] if clients is not None else shards
    names = np.array(data.country)[rows]
    groups = [rows[names == c] for c in dict.fromkeys(names.tolist())]
    groups.sort(key=len, reverse=True)
    if clients is not None and len(groups) > clients:
        rest = np.sort(np.concatenate(groups[clients - 1 :]))
        groups = [*groups[: clients - 1], rest]
    return groups
