"""Implicit feedback: who bought (or rated) what, when, indexed for recommenders.

An :class:`Interactions` holds one event per row as integer indexes into fixed user and
item vocabularies, so a training and a test window cut from the same data share indexes
(:func:`temporal_split`). :func:`load_interactions` reads a transaction file in the Online
Retail layout (or any table with a customer, an item and a time column, detected from
names and values), or a MovieLens folder.

The item vocabulary is either the public :class:`~shopveil.learn.Catalogue` the caller
passes (purchases of items it does not list are dropped) or, without one, the items
found in the purchases. A private model releases arrays indexed by item, so it fits
only on a catalogue's vocabulary (:func:`require_catalogue`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from shopveil.errors import ParameterError, SchemaError
from shopveil.learn._catalogue import ITEM_NAMES, Catalogue, find_column, id_strings

__all__ = [
    "Interactions",
    "from_table",
    "load_interactions",
    "purchases_only",
    "require_catalogue",
    "temporal_split",
]

_USER_NAMES = ("customerid", "customer_id", "customer", "user_id", "userid", "user")
_TIME_NAMES = ("invoicedate", "invoice_date", "timestamp", "time", "event_time", "date")


@dataclass(frozen=True)
class Interactions:
    """Events ``(user, item, time)`` over fixed vocabularies.

    Parameters
    ----------
    users, items
        Per event, the index into ``user_ids`` / ``item_ids`` (int32).
    times
        Per event, ``datetime64[us]``.
    user_ids, item_ids
        The external ids, as strings; shared by every window cut from the same data.
    catalogue
        The public catalogue the item vocabulary is (``item_ids`` equals its ids), or
        None when the vocabulary was taken from the events themselves.
    """

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    user_ids: np.ndarray = field(repr=False)
    item_ids: np.ndarray = field(repr=False)
    catalogue: Catalogue | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.users)
        if not (len(self.items) == len(self.times) == n):
            raise ParameterError("users, items and times must have the same length")
        if n and (self.users.max() >= len(self.user_ids) or self.items.max() >= len(self.item_ids)):
            raise ParameterError("an index is outside its vocabulary")
        if self.catalogue is not None and not (
            self.catalogue.item_ids is self.item_ids
            or np.array_equal(self.catalogue.item_ids, self.item_ids)
        ):
            raise ParameterError(
                "item_ids must be the catalogue's item ids; index the events with "
                "Interactions.on_catalogue(catalogue)"
            )

    @property
    def item_text(self) -> tuple[str, ...] | None:
        """Per item, its public text from the catalogue; None without one (or without texts).

        Texts come from the declared catalogue only, never from purchase rows.
        """
        return None if self.catalogue is None else self.catalogue.texts

    @property
    def n_users(self) -> int:
        """The number of customers (rows of the matrix)."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """The number of items (columns of the matrix)."""
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        """The first and last event time, or None when there are no events."""
        if not len(self):
            return None
        first, last = self.times.min(), self.times.max()
        return (first.astype("datetime64[us]").item(), last.astype("datetime64[us]").item())

    def matrix(self) -> sparse.csr_matrix:
        """The binary user × item matrix: 1 where the user has any event with the item."""
        m = self.counts()
        m.data[:] = 1.0
        return m

    def counts(self) -> sparse.csr_matrix:
        """The user × item matrix of event counts (how often each user bought each item)."""
        m = sparse.csr_matrix(
            (np.ones(len(self), dtype=np.float32), (self.users, self.items)),
            shape=(self.n_users, self.n_items),
        )
        m.sum_duplicates()
        return m

    def active_users(self) -> np.ndarray:
        """Indexes of users with at least one event, sorted."""
        return np.unique(self.users)

    def of_users(self, keep: np.ndarray) -> Interactions:
        """The events of the users where ``keep`` (one bool per user id) is True."""
        mask = np.asarray(keep, dtype=bool)[self.users]
        return Interactions(
            self.users[mask],
            self.items[mask],
            self.times[mask],
            self.user_ids,
            self.item_ids,
            self.catalogue,
        )

    def between(self, start: datetime | None, end: datetime | None) -> Interactions:
        """The events with ``start <= time < end`` (either end open), same vocabularies."""
        keep = np.ones(len(self), dtype=bool)
        if start is not None:
            keep &= self.times >= np.datetime64(start, "us")
        if end is not None:
            keep &= self.times < np.datetime64(end, "us")
        return Interactions(
            self.users[keep],
            self.items[keep],
            self.times[keep],
            self.user_ids,
            self.item_ids,
            self.catalogue,
        )

    def on_catalogue(self, catalogue: Catalogue) -> Interactions:
        """The same events indexed by ``catalogue``'s items; events of items it does not
        list are dropped (a rule on each event alone, so it costs no privacy)."""
        position = catalogue.index(self.item_ids)[self.items]
        keep = position >= 0
        return Interactions(
            self.users[keep],
            position[keep].astype(np.int32),
            self.times[keep],
            self.user_ids,
            catalogue.item_ids,
            catalogue,
        )


def require_catalogue(data: Interactions, what: str) -> Catalogue:
    """The public catalogue a private fit releases its item arrays over; refuse without one.

    Raises :class:`ParameterError` before anything is charged or computed.
    """
    if data.catalogue is None:
        raise ParameterError(
            f"{what} is private, and its item vocabulary taken from the purchases would "
            "reveal who bought a rare item: give the public product catalogue, "
            "load_interactions(..., catalogue=load_catalogue(FILE)) or --catalogue FILE"
        )
    return data.catalogue


def temporal_split(data: Interactions, at: datetime) -> tuple[Interactions, Interactions]:
    """Train on events before ``at``, test on events from ``at`` on."""
    return data.between(None, at), data.between(at, None)


def from_table(
    table: pa.Table,
    *,
    user: str,
    item: str,
    time: str,
    catalogue: Catalogue | None = None,
) -> Interactions:
    """Interactions from the named columns of an Arrow table; rows with a null are dropped.

    With ``catalogue`` the item vocabulary and texts are the catalogue's and rows of
    items it does not list are dropped; without one, the vocabulary is the items found
    and there are no texts.
    """
    for role, name in [("user", user), ("item", item), ("time", time)]:
        if name not in table.column_names:
            raise SchemaError(
                f"no {role} column {name!r}; the table has {', '.join(table.column_names)}"
            )
    table = table.select([user, item, time]).drop_null()
    times = table.column(time)
    if not pa.types.is_timestamp(times.type):
        try:
            times = pc.cast(times, pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"time column {time!r} does not hold timestamps") from exc
    user_ids, users = np.unique(id_strings(table.column(user)), return_inverse=True)
    item_ids, items = np.unique(id_strings(table.column(item)), return_inverse=True)
    data = Interactions(
        users.astype(np.int32),
        items.astype(np.int32),
        times.to_numpy().astype("datetime64[us]"),
        user_ids,
        item_ids,
    )
    if catalogue is None:
        return data
    if len(data) and not np.any(catalogue.index(item_ids) >= 0):
        raise SchemaError(
            f"the catalogue lists none of the items in column {item!r}; give the catalogue "
            "of this shop, with the same item ids"
        )
    return data.on_catalogue(catalogue)


def load_interactions(
    path: str | os.PathLike[str],
    *,
    user: str | None = None,
    item: str | None = None,
    time: str | None = None,
    catalogue: Catalogue | None = None,
) -> Interactions:
    """Read purchases (or ratings) from a file or a MovieLens folder.

    Online Retail files are understood as they are: rows without a customer and
    cancellations (invoice numbers starting with ``C``, quantities ≤ 0) are dropped.
    Columns are found by name unless ``user`` / ``item`` / ``time`` name them.
    ``catalogue`` is the public item list (:func:`~shopveil.learn.load_catalogue`); a
    private model needs one. A MovieLens folder brings its own: the films of ``u.item``
    with their titles and genres.
    """
    from shopveil.data import load_movielens, read_table

    path = Path(path)
    if path.is_dir() or path.name == "u.data":
        movielens = load_movielens(path if path.is_dir() else path.parent)
        films = catalogue or Catalogue.from_table(_film_texts(movielens.items), text="text")
        return from_table(
            movielens.ratings, user="user", item="item", time="timestamp", catalogue=films
        )
    table = purchases_only(read_table(path))
    names = table.column_names
    return from_table(
        table,
        user=user or find_column(names, _USER_NAMES, "user", "--user COLUMN"),
        item=item or find_column(names, ITEM_NAMES, "item", "--item COLUMN"),
        time=time or find_column(names, _TIME_NAMES, "time", "--time COLUMN"),
        catalogue=catalogue,
    )


def _film_texts(items: pa.Table) -> pa.Table:
    """A film's public text: its title and its genre names."""
    rows = items.select(["title", "genres"]).to_pylist()
    texts = [" ".join([r["title"] or "", *(r["genres"] or ())]) for r in rows]
    return pa.table({"item": items.column("item"), "text": texts})


def purchases_only(table: pa.Table) -> pa.Table:
    """Drop cancellations (invoice numbers starting with ``C``) and quantities <= 0."""
    names = {n.lower(): n for n in table.column_names}
    if "quantity" in names:
        qty = pc.cast(table.column(names["quantity"]), pa.float64(), safe=False)
        table = table.filter(pc.fill_null(pc.greater(qty, 0), False))
    if "invoiceno" in names:
        invoice = pc.cast(table.column(names["invoiceno"]), pa.string())
        table = table.filter(pc.invert(pc.fill_null(pc.starts_with(invoice, "C"), False)))
    return table
