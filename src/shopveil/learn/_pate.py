"""PATE knowledge distillation with a per-customer guarantee (Papernot et al. 2017, 2018).

Teachers are trained on disjoint customer shards: a keyed hash puts each customer (all
their rows) in exactly one shard, and adding or removing a customer moves no one else,
so one customer changes at most one teacher's vote. A shard that holds no customer
still has its teacher, which abstains (votes for nothing), so the number of teachers
released with the labels and stored with the student is the configured one, whatever
the data. The teachers label the student's
queries (public or unlabeled customers) through noisy aggregation
(:mod:`shopveil.learn._pate_aggregate`); the student trains on those labels only, so the
student is post-processing of the labels and costs nothing more.

What is charged
---------------
The ledger is charged the **data-independent** ε of the labels, before they leave
:func:`release_labels`. The data-dependent ε (Papernot et al. 2018, Thm 6) is usually far
smaller but is a function of the private votes; publishing it would need the
smooth-sensitivity release of that paper, which this module does not implement. It is
returned for the operator's eyes and never stored with the charge.

Sliding windows
---------------
Teachers of a window are trained on that window's data only. A window's release is one
ledger charge under a request id made from the model name and the window, with the labels
stored as the charge's answer: releasing the window again replays the stored labels and
spends nothing. A customer can appear in several windows, so windows do not compose in
parallel for a per-customer unit: every window charges the same (dataset, unit) account,
whose spending is the sum over windows, an upper bound on what any one customer has lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shopveil._core.budgets import ApproxDP
from shopveil._core.extras import from_extra
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.dp.hazmat import Rng
from shopveil.errors import ParameterError
from shopveil.learn._charging import charge_customers, consenting
from shopveil.learn._model_file import PrivacyMetadata, save_model
from shopveil.learn._pate_aggregate import Aggregate, GNMaxConfig, aggregate_votes

__all__ = [
    "Classifier",
    "LabelRelease",
    "Student",
    "Window",
    "assign_shards",
    "release_labels",
    "teacher_votes",
    "train_student",
    "train_teachers",
]


class Classifier(Protocol):
    """What PATE needs of a model: scikit-learn's ``fit`` and ``predict``."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


ClassifierFactory = Callable[[], Classifier]


def logistic_regression() -> Classifier:
    """The default teacher and student: scikit-learn's logistic regression."""
    with from_extra("ml"):
        from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=500)


@dataclass(frozen=True)
class Window:
    """The half-open data window ``[start, end)`` a release was made from."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.start, datetime) or not isinstance(self.end, datetime):
            raise ParameterError("window start and end must be datetimes")
        if self.start >= self.end:
            raise ParameterError(f"window start {self.start} must be before end {self.end}")

    @property
    def key(self) -> str:
        """A stable text key of the window, for the ledger."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def assign_shards(customers: Sequence[str], n_teachers: int, *, key: bytes) -> np.ndarray:
    """The teacher shard (0 … n_teachers − 1) of each row's customer, by keyed hash.

    A customer's rows all land in one shard, and a customer's shard does not depend on
    who else is in the data. ``key`` should be secret and fresh per release (e.g. 16
    bytes from the release's rng), so shard membership reveals nothing.
    """
    if isinstance(n_teachers, bool) or not isinstance(n_teachers, int) or n_teachers < 2:
        raise ParameterError(f"n_teachers must be an int >= 2, got {n_teachers!r}")
    if not isinstance(key, bytes) or len(key) < 16:
        raise ParameterError("key must be at least 16 random bytes")
    shard_of: dict[str, int] = {}
    out = np.empty(len(customers), dtype=np.int64)
    for row, customer in enumerate(customers):
        cid = str(customer)
        if cid not in shard_of:
            digest = hashlib.blake2b(cid.encode(), key=key[:64], digest_size=8).digest()
            shard_of[cid] = int.from_bytes(digest, "big") % n_teachers
        out[row] = shard_of[cid]
    return out


@dataclass(frozen=True)
class _Constant:
    """A teacher whose shard held one label only: it always votes that label."""

    label: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.label, dtype=np.int64)


def train_teachers(
    features: np.ndarray,
    labels: np.ndarray,
    shards: np.ndarray,
    n_teachers: int,
    factory: ClassifierFactory = logistic_regression,
) -> list[Any | None]:
    """One model per shard, each fitted on its shard's rows only.

    Always ``n_teachers`` entries: an empty shard's is None, a teacher that abstains
    (:func:`teacher_votes` counts no vote for it).
    """
    x, y = np.asarray(features, dtype=np.float64), np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y) or len(y) != len(shards):
        raise ParameterError("features, labels and shards must have one entry per row")
    teachers: list[Any | None] = []
    for shard in range(n_teachers):
        rows = shards == shard
        if not rows.any():
            teachers.append(None)
            continue
        present = np.unique(y[rows])
        if present.size == 1:
            teachers.append(_Constant(int(present[0])))
            continue
        model = factory()
        model.fit(x[rows], y[rows])
        teachers.append(model)
    return teachers


