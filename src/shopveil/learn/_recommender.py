"""What every recommender is: a frozen config that fits to a :class:`FittedRecommender`.

A fitted recommender scores items for users from what is central (released statistics,
item factors) and from each user's **own** history, passed in at scoring time. That is
the user-side mode: a private model never releases per-user state; a customer's vector
is computed on request from their own purchases. ``privacy`` says what the fit spent
(None for a non-private model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import sparse

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.dp.hazmat import Rng
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._interactions import Interactions

__all__ = ["FitContext", "FittedRecommender", "NoSignalWarning", "Recommender"]


class NoSignalWarning(UserWarning):
    """A private release is mostly noise at this ε; the model fell back to simpler signals."""


@dataclass(frozen=True)
class FitContext:
    """Where a private fit charges its budget and draws its noise.

    Parameters
    ----------
    ledger
        The shared budget ledger; a private model charges it before anything is
        computed, and refuses to fit without one.
    dataset
        The ledger account's dataset name (the registered dataset the training data
        is, or the training file's stem).
    request_id
        Makes the charge idempotent: a retried fit is charged once.
    rng
        Noise source; None means a CSPRNG.
    unit
        Whose budget a fit spends: every customer in the training data pays the fit
        from their own budget, and those who cannot afford it are left out of it.
    """

    ledger: Ledger | None = None
    dataset: str = "interactions"
    request_id: str | None = None
    rng: Rng = None
    unit: PerCustomer = CUSTOMER


class FittedRecommender(Protocol):
    """A trained model: scores for users given their own histories."""

    @property
    def name(self) -> str:
        """The model's registry name."""

    @property
    def privacy(self) -> ApproxDP | None:
        """What fitting spent, per customer; None when the model is not private."""
        ...

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        """A ``len(users) × n_items`` float array; higher is better.

        ``history`` holds one row per entry of ``users``: how many times that user
        bought each item in training (``Interactions.counts()`` rows; 0 = never). It is
        the only per-user data a private model may use; treat nonzero as "bought" where
        counts do not matter.
        """
        ...


class Recommender(Protocol):
    """A model configuration (a frozen dataclass) that can be fitted."""

    def fit(self, train: Interactions, context: FitContext) -> FittedRecommender:
        """Fit on ``train``; a private model charges the context's ledger first."""
