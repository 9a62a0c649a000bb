"""The federated churn model: logistic regression in NumPy, trained locally by SGD.

Weights are one ``float64`` vector, the feature weights then the bias. Local training is
FedAvg's (``mu = 0``) or FedProx's (proximal term ``mu/2 ||w - w_global||²``).
:func:`per_customer_updates` trains one copy of the model per customer, vectorized: the
updates DP-FedAvg clips, one per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopveil.errors import ParameterError

__all__ = ["LocalTraining", "auc", "local_update", "per_customer_updates", "predict"]


@dataclass(frozen=True)
class LocalTraining:
    """A client's local optimization.

    Parameters
    ----------
    epochs
        Passes over the client's data per round.
    batch_size
        Examples per SGD step.
    learning_rate
        SGD step size.
    mu
        FedProx's proximal weight; 0 is FedAvg.
    """

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 0.5
    mu: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        if not 0 < self.learning_rate < np.inf:
            raise ParameterError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not 0 <= self.mu < np.inf:
            raise ParameterError(f"mu must be >= 0 (0 is FedAvg), got {self.mu!r}")


def predict(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Churn probability per row of ``x``."""
    logits = x @ weights[:-1] + weights[-1]
    return np.asarray(1 / (1 + np.exp(-logits)))


def _gradient(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    error = predict(w, x) - y
    return np.concatenate([x.T @ error, [error.sum()]]) / len(y)


def local_update(
    weights: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    training: LocalTraining,
    rng: np.random.Generator,
) -> np.ndarray:
    """The change to ``weights`` after local SGD on ``(x, y)``."""
    w = weights.copy()
    for _ in range(training.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), training.batch_size):
            batch = order[start : start + training.batch_size]
            step = _gradient(w, x[batch], y[batch]) + training.mu * (w - weights)
            w -= training.learning_rate * step
    return np.asarray(w - weights)


def per_customer_updates(
    weights: np.ndarray, x: np.ndarray, y: np.ndarray, training: LocalTraining
) -> np.ndarray:
    """One update per customer (row), each from local steps on that customer alone.

    ``training.epochs`` gradient steps on the customer's one example, from ``weights``.
    """
    w = np.broadcast_to(weights, (len(y), len(weights))).copy()
    for _ in range(training.epochs):
        error = 1 / (1 + np.exp(-(np.einsum("ij,ij->i", x, w[:, :-1]) + w[:, -1]))) - y
        step = np.concatenate([x * error[:, None], error[:, None]], axis=1)
        w -= training.learning_rate * (step + training.mu * (w - weights))
    return np.asarray(w - weights)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN with one class only."""
    labels = np.asarray(labels) > 0.5
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = np.asarray(scores)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2
    ranks[order] = np.repeat(average, counts)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))
