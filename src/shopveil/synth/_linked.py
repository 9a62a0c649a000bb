"""Linked tables: customers → orders → order lines, under one budget, with keys that join.

The first table holds one row per person (its key is the privacy unit); each next table
points at the one before it through a foreign key. One person may hold up to
``max_per_parent`` rows of each child table per parent row (the first ones are kept), so
a person adds at most ``C₁ · … · Cᵢ`` rows to table ``i``: that product is each table's
sensitivity. The zCDP budget is shared evenly between each table's model (MST or AIM) and, per
child table, a noisy histogram of its rows per parent row (0 … C, sensitivity: the parent
rows one person holds). Drawing runs down the chain: fresh keys for the first table,
then per parent row a count from the released histogram, and the child rows from the
child's model, each pointing at its parent's new key. Columns within a table keep their
dependencies; a child's columns are drawn independently of its parent's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.rng import secure_rng
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger, gaussian_for
from shopveil.dp.hazmat import RandomBits, Rng, as_bits
from shopveil.errors import ParameterError, SchemaError
from shopveil.synth._api import Spec, _charge, _encoder, fit_and_draw, identifier_columns
from shopveil.synth._mst import project, split_budget
from shopveil.synth._options import SynthOptions

__all__ = ["Child", "LinkedSynthetic", "noisy_counts", "synthesize_linked"]


@dataclass(frozen=True)
class Child:
    """A table that points at the table before it in the chain.

    Attributes
    ----------
    table
        Its rows.
    parent_key
        Its column holding the parent row's key.
    key
        Its own key, which the next table points at (None for the last table).
    max_per_parent
        Rows kept per parent row (the first ones): what one person can add is bounded by it.
    """

    table: pa.Table
    parent_key: str
    key: str | None = None
    max_per_parent: int = 10

    def __post_init__(self) -> None:
        c = self.max_per_parent
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ParameterError(f"max_per_parent must be an int >= 1, got {c!r}")
        for name in (self.parent_key, self.key):
            if name is not None and name not in self.table.column_names:
                raise SchemaError(
                    f"column {name!r} is not in the child table; it has "
                    f"{', '.join(self.table.column_names)}"
                )


@dataclass(frozen=True)
class LinkedSynthetic:
    """Synthetic linked tables, first (people) to last, and what their release cost.

    Attributes
    ----------
    tables
        The synthetic tables, in the order given.
    cost
        What was charged to the ledger, once per person.
    dropped
        Per table, the columns left out and why.
    rows_per_parent
        Per child table, the released (noisy, projected) distribution of rows per
        parent row, over 0 … ``max_per_parent``.
    request_id
        The ledger's request id.
    """

    tables: tuple[pa.Table, ...]
    cost: ApproxDP
    dropped: tuple[Mapping[str, str], ...]
    rows_per_parent: tuple[np.ndarray, ...]
    request_id: str


def synthesize_linked(
    people: pa.Table,
    key: str,
    children: Sequence[Child],
    options: SynthOptions,
    *,
    ledger: Ledger,
    dataset: str,
    namespace: str = "customer",
    request_id: str | None = None,
    scan: bool = True,
    rng: Rng = None,
) -> LinkedSynthetic:
    """Synthesize ``people`` and its chain of ``children`` under ``options.budget``.

    Every person in ``people`` (one row each, by ``key``) is charged once on
    ``dataset``'s account for ``PerCustomer(key, namespace=namespace)``; those who
    cannot afford it are left out, with all their rows below. ``options.bounds``,
    ``domains`` and ``exclude`` apply by column name in every table; ``options.rows``
    sets the number of people drawn. Direct identifiers (by scan) never enter a model.
    """
    if key not in people.column_names:
        raise SchemaError(f"the key column {key!r} is not in the people table")
    tables = [people, *(c.table for c in children)]
    keys = [key, *(c.key for c in children)]
    links = [None, *(c.parent_key for c in children)]
    known = set().union(*(t.column_names for t in tables))
    unknown = sorted(set(options.exclude) - known)
    if unknown:
        raise ParameterError(f"exclude names {', '.join(map(repr, unknown))}, in no table")
    modelled, dropped, encoders = [], [], []
    for table, own, link in zip(tables, keys, links, strict=True):
        out = {c: "key" for c in (own, link) if c is not None}
        out |= {c: "excluded" for c in options.exclude if c in table.column_names}
        for name, why in identifier_columns(table, scan=scan).items():
            out.setdefault(name, why)
        names = [c for c in table.column_names if c not in out]
        encoders.append(
            [_encoder(n, table.schema.field(n).type, options, options.bounds) for n in names]
        )
        modelled.append(names)
        dropped.append(out)
    if not modelled[0]:
        raise SchemaError(f"the people table has no column to model besides {key!r}")
    private = sum(isinstance(e, str) for group in encoders for e in group)
    rho, delta_select = split_budget(options.budget, private)
    share = rho / (2 * len(tables) - 1)

    unit = PerCustomer(key, namespace=namespace)
    request_id = request_id or uuid.uuid4().hex
    what = f"synth linked {len(tables)} tables"
    people = _charge(people, ledger, request_id, dataset, unit, options, what)
    bounded, sensitivity = [people], [1]
    for child in children:
        parent, parent_key = bounded[-1], keys[len(bounded) - 1]
        assert parent_key is not None  # every table but the last has a key
        bounded.append(_bound(child, parent.column(parent_key)))
        sensitivity.append(sensitivity[-1] * child.max_per_parent)

    bits = as_bits(rng)  # the noise; fit_and_draw takes its own stream of ``rng``
    draws = rng if isinstance(rng, np.random.Generator) else secure_rng()
    out_tables: list[pa.Table] = []
    spreads: list[np.ndarray] = []
    parents = 0
    parent_keys: pa.Array | None = None
    for level, table in enumerate(bounded):
        if level == 0:
            rows = options.rows
        else:
            child = children[level - 1]
            counts = _rows_per_parent(bounded[level - 1], keys[level - 1], table, child)
            noisy = noisy_counts(counts, share, sensitivity[level - 1], bits)
            released = project(noisy, max(noisy.sum(), 1.0))
            released /= released.sum()
            spreads.append(released)
            per_parent = draws.choice(len(released), size=parents, p=released / released.sum())
            rows = int(per_parent.sum())
        if modelled[level] and rows != 0:
            spec = Spec(options.method, share, delta_select, sensitivity[level])
            source = table.select(modelled[level])
            drawn = fit_and_draw(source, encoders[level], spec, rng, rows).table
        else:
            drawn = pa.table(
                {c: pa.nulls(rows or 0, table.schema.field(c).type) for c in modelled[level]}
            )
        count = drawn.num_rows if modelled[level] else int(rows or 0)
        columns: dict[str, pa.Array] = {}
        own, link = keys[level], links[level]
        if link is not None and parent_keys is not None:
            columns[link] = parent_keys.take(pa.array(np.repeat(np.arange(parents), per_parent)))
        if own is not None:
            columns[own] = _fresh_keys(count, table.schema.field(own).type)
        for name in drawn.column_names:
            columns[name] = drawn.column(name)
        ordered = [c for c in table.column_names if c in columns]
        result = pa.table({c: columns[c] for c in ordered})
        out_tables.append(result)
        parents = result.num_rows
        parent_keys = result.column(own).combine_chunks() if own is not None else None
    return LinkedSynthetic(
        tables=tuple(out_tables),
        cost=options.budget,
        dropped=tuple(dropped),
        rows_per_parent=tuple(spreads),
        request_id=request_id,
    )


def noisy_counts(counts: np.ndarray, rho: float, sensitivity: int, bits: RandomBits) -> np.ndarray:
    """``counts`` with discrete Gaussian noise for ρ-zCDP at L2 ``sensitivity``."""
    noise = gaussian_for(ZCDP(rho), sensitivity)
    return np.asarray(noise(counts, rng=bits), dtype=np.float64)


def _bound(child: Child, parent_keys: pa.ChunkedArray) -> pa.Table:
    """The child's rows whose parent is kept, at most ``max_per_parent`` (the first) each."""
    table = child.table
    index = pc.index_in(table.column(child.parent_key), value_set=parent_keys.combine_chunks())
    found = index.to_numpy(zero_copy_only=False).astype(np.float64)
    rows = np.nonzero(~np.isnan(found))[0]
    parent = found[rows].astype(np.int64)
    order = np.argsort(parent, kind="stable")
    ordered = parent[order]
    rank = np.arange(len(ordered)) - np.searchsorted(ordered, ordered, side="left")
    return table.take(pa.array(np.sort(rows[order[rank < child.max_per_parent]])))


def _rows_per_parent(
    parent: pa.Table, parent_key: str | None, table: pa.Table, child: Child
) -> np.ndarray:
    """How many parent rows have 0, 1, … ``max_per_parent`` child rows."""
    assert parent_key is not None
    index = pc.index_in(
        table.column(child.parent_key), value_set=parent.column(parent_key).combine_chunks()
    ).to_numpy(zero_copy_only=False)
    per_parent = np.bincount(index.astype(np.int64), minlength=parent.num_rows)
    return np.bincount(per_parent, minlength=child.max_per_parent + 1)


def _fresh_keys(rows: int, type_: pa.DataType) -> pa.Array:
    """Keys 1 … rows, as numbers or text like the input's (they name no one)."""
    numbers = np.arange(1, rows + 1, dtype=np.int64)
    if pa.types.is_integer(type_):
        return pa.array(numbers).cast(type_)
    return pa.array([f"S{n:07d}" for n in numbers]).cast(type_)
