"""A small categorical naive Bayes that learns from generalized records.

A generalized value (an interval, a group of values, ``*``) spreads its record uniformly
over the original values it covers, so the model lives on the original domain and is
tested directly on held-out original rows. No new dependency: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Cover", "naive_bayes_accuracy"]

_ALPHA = 1.0  # Laplace smoothing


@dataclass(frozen=True, eq=False)
class Cover:
    """Which original values each training record's generalized value covers.

    ``group[r]`` is record ``r``'s group. A group covers either the codes
    ``lo[g] .. hi[g]`` (ranges) or the codes ``leaf[i]`` of every pair with
    ``pair_group[i] == g`` (pairs).
    """

    group: np.ndarray
    domain: int
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    pair_group: np.ndarray | None = None
    leaf: np.ndarray | None = None

    @classmethod
    def identity(cls, codes: np.ndarray, domain: int) -> Cover:
        values = np.arange(domain, dtype=np.int64)
        return cls(codes, domain, lo=values, hi=values)

    def n_groups(self) -> int:
        if self.lo is not None:
            return len(self.lo)
        assert self.pair_group is not None
        return int(self.pair_group.max()) + 1 if len(self.pair_group) else 0

    def spread(self, weights: np.ndarray) -> np.ndarray:
        """Spread per-group weights uniformly over the covered original values."""
        if self.lo is not None and self.hi is not None:
            per = weights / (self.hi - self.lo + 1)
            diff = np.zeros(self.domain + 1)
            np.add.at(diff, self.lo, per)
            np.add.at(diff, self.hi + 1, -per)
            return np.cumsum(diff)[: self.domain]
        assert self.pair_group is not None and self.leaf is not None
        sizes = np.bincount(self.pair_group, minlength=len(weights))
        per = weights[self.pair_group] / sizes[self.pair_group]
        return np.bincount(self.leaf, weights=per, minlength=self.domain)


def naive_bayes_accuracy(
    train: Sequence[Cover],
    train_y: np.ndarray,
    test_x: Sequence[np.ndarray],
    test_y: np.ndarray,
    n_labels: int,
) -> float:
    """Accuracy on ``(test_x, test_y)`` of naive Bayes fitted on generalized ``train``."""
    if len(test_y) == 0:
        return float("nan")
    prior = np.bincount(train_y, minlength=n_labels) + _ALPHA
    score = np.tile(np.log(prior / prior.sum()), (len(test_y), 1))
    for cover, codes in zip(train, test_x, strict=True):
        groups = cover.n_groups()
        weights = np.bincount(train_y * groups + cover.group, minlength=n_labels * groups)
        weights = weights.reshape(n_labels, groups).astype(np.float64)
        counts = np.stack([cover.spread(weights[y]) for y in range(n_labels)])
        counts += _ALPHA
        log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
        score += log_p[:, codes].T
    predicted = np.argmax(score, axis=1)
    return float(np.mean(predicted == test_y))
