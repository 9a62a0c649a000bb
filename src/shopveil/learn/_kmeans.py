"""DP k-means segmentation of customers on bounded RFM features (Lloyd's algorithm, noisy).

Features are mapped into the unit box with the declared caps
(:func:`~shopveil.learn._features.unit_scaled`) and centred, so one customer is a point
``z`` in ``[-1/2, 1/2]^d`` with ``‖z‖₂ ≤ √d / 2``. Each iteration assigns customers to
the nearest centroid and releases, per cluster, a noisy count (L2 sensitivity 1: one
customer moves one count) and a noisy coordinate sum (L2 sensitivity ``√d / 2``) with
shopveil's exact discrete Gaussian (:func:`~shopveil.dp.gaussian_for`).
The new centroid is the noisy sum over the noisy count, clamped into the box; a cluster
whose noisy count is below one keeps its centroid. The first centroids are drawn
uniformly within ``spread`` of the noisy mean of all customers (one more noisy count and
sum, round 0): seeds drawn from the whole box mostly see no customer and stay empty.

Budget: ``ZCDP(ρ)`` split evenly over the ``iterations + 1`` rounds and, within one,
``count_share`` to the counts and the rest to the sums; zCDP composes by addition. The whole ρ is
charged on the ledger before the first assignment. Everything released (every
iteration's centroids) is covered; the unit is one customer (one row per customer).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from shopveil._core.budgets import ZCDP
from shopveil._core.rng import secure_rng
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger, Measurement, gaussian_for
from shopveil.dp.hazmat import RandomBits, as_bits, compose_zcdp
from shopveil.errors import ParameterError
from shopveil.learn._charging import CUSTOMER, charge_customers, consenting
from shopveil.learn._features import FEATURE_CAPS, CustomerFeatures, unit_scaled
from shopveil.learn._model_file import PrivacyMetadata, load_model, save_model

__all__ = ["DPKMeansConfig", "KMeansModel", "dp_kmeans", "kmeans_measurements"]


@dataclass(frozen=True)
class DPKMeansConfig:
    """How many segments, how many noisy iterations, and the budget they share.

    Parameters
    ----------
    clusters
        Number of segments k.
    budget
        ``ZCDP(ρ)`` for the whole run.
    iterations
        Noisy Lloyd iterations; fewer iterations leave more budget to each.
    count_share
        Share of each round's ρ spent on the counts (the rest on the sums).
    spread
        Half-width of the box, around the noisy mean, the first centroids are drawn from.
    """

    clusters: int
    budget: ZCDP
    iterations: int = 5
    count_share: float = 0.2
    spread: float = 0.1

    def __post_init__(self) -> None:
        for name in ("clusters", "iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.budget, ZCDP) or self.budget.rho <= 0:
            raise ParameterError(f"budget must be ZCDP with rho > 0, got {self.budget!r}")
        share = self.count_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
            raise ParameterError(f"count_share must be in (0, 1), got {share!r}")
        spread = self.spread
        if isinstance(spread, bool) or not isinstance(spread, int | float) or not 0 <= spread <= 1:
            raise ParameterError(f"spread must be in [0, 1], got {spread!r}")


@dataclass(frozen=True, eq=False)
class KMeansModel:
    """Segment centroids in the unit box of the scaled features, with privacy metadata."""

    centroids: np.ndarray
    names: tuple[str, ...]
    caps: np.ndarray
    privacy: PrivacyMetadata = field(repr=False)

    def scaled(self, features: CustomerFeatures) -> np.ndarray:
        """``features`` in the model's unit box."""
        if tuple(features.names) != self.names:
            raise ParameterError(
                f"features have columns {features.names}, model needs {self.names}"
            )
        return unit_scaled(features, dict(zip(self.names, self.caps.tolist(), strict=True)))

    def assign(self, features: CustomerFeatures) -> np.ndarray:
        """The segment of every customer."""
        return _nearest(self.scaled(features), self.centroids)

    def inertia(self, features: CustomerFeatures) -> float:
        """Sum of squared distances to the nearest centroid (in the unit box)."""
        points = self.scaled(features)
        distances = _squared_distances(points, self.centroids)
        return float(distances.min(axis=1).sum())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write centroids, caps and privacy metadata to one file."""
        save_model(
            path, kind="kmeans", arrays={"centroids": self.centroids, "caps": self.caps},
            privacy=self.privacy, config={"names": list(self.names)},
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KMeansModel:
        """Read a model written by :meth:`save`."""
        stored = load_model(path, kind="kmeans")
        return cls(
            stored.arrays["centroids"], tuple(stored.config["names"]),
            stored.arrays["caps"], stored.privacy,
        )  # fmt: skip


def kmeans_measurements(config: DPKMeansConfig, dims: int) -> tuple[Measurement, Measurement]:
    """The count and sum measurements of one round (each gets ρ / (iterations + 1))."""
    each = config.budget.rho / (config.iterations + 1)
    counts = gaussian_for(ZCDP(each * config.count_share), 1.0)
    sums = gaussian_for(
        ZCDP(each * (1 - config.count_share)),
        math.sqrt(dims) / 2,
        integer=False,
        changed_coordinates=dims,
    )
    return counts, sums


def dp_kmeans(
    features: CustomerFeatures,
    *,
    config: DPKMeansConfig,
    ledger: Ledger,
    dataset: str,
    request_id: str,
    unit: PerCustomer = CUSTOMER,
    caps: dict[str, float] | None = None,
    rng: np.random.Generator | None = None,
    subjects: SubjectFilter | None = None,
) -> KMeansModel:
    """Cluster customers with DP k-means, charging ``config.budget`` first.

    Parameters
    ----------
    features
        One row per customer.
    ledger, dataset, request_id, unit
        The account charged and the charge's id.
    caps
        Declared upper bounds per feature; :data:`FEATURE_CAPS` by default.
    rng
        Initial centroids and noise; the default is a CSPRNG.
    subjects
        The consent register's answer for personalization (segmentation is profiling):
        the customers it does not allow are removed first, never charged.

    Raises
    ------
    BudgetExceeded
        The ledger refused the charge; nothing was computed.
    PrivacyError
        ``request_id`` was charged before (one id pays for one run).
    """
    if not isinstance(config, DPKMeansConfig):
        raise ParameterError("config must be a DPKMeansConfig")
    caps = dict(caps if caps is not None else FEATURE_CAPS)
    dims = len(features.names)
    counts_m, sums_m = kmeans_measurements(config, dims)
    spent = compose_zcdp(
        [counts_m.map(1.0), sums_m.map(math.sqrt(dims) / 2)] * (config.iterations + 1)
    )
    if spent.rho > config.budget.rho * (1 + 1e-9):
        raise AssertionError(f"k-means would spend {spent}, more than {config.budget}")
    features = features.of_customers(consenting(subjects, features.customers))
    charge, keep = charge_customers(
        ledger, request_id, dataset, unit, config.budget, features.customers,
        what=f"dp k-means: k={config.clusters}, {config.iterations} iterations",
        subjects=subjects,
    )  # fmt: skip
    points = unit_scaled(features.of_customers(keep), caps) - 0.5
    source = rng if rng is not None else secure_rng()
    bits = as_bits(rng)
    # Round 0 releases the noisy mean of all customers; the first centroids are spread
    # around it (random points of the whole box mostly see no data and stay empty).
    noisy_mean = _noisy_means(points, np.zeros(len(points), np.int64), 1, counts_m, sums_m, bits)
    if noisy_mean is None:
        noisy_mean = np.zeros((1, dims))
    offsets = source.uniform(-config.spread, config.spread, size=(config.clusters, dims))
    centroids = np.clip(noisy_mean + offsets, -0.5, 0.5)
    for _ in range(config.iterations):
        nearest = _nearest(points, centroids)
        means = _noisy_means(points, nearest, config.clusters, counts_m, sums_m, bits)
        if means is not None:
            alive = ~np.isnan(means[:, 0])
            centroids[alive] = np.clip(means[alive], -0.5, 0.5)
    names = tuple(features.names)
    privacy = PrivacyMetadata(
        mechanism="dp-kmeans",
        budget=config.budget,
        unit=unit.key,
        window_start=features.window_start,
        window_end=features.window_end,
        dataset=charge.dataset,
        params={
            "clusters": config.clusters,
            "iterations": config.iterations,
            "count_share": config.count_share,
            "count_sigma": counts_m.scale,
            "sum_sigma": sums_m.scale,
            "request_id": request_id,
        },
    )
    cap_values = np.array([float(caps[n]) for n in names])
    return KMeansModel(centroids + 0.5, names, cap_values, privacy)


def _noisy_means(
    points: np.ndarray,
    nearest: np.ndarray,
    clusters: int,
    counts_m: Measurement,
    sums_m: Measurement,
    bits: RandomBits,
) -> np.ndarray | None:
    """Noisy sum over noisy count per cluster; NaN rows where the noisy count is < 1."""
    counts = np.bincount(nearest, minlength=clusters)
    sums = np.zeros((clusters, points.shape[1]))
    np.add.at(sums, nearest, points)
    noisy_counts = np.asarray(counts_m(counts, rng=bits), dtype=np.float64).reshape(clusters)
    noisy_sums = np.asarray(sums_m(sums, rng=bits), dtype=np.float64).reshape(sums.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = noisy_sums / noisy_counts[:, None]
    means[noisy_counts < 1] = np.nan
    return means if np.any(noisy_counts >= 1) else None


def _squared_distances(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return np.asarray(((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))


def _nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return np.asarray(_squared_distances(points, centroids).argmin(axis=1))