def teacher_votes(teachers: Sequence[Any | None], queries: np.ndarray, n_labels: int) -> np.ndarray:
    """Vote counts, shape (queries, labels): how many teachers chose each label (a None
    teacher abstains)."""
    votes = np.zeros((len(queries), n_labels), dtype=np.int64)
    rows = np.arange(len(queries))
    for teacher in teachers:
        if teacher is None:
            continue
        chosen = np.asarray(teacher.predict(queries)).astype(np.int64)
        if np.any((chosen < 0) | (chosen >= n_labels)):
            raise ParameterError(f"a teacher predicted a label outside 0..{n_labels - 1}")
        np.add.at(votes, (rows, chosen), 1)
    return votes


@dataclass(frozen=True, eq=False)
class LabelRelease:
    """Labels for one window's queries, as released (-1 where not answered).

    ``charged`` is what the ledger holds for the window (data-independent). On a replay
    (``replayed``) nothing new was spent and ``data_dependent`` is ``None``.
    """

    window: Window
    request_id: str
    labels: np.ndarray = field(repr=False)
    charged: ApproxDP
    n_teachers: int
    checked: int
    replayed: bool
    data_dependent: ApproxDP | None = None

    @property
    def answered(self) -> int:
        """How many queries got a label (the aggregate abstains on the others)."""
        return int(np.sum(self.labels >= 0))


def release_labels(
    ledger: Ledger,
    *,
    dataset: str,
    unit: PerCustomer,
    name: str,
    window: Window,
    features: np.ndarray,
    labels: np.ndarray,
    customers: Sequence[str],
    queries: np.ndarray,
    n_labels: int,
    config: GNMaxConfig,
    budget: ApproxDP,
    n_teachers: int,
    factory: ClassifierFactory = logistic_regression,
    rng: Rng = None,
    subjects: SubjectFilter | None = None,
) -> LabelRelease:
    """Noisy teacher labels for ``queries``, charged to the ledger before they are returned.

    Parameters
    ----------
    ledger, dataset, unit
        The account charged; every customer in ``customers`` pays ``budget`` from their
        own budget first, and those who cannot afford it teach nothing.
    name, window
        Name the release: the request id is derived from (dataset, unit, name, window),
        so the same window released again replays its stored labels at no cost.
    features, labels, customers
        The window's private rows: features, integer labels in ``0..n_labels-1``, and
        the customer of each row.
    queries
        The student's unlabeled feature rows (public data).
    config, budget, n_teachers, factory
        Aggregation noise, the most this release may spend, the number of shards and
        the teachers' model.
    rng
        Randomness for shard keys and noise; a CSPRNG by default.
    subjects
        The consent register's answer for personalization: rows of the customers it
        does not allow teach nothing and are never charged.

    Raises
    ------
    BudgetExceeded
        When ``budget`` does not fit in the account; no labels are computed.
    """
    q = np.asarray(queries, dtype=np.float64)
    digest = hashlib.sha256(np.ascontiguousarray(q).tobytes()).hexdigest()
    request_id = _request_id(dataset, unit, name, window)
    found = ledger.find(request_id, dataset, unit)
    if found is not None:
        return _replay(found.answer, found.cost, request_id, window, digest)
    y = np.asarray(labels)
    allowed = consenting(subjects, customers)
    if not allowed.all():
        features = np.asarray(features)[allowed]
        y, customers = y[allowed], [c for c, ok in zip(customers, allowed, strict=True) if ok]
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_labels):
        raise ParameterError(f"labels must be integers in 0..{n_labels - 1}")
    # The whole budget is charged up front: what the labels spend is not known before
    # they are computed, and a charge that depended on the votes would leak them.
    charge, keep = charge_customers(
        ledger, request_id, dataset, unit, budget, np.asarray(customers, dtype=object),
        what=f"PATE labels {name} {window.key}: {len(q)} queries, {n_teachers} teachers, "
        f"{_describe(config)}",
        subjects=subjects, replayable=True,
    )  # fmt: skip
    if charge.replayed:
        return _replay(charge.answer, charge.cost, request_id, window, digest)
    # The shard key is secret: a CSPRNG's unless an experiment passes a seeded generator.
    key = rng.bytes(32) if isinstance(rng, np.random.Generator) else secrets.token_bytes(32)
    kept = [c for c, k in zip(customers, keep, strict=True) if k]
    shards = assign_shards(kept, n_teachers, key=key)
    teachers = train_teachers(np.asarray(features)[keep], y[keep], shards, n_teachers, factory)
    votes = teacher_votes(teachers, q, n_labels)
    result: Aggregate = aggregate_votes(votes, config, budget, rng=rng)
    answer = {
        "queries_sha256": digest,
        "labels": result.labels.tolist(),
        "n_teachers": n_teachers,
        "checked": result.checked,
    }
    ledger.record_answer(request_id, json.dumps(answer))
    return LabelRelease(
        window, request_id, result.labels, budget, n_teachers,
        result.checked, False, result.dependent,
    )  # fmt: skip


