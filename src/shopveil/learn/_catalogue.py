"""The public product catalogue: the item vocabulary and item texts a private model may use.

A private model's released arrays are indexed by item, so the list of items is released
with them. Taken from the purchases, that list names every item somebody bought, and an
item with one buyer appears or vanishes with that buyer. A :class:`Catalogue` is the
vocabulary (and the descriptions) the retailer declares public, from a file or a table
that does not depend on who bought what: the product list of the shop, or the bundled
``shopveil.data.product_catalogue()`` for Online Retail. Its texts are the only item
texts the models see; descriptions written on purchase rows are never used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.errors import ParameterError, SchemaError, SourceError

__all__ = [
    "ITEM_NAMES",
    "TEXT_NAMES",
    "Catalogue",
    "find_column",
    "id_strings",
    "load_catalogue",
]

ITEM_NAMES = ("stockcode", "stock_code", "item_id", "itemid", "item", "product_id", "sku")
TEXT_NAMES = ("description", "product_name", "title", "text")


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Items declared public, sorted by id, each with an optional public text.

    Parameters
    ----------
    item_ids
        The item ids as strings, unique and sorted (:meth:`from_table` sorts them).
    texts
        Per item, its public text (a product description, a film's title and genres);
        None when the catalogue has no text column.
    """

    item_ids: np.ndarray = field(repr=False)
    texts: tuple[str, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.item_ids)
        if ids.ndim != 1 or not len(ids) or ids.dtype.kind != "U":
            raise ParameterError("a catalogue needs a non-empty 1-D array of string item ids")
        if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
            raise ParameterError(
                "catalogue item ids must be unique and sorted; build it with "
                "Catalogue.from_table(table) or load_catalogue(FILE)"
            )
        if self.texts is not None and len(self.texts) != len(ids):
            raise ParameterError("catalogue texts must hold one text per item id")

    def __len__(self) -> int:
        return len(self.item_ids)

    def same_as(self, other: Catalogue | None) -> bool:
        """Whether ``other`` lists the same items with the same texts."""
        return other is self or (
            other is not None
            and np.array_equal(self.item_ids, other.item_ids)
            and self.texts == other.texts
        )

    def index(self, ids: np.ndarray) -> np.ndarray:
        """Each id's position in the catalogue, or -1 for an id it does not list."""
        ids = np.asarray(ids, dtype=str)
        at = np.minimum(np.searchsorted(self.item_ids, ids), len(self.item_ids) - 1)
        return np.where(self.item_ids[at] == ids, at, -1)

    @classmethod
    def from_table(
        cls, table: pa.Table, *, item: str | None = None, text: str | None = None
    ) -> Catalogue:
        """The catalogue in ``table``: one item per row, found by column name.

        ``item`` / ``text`` name the columns when they are not detected (``stock_code``,
        ``item_id``, … and ``description``, ``title``, …). An id listed twice keeps the
        text of its first row, so the result depends on the table alone.
        """
        names = table.column_names
        item = item or find_column(names, ITEM_NAMES, "catalogue's item", "item='COLUMN'")
        if text is None:
            text = next((n for n in names if n.lower() in TEXT_NAMES), None)
        for role, name in (("item", item), ("text", text)):
            if name is not None and name not in names:
                raise SchemaError(
                    f"the catalogue has no {role} column {name!r}; it has {', '.join(names)}"
                )
        table = table.filter(pc.is_valid(table.column(item)))
        if not table.num_rows:
            raise SchemaError(f"the catalogue's {item!r} column lists no item")
        ids, first = np.unique(id_strings(table.column(item)), return_index=True)
        texts = None
        if text is not None:
            column = pc.cast(table.column(text), pa.string()).to_pylist()
            texts = tuple(column[i] or "" for i in first)
        return cls(ids, texts)


def load_catalogue(
    path: str | os.PathLike[str], *, item: str | None = None, text: str | None = None
) -> Catalogue:
    """The public catalogue in a CSV or Parquet file (see :meth:`Catalogue.from_table`)."""
    from shopveil.data import read_table

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such catalogue file; pass the public product list")
    return Catalogue.from_table(read_table(path), item=item, text=text)


def find_column(names: list[str], candidates: tuple[str, ...], role: str, flag: str) -> str:
    """The first of ``candidates`` among ``names`` (case-insensitive), else a SchemaError."""
    lowered = {n.lower(): n for n in names}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise SchemaError(
        f"cannot tell which column is the {role}; columns are {', '.join(names)}; "
        f"name it with {flag}"
    )


def id_strings(column: pa.ChunkedArray) -> np.ndarray:
    """Ids as strings; ``"17850.0"`` becomes ``"17850"``."""
    # Online Retail ids come as "17850.0" when a float parser saw them first.
    text = pc.replace_substring_regex(pc.cast(column, pa.string()), r"^(\d+)\.0$", r"\1")
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=str)
