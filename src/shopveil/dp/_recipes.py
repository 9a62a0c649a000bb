"""Retail recipes on the same engine and ledger: DP top products and top product pairs.

Both bound each privacy unit's contributions, count per item (or per pair of items
bought in the same basket), choose the candidates privately when no public catalogue is
given (partition selection, which needs δ), and release the k best by peeling: k rounds
of the exponential mechanism (permute-and-flip), with a noisy count for each winner.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP, Budget, PureDP
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._bits import RandomBits, Rng, as_bits
from shopveil.dp._catalog import Catalog, Dataset
from shopveil.dp._ledger import Ledger
from shopveil.dp._measurement import half_width, laplace_for
from shopveil.dp._processing import charge_record
from shopveil.dp._query._answer import Answer, Cell
from shopveil.dp._query._bounding import bound_contributions, bounding_seed
from shopveil.dp._query._duckdb import fetch, open_data
from shopveil.dp._query._plan import SOURCE
from shopveil.dp._query._target import Target, exclude, registered_path, resolve_target
from shopveil.dp._selection import make_top_k, partition_selection_for
from shopveil.errors import ParameterError, SchemaError

__all__ = ["top_k", "top_pairs"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check(k: int, epsilon: PureDP, delta: float, unit: PrivacyUnit, public: bool) -> None:
    """Build every mechanism the release may use before any data is read or charged.

    How many candidates there are depends on the data, so each mechanism is built for
    every number of rounds it may run (1 to k): a parameter is refused for all data or none.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ParameterError(f"k must be an int >= 1, got {k!r}")
    if not isinstance(epsilon, PureDP) or epsilon.epsilon <= 0:
        raise ParameterError(f"epsilon must be PureDP with epsilon > 0, got {epsilon!r}")
    share = epsilon.epsilon / (2 if public else 3)
    if not public:
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0 < delta < 1:
            raise ParameterError(
                f"delta must be in (0, 1) to choose candidates privately, got {delta!r}; "
                "pass e.g. delta=1e-8, or public candidates"
            )
        partition_selection_for(ApproxDP(share, delta), unit.max_contributions)
    for rounds in {1, min(k, unit.max_contributions), k}:
        make_top_k(rounds, 2 * rounds / share * (1 + 2**-40))
        half_width(laplace_for(PureDP(share), min(unit.max_contributions, rounds)))


def _unit_sql(unit: PrivacyUnit) -> str:
    return _q(unit.id_column) if isinstance(unit, PerCustomer) else "row_number() OVER ()"


def top_k(
    data: Any,
    column: str,
    k: int,
    *,
    epsilon: PureDP,
    ledger: Ledger,
    table: str | None = None,
    unit: PrivacyUnit | None = None,
    candidates: list[Any] | None = None,
    delta: float = 1e-8,
    request_id: str | None = None,
    rng: Rng = None,
    catalog: Catalog | None = None,
    subjects: SubjectFilter | None = None,
) -> Answer:
    """The k values of ``column`` that the most units have, with noisy counts.

    Each unit counts once per value, in at most ``max_contributions`` values. The unit
    and the account are decided as for :func:`~shopveil.dp.run_query` (a registered
    dataset's unit; data with customer ids is never counted per row unless declared),
    and so are the customers ``subjects`` withholds.
    """
    _check(k, epsilon, delta, unit or PerRow(), bool(candidates))
    data, named = registered_path(data, catalog)
    con, name, columns = open_data(data, table or (named.name if named else None))
    try:
        target = _target(con, columns, name, data, unit, ledger, catalog, named, subjects)
        unit = target.unit
        _check(k, epsilon, delta, unit, bool(candidates))  # the unit decided: checked again
        _need(columns, column, unit)
        bits = as_bits(rng)
        items = (
            f"SELECT DISTINCT {_q(column)} AS item, {_unit_sql(unit)} AS uid "
            f"FROM {SOURCE} WHERE {_q(column)} IS NOT NULL"
        )
        bounded = bound_contributions(
            items, "uid", ["item"], unit.max_contributions, bounding_seed(bits)
        )
        sql = f"SELECT item, count(*) FROM ({bounded}) GROUP BY item"
        return _release(
            target, [(str(i),) for i in candidates] if candidates else None,
            (column,), con, sql, k, epsilon, delta, ledger, request_id, bits, subjects,
        )  # fmt: skip
    finally:
        con.close()


