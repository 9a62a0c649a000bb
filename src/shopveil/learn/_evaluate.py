"""Offline evaluation on a temporal split: train earlier, test later, two passes.

- **all purchases**: the relevant items are a customer's distinct test items; every item
  may be recommended, including ones they bought in training (repeat purchases count).
- **new items**: the relevant items are the test items the customer had not bought in
  training, and their training items are removed from the ranking.

Evaluated customers are those with at least one test purchase. A customer with no
training history ("cold") is scored from an empty history row (models fall back to
popularity) and counted in ``cold_users``; test items nobody bought in training can be
relevant (they are misses for most models) and are counted in ``unseen_items``. Metric
definitions are in :mod:`shopveil.learn._metrics` (Recall@k is capped at
``min(k, |relevant|)``). Users are scored in batches, so memory stays at
``batch × items`` floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from scipy import sparse

from shopveil.errors import ParameterError
from shopveil.learn._interactions import Interactions
from shopveil.learn._metrics import (
    catalogue_coverage,
    intra_list_diversity,
    item_self_information,
    novelty,
    ranking_scores,
    top_k,
)
from shopveil.learn._recommender import FittedRecommender

__all__ = ["Evaluation", "align", "evaluate", "history_matrix"]


@dataclass(frozen=True)
class PassResult:
    """The averages of one evaluation pass."""

    recall: float
    ndcg: float
    map: float
    coverage: float
    diversity: float
    novelty: float
    users: int


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measured; :meth:`as_dict` is the CLI's JSON object."""

    model: str
    k: int
    all: PassResult
    new: PassResult
    epsilon: float | None
    delta: float | None
    cold_users: int
    unseen_items: int

    def as_dict(self) -> dict[str, Any]:
        """The contract keys (``recall@20`` …, ``recall@20_new`` …) plus the extras."""
        k = self.k
        out: dict[str, Any] = {"model": self.model, "k": k}
        for suffix, result in (("", self.all), ("_new", self.new)):
            out[f"recall@{k}{suffix}"] = _finite(result.recall)
            out[f"ndcg@{k}{suffix}"] = _finite(result.ndcg)
            out[f"map@{k}{suffix}"] = _finite(result.map)
        out["coverage"] = self.all.coverage
        out["coverage_new"] = self.new.coverage
        out["diversity"] = _finite(self.all.diversity)
        out["diversity_new"] = _finite(self.new.diversity)
        out["novelty"] = _finite(self.all.novelty)
        out["novelty_new"] = _finite(self.new.novelty)
        out["epsilon"] = self.epsilon
        out["delta"] = self.delta
        out["users"] = self.all.users
        out["users_new"] = self.new.users
        out["cold_users"] = self.cold_users
        out["unseen_items"] = self.unseen_items
        return out


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def history_matrix(
    train: Interactions, half_life_days: float | None = None, *, end: datetime | None = None
) -> sparse.csr_matrix:
    """Each user's own training items: purchase counts, or recency-weighted counts.

    With ``half_life_days``, a purchase made ``a`` days before the end of training
    weighs ``0.5^(a / half_life_days)`` and an item's value is the sum over its purchases.
    The end is ``end`` when given (a public date), else the last purchase in ``train``.
    """
    if half_life_days is None or not len(train):
        return train.counts()
    last = np.datetime64(end, "us") if end is not None else train.times.max()
    age_days = (last - train.times).astype("timedelta64[s]").astype(np.float64) / 86400.0
    age_days = np.maximum(age_days, 0.0)  # a purchase after ``end`` weighs as one at it
    weights = np.power(0.5, age_days / half_life_days)
    m = sparse.csr_matrix(
        (weights, (train.users, train.items)), shape=(train.n_users, train.n_items)
    )
    m.sum_duplicates()
    return m


