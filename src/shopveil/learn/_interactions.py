"""Implicit feedback: who bought (or rated) what, when, indexed for recommenders.

An :class:`Interactions` holds one event per row as integer indexes into fixed user and
item vocabularies, so a training and a test window cut from the same data share indexes
(:func:`temporal_split`). :func:`load_interactions` reads a transaction file in the Online
Retail layout (or any table with a customer, an item and a time column, detected from
names and values), or a MovieLens folder.
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

__all__ = ["Interactions", "from_table", "load_interactions", "purchases_only", "temporal_split"]

_USER_NAMES = ("customerid", "customer_id", "customer", "user_id", "userid", "user")
_ITEM_NAMES = ("stockcode", "stock_code", "item_id", "itemid", "item", "product_id", "sku")
_TIME_NAMES = ("invoicedate", "invoice_date", "timestamp", "time", "event_time", "date")
_TEXT_NAMES = ("description", "product_name", "title")


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
    item_text
        Per item, its public catalogue text (a product description, a film's title and
        genres), or None. Catalogue data is not personal: models may use it at no cost.
    """

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    user_ids: np.ndarray = field(repr=False)
    item_ids: np.ndarray = field(repr=False)
    item_text: tuple[str, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.users)
        if not (len(self.items) == len(self.times) == n):
            raise ParameterError("users, items and times must have the same length")
        if n and (self.users.max() >= len(self.user_ids) or self.items.max() >= len(self.item_ids)):
            raise ParameterError("an index is outside its vocabulary")
        if self.item_text is not None and len(self.item_text) != len(self.item_ids):
            raise ParameterError("item_text must hold one text per item id")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
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
            self.item_text,
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
            self.item_text,
        )


def temporal_split(data: Interactions, at: datetime) -> tuple[Interactions, Interactions]:
    """Train on events before ``at``, test on events from ``at`` on."""
    return data.between(None, at), data.between(at, None)


def from_table(
    table: pa.Table, *, user: str, item: str, time: str, text: str | None = None
) -> Interactions:
    """Interactions from the named columns of an Arrow table; rows with a null are dropped.

    ``text`` names a column of item descriptions (catalogue data); each item gets the
    smallest of its descriptions, so the choice depends on the catalogue alone.
    """
    roles = [("user", user), ("item", item), ("time", time)]
    for role, name in roles + ([("text", text)] if text else []):
        if name not in table.column_names:
            raise SchemaError(
                f"no {role} column {name!r}; the table has {', '.join(table.column_names)}"
            )
    texts = _item_texts(table, item, text) if text else None
    table = table.select([user, item, time]).drop_null()
    times = table.column(time)
    if not pa.types.is_timestamp(times.type):
        try:
            times = pc.cast(times, pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"time column {time!r} does not hold timestamps") from exc
    user_ids, users = np.unique(_strings(table.column(user)), return_inverse=True)
    item_ids, items = np.unique(_strings(table.column(item)), return_inverse=True)
    return Interactions(
        users.astype(np.int32),
        items.astype(np.int32),
        times.to_numpy().astype("datetime64[us]"),
        user_ids,
        item_ids,
        tuple(texts.get(i, "") for i in item_ids) if texts is not None else None,
    )


def _item_texts(table: pa.Table, item: str, text: str) -> dict[str, str]:
    pairs = table.select([item, text]).drop_null().group_by(item).aggregate([(text, "min")])
    ids = _strings(pairs.column(item))
    return dict(zip(ids, pairs.column(f"{text}_min").to_pylist(), strict=True))


def load_interactions(
    path: str | os.PathLike[str],
    *,
    user: str | None = None,
    item: str | None = None,
    time: str | None = None,
) -> Interactions:
    """Read purchases (or ratings) from a file or a MovieLens folder.

    Online Retail files are understood as they are: rows without a customer and
    cancellations (invoice numbers starting with ``C``, quantities ≤ 0) are dropped.
    Columns are found by name unless ``user`` / ``item`` / ``time`` name them.
    """
    from shopveil.data import load_movielens, read_table

    path = Path(path)
    if path.is_dir() or path.name == "u.data":
        movielens = load_movielens(path if path.is_dir() else path.parent)
        ratings = movielens.ratings.join(_film_texts(movielens.items), "item")
        return from_table(ratings, user="user", item="item", time="timestamp", text="text")
    table = read_table(path)
    table = purchases_only(table)
    names = table.column_names
    return from_table(
        table,
        user=user or _find(names, _USER_NAMES, "user", "--user"),
        item=item or _find(names, _ITEM_NAMES, "item", "--item"),
        time=time or _find(names, _TIME_NAMES, "time", "--time"),
        text=next((n for n in names if n.lower() in _TEXT_NAMES), None),
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


def _find(names: list[str], candidates: tuple[str, ...], role: str, flag: str) -> str:
    lowered = {n.lower(): n for n in names}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise SchemaError(
        f"cannot tell which column is the {role}; columns are {', '.join(names)}; "
        f"name it with {flag} COLUMN"
    )


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    # Online Retail ids come as "17850.0" when a float parser saw them first.
    text = pc.replace_substring_regex(pc.cast(column, pa.string()), r"^(\d+)\.0$", r"\1")
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=str)
