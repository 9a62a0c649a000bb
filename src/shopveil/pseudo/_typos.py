"""Test sets for record linkage: two overlapping customer lists, one with typos.

Used by the linkage tests, the benchmark and ``shopveil link`` demonstrations; the data
is synthetic (:func:`shopveil.data.generate_retail`), never real customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopveil.errors import ParameterError

__all__ = ["LinkTestSet", "add_typos", "link_test_set"]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def add_typos(text: str, rng: np.random.Generator, edits: int = 1) -> str:
    """``text`` with ``edits`` random edits: a substitution, deletion, insertion or swap."""
    out = list(text)
    for _ in range(edits):
        if len(out) < 2:
            out.append(_LETTERS[rng.integers(26)])
            continue
        at = int(rng.integers(len(out) - 1))
        kind = int(rng.integers(4))
        if kind == 0:
            out[at] = _LETTERS[rng.integers(26)]
        elif kind == 1:
            del out[at]
        elif kind == 2:
            out.insert(at, _LETTERS[rng.integers(26)])
        else:
            out[at], out[at + 1] = out[at + 1], out[at]
    return "".join(out)


@dataclass(frozen=True)
class LinkTestSet:
    """Two customer lists and the true identity of each row (``truth``, not to be linked on)."""

    left: pa.Table
    right: pa.Table
    typo_rows: int


def link_test_set(
    customers: pa.Table,
    fields: Sequence[str],
    *,
    overlap: float = 0.8,
    typo_rate: float = 0.1,
    rng: np.random.Generator,
) -> LinkTestSet:
    """Split ``customers`` into a retailer list and a partner list that share ``overlap``
    of the people; a ``typo_rate`` share of the partner's rows get one or two typos in
    one field. Both lists keep ``customer_id`` as ``truth`` and are shuffled.
    """
    if not 0.0 < overlap <= 1.0 or not 0.0 <= typo_rate <= 1.0:
        raise ParameterError("overlap must be in (0, 1] and typo_rate in [0, 1]")
    n = customers.num_rows
    order = rng.permutation(n)
    shared = int(n * overlap)
    only = (n - shared) // 2
    left_rows = np.concatenate([order[:shared], order[shared : shared + only]])
    right_rows = np.concatenate([order[:shared], order[shared + only : shared + 2 * only]])
    columns = ["customer_id", *fields]
    left = customers.select(columns).take(pa.array(rng.permutation(left_rows)))
    right = customers.select(columns).take(pa.array(rng.permutation(right_rows)))
    right_data = {f: right.column(f).cast(pa.string()).to_pylist() for f in fields}
    typo = rng.random(right.num_rows) < typo_rate
    for row in np.flatnonzero(typo):
        field = fields[int(rng.integers(len(fields)))]
        value = right_data[field][row]
        if value:
            right_data[field][row] = add_typos(value, rng, edits=int(rng.integers(1, 3)))

    def finish(table: pa.Table, data: dict[str, list[str | None]] | None) -> pa.Table:
        out = {"truth": table.column("customer_id")}
        for f in fields:
            out[f] = pa.array(data[f], pa.string()) if data else table.column(f).cast(pa.string())
        return pa.table(out)

    return LinkTestSet(finish(left, None), finish(right, right_data), int(typo.sum()))