def evaluate(
    fitted: FittedRecommender,
    train: Interactions,
    test: Interactions,
    *,
    k: int = 20,
    batch_size: int = 1024,
) -> Evaluation:
    """Evaluate ``fitted`` (fitted on ``train``) on the purchases in ``test``.

    ``train`` and ``test`` must share vocabularies (cut them from one
    :class:`Interactions` with :func:`temporal_split`, or :func:`align` them).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be an int >= 1, got {k!r}")
    if train.n_items != test.n_items or train.n_users != test.n_users:
        raise ParameterError(
            "train and test use different vocabularies; cut both from one dataset "
            "(temporal_split) or align them first (shopveil.learn.align)"
        )
    train_m = train.matrix()
    history = history_matrix(train, getattr(fitted, "history_half_life_days", None))
    test_m = test.matrix()
    users = test.active_users()
    self_info = item_self_information(train_m)
    n_items = train.n_items
    parts: dict[str, list[np.ndarray]] = {key: [] for key in _PART_KEYS}
    lists_all: list[np.ndarray] = []
    lists_new: list[np.ndarray] = []
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        seen = train_m[batch]
        scores = np.asarray(fitted.scores(batch, history[batch]), dtype=np.float64)
        if scores.shape != (len(batch), n_items):
            raise ParameterError(
                f"{fitted.name}.scores returned shape {scores.shape}, "
                f"expected {(len(batch), n_items)}"
            )
        scores = np.where(np.isnan(scores), -np.inf, scores)
        relevant = test_m[batch]
        new_relevant = relevant - relevant.multiply(seen)
        new_relevant.eliminate_zeros()
        for suffix, lists, rel in (
            ("", top_k(scores, k), relevant),
            ("_new", top_k(scores, k, exclude=seen), new_relevant),
        ):
            result = ranking_scores(lists, rel, k)
            keep = ~np.isnan(result.recall)
            parts["recall" + suffix].append(result.recall[keep])
            parts["ndcg" + suffix].append(result.ndcg[keep])
            parts["map" + suffix].append(result.ap[keep])
            parts["diversity" + suffix].append(intra_list_diversity(lists[keep], train_m))
            parts["novelty" + suffix].append(novelty(lists[keep], self_info))
            (lists_all if suffix == "" else lists_new).append(lists[keep])
    privacy = fitted.privacy
    return Evaluation(
        model=fitted.name,
        k=k,
        all=_summary(parts, "", lists_all, n_items),
        new=_summary(parts, "_new", lists_new, n_items),
        epsilon=privacy.epsilon if privacy is not None else None,
        delta=privacy.delta if privacy is not None else None,
        cold_users=int((np.diff(train_m.indptr)[users] == 0).sum()),
        unseen_items=int(np.setdiff1d(np.unique(test.items), np.unique(train.items)).size),
    )


_PART_KEYS = tuple(
    f"{name}{suffix}"
    for name in ("recall", "ndcg", "map", "diversity", "novelty")
    for suffix in ("", "_new")
)


def _summary(
    parts: dict[str, list[np.ndarray]], suffix: str, lists: list[np.ndarray], n_items: int
) -> PassResult:
    def mean(name: str) -> float:
        values = np.concatenate(parts[name + suffix]) if parts[name + suffix] else np.empty(0)
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else math.nan

    joined = np.concatenate(lists) if lists else np.empty((0, 0), dtype=np.int64)
    return PassResult(
        recall=mean("recall"),
        ndcg=mean("ndcg"),
        map=mean("map"),
        coverage=catalogue_coverage(joined, n_items),
        diversity=mean("diversity"),
        novelty=mean("novelty"),
        users=int(sum(len(x) for x in lists)),
    )


def align(train: Interactions, test: Interactions) -> tuple[Interactions, Interactions]:
    """Re-index two separately loaded files onto their union vocabularies.

    Two files loaded on the same catalogue keep it (their item vocabularies are it);
    otherwise the union of their items has no catalogue.
    """
    user_ids = np.union1d(train.user_ids, test.user_ids)
    same = train.catalogue is not None and train.catalogue.same_as(test.catalogue)
    catalogue = train.catalogue if same else None
    item_ids = (
        catalogue.item_ids if catalogue is not None else np.union1d(train.item_ids, test.item_ids)
    )

    def remap(data: Interactions) -> Interactions:
        return Interactions(
            np.searchsorted(user_ids, data.user_ids)[data.users].astype(np.int32),
            np.searchsorted(item_ids, data.item_ids)[data.items].astype(np.int32),
            data.times,
            user_ids,
            item_ids,
            catalogue,
        )

    return remap(train), remap(test)
