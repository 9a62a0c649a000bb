"""Shuffling: keep a column's distribution, break the link between a value and its row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil._core.rng import secure_rng
from shopveil.errors import ParameterError, SchemaError

__all__ = ["Shuffle", "shuffle_within"]


def _check_rng(rng: object) -> None:
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ParameterError("rng must be a numpy Generator, e.g. shopveil._core.secure_rng()")


@dataclass(frozen=True)
class Shuffle:
    """Permute a column's non-null values among its non-null rows (nulls stay in place).

    Within one batch: to shuffle a whole table, or within groups (per country, per
    segment), use :func:`shuffle_within`.
    """

    name: ClassVar[str] = "shuffle"

    rng: np.random.Generator | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_rng(self.rng)

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        rng = self.rng if self.rng is not None else secure_rng()
        rows = np.flatnonzero(pc.is_valid(values).to_numpy(zero_copy_only=False))
        order = np.arange(len(values))
        order[rows] = rows[rng.permutation(len(rows))]
        return values.take(pa.array(order))


def shuffle_within(
    table: pa.Table,
    columns: Sequence[str],
    *,
    by: Sequence[str] = (),
    rng: np.random.Generator | None = None,
) -> pa.Table:
    """A copy of ``table`` whose ``columns`` are permuted together within groups of ``by``.

    Permuting several columns together keeps their joint distribution (age with income);
    grouping keeps each group's distribution (prices per country). Nulls move like any
    value. The input table is not changed.
    """
    _check_rng(rng)
    missing = [c for c in [*columns, *by] if c not in table.column_names]
    if missing:
        raise SchemaError(
            f"the table has no column {missing[0]!r}; "
            f"its columns are {', '.join(table.column_names)}"
        )
    if not columns:
        raise ParameterError("columns must name at least one column to shuffle")
    if set(columns) & set(by):
        raise ParameterError("a column cannot be both shuffled and a group key")
    rng = rng if rng is not None else secure_rng()
    n = table.num_rows
    group = np.zeros(n, dtype=np.int64)
    if by:
        # Each key column as integer codes (null is a group of its own), then each
        # distinct combination of codes is one group.
        codes = []
        for name in by:
            column = table.column(name).combine_chunks()
            indices = pc.dictionary_encode(column).indices
            codes.append(pc.fill_null(indices, -1).to_numpy(zero_copy_only=False))
        _, group = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        group = group.reshape(-1)
    order = np.arange(n)
    by_group = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[by_group])) + 1
    for members in np.split(by_group, bounds):
        order[members] = members[rng.permutation(len(members))]
    take = pa.array(order)
    out = table
    for name in columns:
        index = table.column_names.index(name)
        out = out.set_column(index, name, table.column(name).take(take))
    return out
