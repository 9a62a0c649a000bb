"""One customer's list at a time, from a model loaded once: what a live service answers.

:func:`recommend` serves batches read from files: it canonicalizes every id, builds a
selection matrix and the whole history's matrix per call. A service asks for one
customer at a time, with a handful of their own recent events, many times a second.
:class:`ServedRecommender` keeps what does not change between calls (the item index,
the model's weighting of history, the list for a customer without history) and builds
the customer's one history row directly. Its lists are :func:`recommend`'s for the same
events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from scipy import sparse

from shopveil._core.subjects import canonical_id
from shopveil.errors import ParameterError
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._metrics import top_k
from shopveil.learn._recommend import CustomerList, Pick
from shopveil.learn._recommender import FittedRecommender

__all__ = ["ServedRecommender"]


class ServedRecommender:
    """``model`` over ``catalogue``, answering one customer's own events per call.

    Parameters
    ----------
    model, catalogue
        A fitted recommender and the item catalogue it was saved with
        (:func:`load_recommender`, :func:`model_catalogue`).
    """

    def __init__(self, model: FittedRecommender, catalogue: Catalogue) -> None:
        self.model = model
        self.catalogue = catalogue
        self._n = len(catalogue)
        self._position = {str(item): i for i, item in enumerate(catalogue.item_ids)}
        self._half_life: float | None = getattr(model, "history_half_life_days", None)
        empty = sparse.csr_matrix((1, self._n), dtype=np.float64)
        self._cold = self._ranked(self._scores(empty), self._n)

    def index(self, items: Sequence[str]) -> list[int]:
        """Each item's position in the catalogue, -1 for an item it does not list."""
        return [self._position.get(item, -1) for item in items]

    def recommend(
        self, customer: object, events: Sequence[tuple[str, datetime]], *, k: int = 10
    ) -> CustomerList:
        """The customer's top ``k`` from their own ``events`` ``(item, time)``.

        Items the catalogue does not list are ignored; times must carry a time zone.
        Without a known item the list is the model's list for a new customer.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ParameterError(f"k must be an int >= 1, got {k!r}; e.g. k=10")
        name = canonical_id(customer)
        row = self._row(events)
        if not row.nnz:
            return CustomerList(name, False, 0, self._picks(self._cold, k))
        ranked = self._ranked(self._scores(row), k)
        return CustomerList(name, True, row.nnz, self._picks(ranked, k))

    def _row(self, events: Sequence[tuple[str, datetime]]) -> sparse.csr_matrix:
        """The history row :func:`recommend` builds: counts, or recency-weighted counts
        with ages counted back from the customer's latest event."""
        known = [(p, at) for p, at in ((self._position.get(i, -1), t) for i, t in events) if p >= 0]
        if any(at.tzinfo is None for _, at in known):
            raise ParameterError("an event's time needs a time zone, e.g. 2026-12-07T10:00:00Z")
        if not known:
            return sparse.csr_matrix((1, self._n), dtype=np.float64)
        items = np.array([p for p, _ in known], dtype=np.int32)
        if self._half_life is None:
            values = np.ones(len(items), dtype=np.float32)
        else:
            micros = np.array([_micros(at) for _, at in known], dtype=np.int64)
            seconds = (micros.max() - micros) // 1_000_000  # whole seconds, as recommend's
            values = np.power(0.5, seconds.astype(np.float64) / 86400.0 / self._half_life)
        row = sparse.csr_matrix(
            (values, (np.zeros(len(items), dtype=np.int32), items)), shape=(1, self._n)
        )
        row.sum_duplicates()
        return row

    def _scores(self, row: sparse.csr_matrix) -> np.ndarray:
        scores = np.asarray(self.model.scores(np.arange(1), row), dtype=np.float64)
        if scores.shape != (1, self._n):
            raise ParameterError(
                f"the model scores {scores.shape[-1]} items but its file lists {self._n}; "
                "the model file is damaged"
            )
        return np.where(np.isnan(scores), -np.inf, scores)

    def _ranked(self, scores: np.ndarray, k: int) -> list[int]:
        """The top ``k`` items with a finite score, best first (ties to the lower index)."""
        order = top_k(scores, k)[0]
        return [int(j) for j in order if np.isfinite(scores[0, j])]

    def _picks(self, ranked: list[int], k: int) -> tuple[Pick, ...]:
        texts = self.catalogue.texts
        ids = self.catalogue.item_ids
        return tuple(
            Pick(rank + 1, str(ids[j]), texts[j] if texts is not None else None)
            for rank, j in enumerate(ranked[:k])
        )


def _micros(at: datetime) -> int:
    """Microseconds since the epoch, as ``datetime64[us]`` counts them (UTC, no zone)."""
    return int(np.datetime64(at.astimezone(UTC).replace(tzinfo=None), "us").astype(np.int64))