def top_pairs(
    data: Any,
    item: str,
    basket: str,
    k: int,
    *,
    epsilon: PureDP,
    ledger: Ledger,
    table: str | None = None,
    unit: PrivacyUnit | None = None,
    candidates: list[Any] | None = None,
    delta: float = 1e-8,
    request_id: str | None = None,
    rng: Rng = None,
    catalog: Catalog | None = None,
    subjects: SubjectFilter | None = None,
) -> Answer:
    """The k pairs of items most often bought together (same ``basket``), market-basket style.

    Each unit contributes at most ``max_contributions`` distinct pairs, chosen at random.
    ``candidates`` (public items, e.g. a catalogue) makes every pair of them a candidate
    and spares the δ of choosing candidates from the data.
    """
    if isinstance(unit, PerRow):
        raise _PAIRS_NEED_CUSTOMERS
    public_pairs = len({str(c) for c in candidates or []}) > 1  # two make a public pair
    if unit is not None:
        _check(k, epsilon, delta, unit, public_pairs)
    data, named = registered_path(data, catalog)
    con, name, columns = open_data(data, table or (named.name if named else None))
    try:
        target = _target(con, columns, name, data, unit, ledger, catalog, named, subjects)
        unit = target.unit
        if not isinstance(unit, PerCustomer):
            raise _PAIRS_NEED_CUSTOMERS
        _check(k, epsilon, delta, unit, public_pairs)
        _need(columns, item, unit)
        _need(columns, basket, unit)
        uid = _q(unit.id_column)
        bits = as_bits(rng)
        pairs = (
            f"WITH u AS (SELECT DISTINCT {_q(basket)} AS basket, {_q(item)} AS item, "
            f"{uid} AS uid FROM {SOURCE} WHERE {_q(item)} IS NOT NULL AND {uid} IS NOT NULL) "
            "SELECT DISTINCT x.uid, x.item AS a, y.item AS b FROM u x JOIN u y "
            "ON x.basket = y.basket AND x.uid = y.uid AND x.item < y.item"
        )
        bounded = bound_contributions(
            pairs, "uid", ["a", "b"], unit.max_contributions, bounding_seed(bits)
        )
        sql = f"SELECT a, b, count(*) FROM ({bounded}) GROUP BY a, b"
        public: list[tuple[str, ...]] | None = None
        if candidates:
            items = sorted({str(c) for c in candidates})
            public = [(a, b) for i, a in enumerate(items) for b in items[i + 1 :]]
        return _release(
            target, public, ("item_a", "item_b"), con, sql, k, epsilon, delta, ledger,
            request_id, bits, subjects,
        )  # fmt: skip
    finally:
        con.close()


_PAIRS_NEED_CUSTOMERS = ParameterError(
    "top_pairs needs a customer privacy unit: a basket spans rows, so one row is not "
    "one person; pass unit=PerCustomer(column, max_pairs)"
)


def _target(
    con: Any,
    columns: list[str],
    name: str,
    data: Any,
    unit: PrivacyUnit | None,
    ledger: Ledger,
    catalog: Catalog | None,
    named: Dataset | None,
    subjects: SubjectFilter | None,
) -> Target:
    return resolve_target(
        con,
        columns,
        table=name,
        path=str(data) if isinstance(data, str | os.PathLike) else None,
        given=unit,
        declared=False,
        ledger=ledger,
        catalog=catalog,
        named=named,
        subjects=subjects,
    )