def _request_id(dataset: str, unit: PerCustomer, name: str, window: Window) -> str:
    """Deterministic per (dataset, unit, name, window), and short enough for the ledger."""
    if not isinstance(name, str) or not name:
        raise ParameterError("name must be a non-empty string naming the model, e.g. 'churn'")
    parts = "\x1f".join((dataset, unit.key, name, window.key)).encode()
    return f"pate:{hashlib.sha256(parts).hexdigest()[:32]}"


def _replay(
    stored: str | None, cost: Any, request_id: str, window: Window, digest: str
) -> LabelRelease:
    if stored is None:
        raise ParameterError(f"request id {request_id!r} has no stored labels; use a new name")
    answer = json.loads(stored)
    if answer.get("queries_sha256") != digest:
        raise ParameterError(
            f"window {window.key} of this model was released for other queries; "
            "use the same queries, or a new model name"
        )
    charged = cost if isinstance(cost, ApproxDP) else ApproxDP(cost.epsilon, 0.0)
    labels = np.asarray(answer["labels"], dtype=np.int64)
    return LabelRelease(
        window, request_id, labels, charged, int(answer["n_teachers"]),
        int(answer["checked"]), True,
    )  # fmt: skip


def _describe(config: GNMaxConfig) -> str:
    if config.threshold is None:
        return f"GNMax sigma={config.sigma:g}"
    return (
        f"confident-GNMax sigma1={config.threshold_sigma:g} "
        f"T={config.threshold:g} sigma2={config.sigma:g}"
    )


@dataclass(frozen=True, eq=False)
class Student:
    """The released model: trained on public queries and their noisy labels only."""

    model: Any = field(repr=False)
    privacy: PrivacyMetadata

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The student's predicted labels for the rows of ``x``."""
        return np.asarray(self.model.predict(np.asarray(x, dtype=np.float64)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a linear student (``coef_``, ``intercept_``, ``classes_``) as a model file."""
        names = ("coef_", "intercept_", "classes_")
        if not all(hasattr(self.model, n) for n in names):
            raise ParameterError(
                "only linear students (coef_, intercept_, classes_) can be saved without "
                "pickle; use the default logistic regression"
            )
        arrays = {n.rstrip("_"): np.asarray(getattr(self.model, n)) for n in names}
        return save_model(path, kind="pate-student-linear", arrays=arrays, privacy=self.privacy)


def train_student(
    releases: Sequence[LabelRelease],
    queries: Sequence[np.ndarray],
    *,
    dataset: str,
    unit: PerCustomer,
    config: GNMaxConfig,
    factory: ClassifierFactory = logistic_regression,
) -> Student:
    """A student on every window's answered queries; old windows' labels are reused.

    Its budget is the sum of the windows' charged (ε, δ): they all charged one account.
    """
    if not releases or len(releases) != len(queries):
        raise ParameterError("give one query matrix per release, and at least one release")
    xs, ys = [], []
    for release, q in zip(releases, queries, strict=True):
        q = np.asarray(q, dtype=np.float64)
        if len(q) != len(release.labels):
            raise ParameterError(f"window {release.window.key}: queries and labels differ in size")
        mask = release.labels >= 0
        xs.append(q[mask])
        ys.append(release.labels[mask])
    x, y = np.concatenate(xs), np.concatenate(ys)
    if np.unique(y).size < 2:
        raise ParameterError(
            f"the student has {len(y)} labelled queries with fewer than 2 labels; "
            "raise the budget, lower the threshold, or give more queries"
        )
    model = factory()
    model.fit(x, y)
    spent = ApproxDP(
        float(sum(r.charged.epsilon for r in releases)),
        min(float(sum(r.charged.delta for r in releases)), 1 - 1e-15),
    )
    privacy = PrivacyMetadata(
        mechanism="pate-gnmax" if config.threshold is None else "pate-confident-gnmax",
        budget=spent,
        unit=unit.key,
        window_start=min(r.window.start for r in releases),
        window_end=max(r.window.end for r in releases),
        dataset=dataset,
        params={
            "sigma": config.sigma,
            "threshold": config.threshold,
            "threshold_sigma": config.threshold_sigma,
            "windows": len(releases),
            "teachers": max(r.n_teachers for r in releases),
            "labelled_queries": len(y),
            "charged": "data-independent",
        },
    )
    return Student(model, privacy)
