"""A trained model's top-k for named customers, from each customer's own purchases.

User-side mode: the model file holds only what training released (item statistics,
item factors) and the public catalogue's item ids and texts; a customer's list is
computed from that and from the customer's **own** history, read from a purchases file
the caller gives. Nothing about anyone else is read, so recommending spends no budget.

Customer ids are compared in their canonical form (:mod:`shopveil._core.subjects`):
``17850``, ``"17850"`` and ``"17850.0"`` are one customer. A customer with no purchases
in the history gets the model's ranking for a new customer (popular items) and is marked
``known=False``; that is a note, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import sparse

from shopveil._core.subjects import canonical_id, canonical_ids
from shopveil.errors import ParameterError
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._evaluate import history_matrix
from shopveil.learn._interactions import Interactions, load_interactions
from shopveil.learn._metrics import top_k
from shopveil.learn._model_file import ModelFile
from shopveil.learn._recommender import FittedRecommender

__all__ = ["CustomerList", "Pick", "history_of", "load_history", "model_catalogue", "recommend"]


@dataclass(frozen=True)
class Pick:
    """One recommended item: its rank (1 is best), its id and its public description."""

    rank: int
    item: str
    description: str | None


@dataclass(frozen=True)
class CustomerList:
    """One customer's recommendations.

    ``known`` is False when the history holds no purchase of theirs (of an item the
    model knows): the list is then the model's ranking for a new customer.
    """

    customer: str
    known: bool
    purchases: int
    items: tuple[Pick, ...]

    def to_dict(self) -> dict[str, object]:
        """The list as plain JSON-ready values."""
        return {
            "customer": self.customer,
            "known": self.known,
            "purchases": self.purchases,
            "items": [
                {"rank": p.rank, "item": p.item, "description": p.description} for p in self.items
            ],
        }


def model_catalogue(file: ModelFile, catalogue: Catalogue | None = None) -> Catalogue:
    """The model's item vocabulary, with the public descriptions saved with it.

    A model file written before descriptions were saved (or trained without a
    catalogue) has none; ``catalogue`` then names its items where it lists them.
    """
    ids = np.asarray(file.arrays["item_ids"]).astype(str)
    texts = file.arrays.get("item_texts")
    if texts is not None:
        return Catalogue(ids, tuple(str(t) for t in texts))
    if catalogue is None or catalogue.texts is None:
        return Catalogue(ids)
    at = catalogue.index(ids)
    return Catalogue(ids, tuple(catalogue.texts[i] if i >= 0 else "" for i in at))


def load_history(
    path: str | os.PathLike[str],
    catalogue: Catalogue,
    *,
    user: str | None = None,
    item: str | None = None,
    time: str | None = None,
) -> Interactions:
    """Purchases from ``path`` on the model's vocabulary; items it does not know are dropped."""
    return load_interactions(Path(path), user=user, item=item, time=time).on_catalogue(catalogue)


def history_of(
    customer: object, events: Sequence[tuple[str, datetime]], catalogue: Catalogue
) -> Interactions:
    """One customer's own events ``(item, time)`` as a history for :func:`recommend`.

    Items the catalogue does not list are dropped; times must carry a time zone.
    """
    ids = np.asarray([item for item, _ in events], dtype=str)
    at = catalogue.index(ids) if len(ids) else np.array([], dtype=np.int64)
    keep = at >= 0
    times = np.array(
        [np.datetime64(t.astimezone(UTC).replace(tzinfo=None), "us") for _, t in events],
        dtype="datetime64[us]",
    )
    return Interactions(
        np.zeros(int(keep.sum()), dtype=np.int32),
        at[keep].astype(np.int32),
        times[keep] if len(times) else times,
        np.array([canonical_id(customer)], dtype=str),
        catalogue.item_ids,
        catalogue,
    )


def recommend(
    model: FittedRecommender,
    catalogue: Catalogue,
    customers: Sequence[object],
    *,
    history: Interactions | None = None,
    k: int = 10,
    new_only: bool = False,
) -> list[CustomerList]:
    """Each customer's top ``k`` items from ``model``, scored from their own ``history``.

    ``history`` must be indexed by ``catalogue`` (:func:`load_history`). With
    ``new_only`` the items a customer bought are left out of their list.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be an int >= 1, got {k!r}; e.g. --k 10")
    if not customers:
        raise ParameterError("name at least one customer, e.g. --customer 17850")
    wanted = list(dict.fromkeys(canonical_id(c) for c in customers))  # one list per person
    n_items = len(catalogue)
    rows = _rows_of(history, wanted, n_items, model)
    scores = np.asarray(model.scores(np.arange(len(wanted)), rows), dtype=np.float64)
    if scores.shape != (len(wanted), n_items):
        raise ParameterError(
            f"the model scores {scores.shape[1]} items but its file lists {n_items}; "
            "the model file is damaged"
        )
    scores = np.where(np.isnan(scores), -np.inf, scores)
    if new_only and rows.nnz:
        scores[rows.nonzero()] = -np.inf
    lists = top_k(scores, k)
    texts = catalogue.texts
    out = []
    for i, customer in enumerate(wanted):
        picks = tuple(
            Pick(rank + 1, str(catalogue.item_ids[j]), texts[j] if texts is not None else None)
            for rank, j in enumerate(lists[i])
            if j >= 0 and np.isfinite(scores[i, j])
        )
        bought = rows[i].nnz
        out.append(CustomerList(customer, bought > 0, bought, picks))
    return out


def _rows_of(
    history: Interactions | None, wanted: list[str], n_items: int, model: FittedRecommender
) -> sparse.csr_matrix:
    """One history row per wanted customer: the sum over the spellings of their id."""
    if history is None:
        return sparse.csr_matrix((len(wanted), n_items), dtype=np.float64)
    if history.n_items != n_items:
        raise ParameterError("the history is not on the model's items; load it with load_history")
    # Ids that are no one's come out null and match no one.
    spelled = canonical_ids(pa.array(np.asarray(history.user_ids, dtype=str))).to_pylist()
    row_of = {customer: i for i, customer in enumerate(wanted)}
    found = [(row_of[c], user) for user, c in enumerate(spelled) if c in row_of]
    rows, users = zip(*found, strict=True) if found else ((), ())
    pick = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, users)), shape=(len(wanted), history.n_users)
    )
    matrix = history_matrix(history, getattr(model, "history_half_life_days", None))
    return sparse.csr_matrix(pick @ matrix)