def _need(columns: list[str], column: str, unit: PrivacyUnit) -> None:
    for name in (column, getattr(unit, "id_column", column)):
        if name not in columns:
            raise SchemaError(f"unknown column {name!r}; the table has: {', '.join(columns)}")


def _release(
    target: Target,
    public: list[tuple[str, ...]] | None,
    key_names: tuple[str, ...],
    con: Any,
    sql: str,
    k: int,
    epsilon: PureDP,
    delta: float,
    ledger: Ledger,
    request_id: str | None,
    bits: RandomBits,
    subjects: SubjectFilter | None,
) -> Answer:
    unit, name = target.unit, target.dataset
    n = unit.max_contributions
    parts = 2 if public else 3  # selection of candidates, choice of the k, their counts
    share = epsilon.epsilon / parts
    cost: Budget = PureDP(epsilon.epsilon) if public else ApproxDP(epsilon.epsilon, delta)
    charge = ledger.charge(
        request_id or uuid.uuid4().hex,
        name,
        unit,
        cost,
        people=target.people.people if target.people is not None else None,
        what=f"top-{k} on {name}",
        processing=charge_record("-", subjects, "-"),
    )
    if charge.replayed:
        if charge.answer is None:
            raise ParameterError(
                f"request id {charge.request_id!r} was charged before but has no stored "
                "answer; nothing was charged now: ask again with a new request id"
            )
        return Answer.from_json(charge.answer).with_budget(
            charge.remaining, charge.total, default=charge.is_default, replayed=True
        )
    exclude(con, target, charge.left_out)
    rows = fetch(con, sql)
    counts = {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
    if public:
        keys = public
    else:
        observed = list(counts)
        units = np.array([counts[key] for key in observed], dtype=np.int64)
        keep = partition_selection_for(ApproxDP(share, delta), n)(units, rng=bits)
        keys = [key for key, kept in zip(observed, keep, strict=True) if kept]
    answer_rows: list[dict[str, Any]] = []
    if keys:
        utilities = np.array([counts.get(key, 0) for key in keys], dtype=np.float64)
        # A unit moves each candidate's count by at most 1 (L∞ sensitivity 1), so each
        # of the k peeling rounds costs 2/scale.
        rounds = min(k, len(keys))
        chosen = make_top_k(rounds, 2 * rounds / share * (1 + 2**-40))(utilities, rng=bits)
        # A unit adds at most 1 to each released count, and has at most n of them.
        m = laplace_for(PureDP(share), min(n, rounds))
        noisy = np.atleast_1d(m(np.array([counts.get(keys[i], 0) for i in chosen]), rng=bits))
        hw = half_width(m)
        for rank, (i, value) in enumerate(zip(chosen, noisy, strict=True), start=1):
            row: dict[str, Any] = {"rank": rank}
            row.update(dict(zip(key_names, keys[i], strict=True)))
            row["count"] = Cell(int(value), float(value - hw), float(value + hw))
            answer_rows.append(row)
    notes = [
        f"privacy unit: {unit.describe()}",
        f"ranked by {'people' if isinstance(unit, PerCustomer) else 'rows'}; "
        f"each contributes to at most {n} candidates",
    ]
    if not public:
        notes.append(f"candidates chosen by DP partition selection (δ={delta:g})")
    if target.withheld is not None:
        notes.append(target.withheld.note)
    answer = Answer(
        columns=("rank", *key_names, "count"),
        rows=tuple(answer_rows),
        cost=cost,
        dataset=name,
        unit=unit.key,
        request_id=charge.request_id,
        notes=tuple(notes),
        split=(("selection", share), ("ranking", share), ("counts", share))[-parts:],
    )
    if request_id is not None:
        ledger.record_answer(request_id, answer.to_json())
    return answer.with_budget(
        charge.remaining, charge.total, default=charge.is_default, replayed=False
    )
