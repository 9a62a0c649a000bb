"""Running a DP query on DuckDB: charge the budget, aggregate, select keys, add noise.

Order of events, so that bad input changes nothing and no answer leaves uncharged:
parse, compile and bind the SQL in DuckDB (schema only, no data read) → charge the
ledger, which refuses a query it cannot afford before any data is read → aggregate
exactly in DuckDB → partition selection and noise → attach the answer to the charge
when the caller gave a request id (its retries get the stored answer, never fresh
noise) → return the answer.

Charging first costs one ledger transaction per query instead of a check and a charge.
Errors that do not depend on the data (unknown columns, type errors, parameters no
mechanism accepts) are found before anything is charged. Reading the data does not fail
on a value: expressions that could fail run under TRY (see ``_functions``). Should DuckDB
fail anyway (out of memory, say), the charge stays and the error says so.
"""

from __future__ import annotations

import itertools
import math
import os
import shlex
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.subjects import SubjectFilter
from shopveil.dp._bits import RandomBits, Rng, as_bits
from shopveil.dp._catalog import Catalog
from shopveil.dp._ledger import Charge, Ledger
from shopveil.dp._measurement import half_width
from shopveil.dp._processing import charge_record
from shopveil.dp._query._answer import Answer, Cell
from shopveil.dp._query._auto_run import run_automatic
from shopveil.dp._query._bounding import bounding_seed
from shopveil.dp._query._compile import compile_plan
from shopveil.dp._query._duckdb import bind, check_numeric, run, table_name
from shopveil.dp._query._duckdb import open_data as _open
from shopveil.dp._query._estimate import ESTIMATE_SHARE, estimate_bounds, missing_bounds
from shopveil.dp._query._notes import explain, notes
from shopveil.dp._query._parser import parse_query, quote_identifier
from shopveil.dp._query._plan import Plan, QueryOptions, Step
from shopveil.dp._query._release import (
    QUANTILE_CANDIDATES,
    check_release,
    count_mechanism,
    quantile_mechanism,
    release_sums,
    sum_mechanism,
)
from shopveil.dp._query._spec import AggregateFunction
from shopveil.dp._query._target import charge_target, registered_path, resolve_target
from shopveil.dp._selection import partition_selection_for
from shopveil.errors import ParameterError, QueryError

__all__ = ["run_query", "table_name"]

AVG, QUANTILE, HISTOGRAM = (
    AggregateFunction.AVG,
    AggregateFunction.QUANTILE,
    AggregateFunction.HISTOGRAM,
)


@dataclass(frozen=True)
class _Groups:
    keys: list[tuple[Any, ...]]
    values: np.ndarray  # rows × aggregate outputs (true values; sums as exact ints)


def _select_groups(plan: Plan, rows: list[tuple[Any, ...]], bits: RandomBits) -> _Groups:
    n_keys = len(plan.public_keys)
    width = len(rows[0]) - n_keys if rows else _width(plan)
    if all(p is not None for p in plan.public_keys):
        domains = [p for p in plan.public_keys if p is not None]
        observed = {tuple(str(k) for k in row[:n_keys]): row[n_keys:] for row in rows}
        keys = list(itertools.product(*domains))
        zero = (0,) * width
        found = [observed.get(tuple(str(k) for k in key), zero) for key in keys]
        return _Groups(keys, np.asarray(found, dtype=object).reshape(len(keys), width))
    units = np.asarray([row[-1] for row in rows], dtype=np.int64)
    budget = ApproxDP(plan.selection_epsilon, plan.options.delta)
    keep = partition_selection_for(budget, plan.contributions)(units, rng=bits)
    kept = [row for row, k in zip(rows, keep, strict=True) if k]
    values = np.asarray([row[n_keys:] for row in kept], dtype=object)
    return _Groups([tuple(row[:n_keys]) for row in kept], values.reshape(len(kept), width))


def _width(plan: Plan) -> int:
    return sum(2 if s.aggregate.func is AVG else 1 for s in plan.steps) + 1


def _release_step(
    step: Step,
    true: np.ndarray,
    plan: Plan,
    bits: RandomBits,
    quantile_values: list[np.ndarray] | None,
) -> list[Cell]:
    n = plan.contributions
    alpha = plan.options.alpha
    func, eps = step.aggregate.func, step.epsilon
    if func.is_count:
        m = count_mechanism(eps, n)
        noisy = np.asarray(m(true[:, 0].astype(np.int64), rng=bits))
        hw = half_width(m, alpha)
        return [Cell(int(v), float(v - hw), float(v + hw)) for v in noisy]
    assert step.bounds is not None
    low, high = step.bounds
    if func is AggregateFunction.SUM:
        m = sum_mechanism(eps, step.bounds, n)
        sums = release_sums(m, true[:, 0].tolist(), step.bounds, bits)
        hw = half_width(m, alpha)
        return [Cell(v, v - hw, v + hw) for v in sums]
    if func is AVG:
        ms = sum_mechanism(eps / 2, step.bounds, n)
        mc = count_mechanism(eps / 2, n)
        sums = release_sums(ms, true[:, 0].tolist(), step.bounds, bits)
        counts = np.atleast_1d(mc(true[:, 1].astype(np.int64), rng=bits))
        hs, hc = half_width(ms, alpha / 2), half_width(mc, alpha / 2)
        return [
            _avg_cell(float(s), float(c), hs, hc, low, high)
            for s, c in zip(sums, counts, strict=True)
        ]
    assert quantile_values is not None and step.aggregate.quantile is not None
    m = quantile_mechanism(eps, step.bounds, step.aggregate.quantile, n)
    rank_error = m.scale * (math.log(QUANTILE_CANDIDATES) + math.log(1 / alpha))
    return [Cell(float(m(v, rng=bits)), rank_error=round(rank_error, 1)) for v in quantile_values]


def _avg_cell(s: float, c: float, hs: float, hc: float, low: float, high: float) -> Cell:
    value = min(max(s / c, low), high) if c > 0 else (low + high) / 2
    if c - hc <= 0:
        return Cell(value, low, high)
    corners = [(s + a) / (c + b) for a in (-hs, hs) for b in (-hc, hc)]
    return Cell(value, max(low, min(corners)), min(high, max(corners)))


def run_query(
    sql: str,
    data: Any,
    *,
    options: QueryOptions,
    ledger: Ledger,
    table: str | None = None,
    request_id: str | None = None,
    rng: Rng = None,
    catalog: Catalog | None = None,
    subjects: SubjectFilter | None = None,
) -> Answer:
    """Answer ``sql`` over ``data`` (a file path or an Arrow/pandas/polars table) privately.

    ``data`` may also name a dataset registered in ``catalog``; a file resolves to the
    registered dataset whose people it holds (its account and its privacy unit). With a
    unit per customer, every person in the data is charged against their own budget and
    the rows of those who cannot afford the query are left out before it is computed.

    The query is charged to ``ledger`` before any aggregate is computed (only the
    schema and, per customer, the distinct ids are read first). Pass ``request_id`` to
    make it retry-safe: the answer is stored with the charge and a retry with the same
    id gets it back, uncharged. Without one, the answer carries a fresh id that names
    its charge in the ledger and the audit log but cannot be replayed.

    ``subjects`` is the consent register's answer for the query's purpose
    (:meth:`shopveil.Workspace.subjects`): the customers it does not allow are not
    charged and their rows are removed before anything is computed, as are the rows of
    those who cannot afford the query.

    Raises
    ------
    QueryError, SchemaError, ParameterError, SourceError
        Bad input; nothing was read beyond the schema and nothing was charged. (A
        :class:`QueryError` raised while the data is read says that the cost stays
        charged.)
    BudgetExceeded
        The ledger cannot afford the query; it did not run.
    """
    spec = parse_query(sql)
    data, named = registered_path(data, catalog)
    con, name, columns = _open(data, table or (named.name if named else None))
    try:
        if spec.table != name:
            raise QueryError(
                f"unknown table {spec.table!r}: this data is the table {name!r}; "
                f"write FROM {quote_identifier(name)} or pass --table {shlex.quote(spec.table)}"
            )
        target = resolve_target(
            con,
            columns,
            table=name,
            path=str(data) if isinstance(data, str | os.PathLike) else None,
            given=options.unit,
            declared=options.unit_declared,
            ledger=ledger,
            catalog=catalog,
            named=named,
            subjects=subjects,
        )
        options = replace(options, unit=target.unit)
        bits = as_bits(rng)
        seed = bounding_seed(bits)
        if options.automatic is not None:
            auto = run_automatic(
                con, spec, options, columns, target, ledger, request_id, bits, seed
            )
            if auto.answer is None:
                return _replayed(auto.charge)
            if request_id is not None:
                ledger.record_answer(request_id, auto.answer.to_json())
            return auto.answer.with_budget(
                auto.charge.remaining, auto.charge.total, default=auto.charge.is_default,
                replayed=False,
            )  # fmt: skip
        missing = missing_bounds(spec, options) if options.estimate_bounds else []
        main = options
        if missing:
            eps = options.epsilon.epsilon
            main = replace(options, epsilon=PureDP(eps * (1 - ESTIMATE_SHARE)))
            # Bounds stand in until estimated: the plan's shape and cost do not depend on them.
            stand_in = replace(
                main, bounds={**options.bounds, **{a.alias: (0.0, 1.0) for a in missing}}
            )
            plan = compile_plan(spec, stand_in, columns, seed=seed)
            plan = replace(plan, estimate_epsilon=eps * ESTIMATE_SHARE)
        else:
            plan = compile_plan(spec, options, columns, seed=seed)
        check_numeric(con, plan)
        # Bound now (schema only), run after the charge: a relation reads the source by
        # name when it runs, so rows left out after the charge are left out of it too.
        relation = bind(con, plan.sql)
        values_relation = bind(con, plan.values_sql) if plan.values_sql else None
        check_release(plan)
        charge = charge_target(
            con, ledger, target, plan.cost, [a.alias for a in spec.aggregates],
            request_id=request_id, analyst=options.analyst, purpose=options.purpose,
            processing=charge_record(options.purpose, subjects, options.analyst),
        )  # fmt: skip
        if charge.replayed:
            return _replayed(charge)
        if missing:
            estimated = estimate_bounds(
                spec, options, columns, lambda q: run(bind(con, q)), plan.estimate_epsilon, bits,
                seed,
            )  # fmt: skip
            final = replace(main, bounds={**options.bounds, **estimated})
            plan = replace(
                compile_plan(spec, final, columns, seed=seed),
                estimate_epsilon=plan.estimate_epsilon,
                estimated=tuple(estimated.items()),
            )
            relation = bind(con, plan.sql)
            values_relation = bind(con, plan.values_sql) if plan.values_sql else None
        rows = run(relation)
        if plan.wide_sql and any(row[c] is None for row in rows for c in plan.sum_columns):
            rows = run(bind(con, plan.wide_sql))  # a group too large to sum in doubles
        value_rows = run(values_relation) if values_relation is not None else []
    finally:
        con.close()
    groups = _select_groups(plan, rows, bits)
    answer = _build(plan, target.dataset, groups, value_rows, bits, charge.request_id)
    if target.withheld is not None:
        answer = replace(answer, notes=(*answer.notes, target.withheld.note))
    if request_id is not None:
        ledger.record_answer(request_id, answer.to_json())
    return answer.with_budget(
        charge.remaining, charge.total, default=charge.is_default, replayed=False
    )


def _replayed(charge: Charge) -> Answer:
    if charge.answer is None:
        raise ParameterError(
            f"request id {charge.request_id!r} was charged before but has no stored answer: "
            "its query failed or is still running. Nothing was charged now; ask again "
            "with a new request id"
        )
    return Answer.from_json(charge.answer).with_budget(
        charge.remaining, charge.total, default=charge.is_default, replayed=True
    )


def _build(
    plan: Plan,
    name: str,
    groups: _Groups,
    value_rows: list[tuple[Any, ...]],
    bits: RandomBits,
    request_id: str,
) -> Answer:
    spec = plan.spec
    n_keys = len(plan.public_keys)
    cells: dict[str, list[Cell]] = {}
    column = 0
    for j, step in enumerate(plan.steps):
        width = 2 if step.aggregate.func is AVG else 1
        true = (
            groups.values[:, column : column + width] if len(groups.keys) else np.zeros((0, width))
        )
        column += width
        quantile_values = None
        if step.aggregate.func is QUANTILE:
            position = n_keys + sum(1 for s in plan.steps[:j] if s.aggregate.func is QUANTILE)
            by_group: dict[tuple[Any, ...], list[float]] = {}
            for values in value_rows:
                if values[position] is not None:
                    group = tuple(str(k) for k in values[:n_keys])
                    by_group.setdefault(group, []).append(values[position])
            quantile_values = [
                np.asarray(by_group.get(tuple(str(k) for k in key), []), dtype=np.float64)
                for key in groups.keys
            ]
        cells[step.aggregate.alias] = _release_step(step, true, plan, bits, quantile_values)
    columns = list(spec.columns)
    histogram = next((s.aggregate for s in plan.steps if s.aggregate.func is HISTOGRAM), None)
    rows = []
    for g, key in enumerate(groups.keys):
        row: dict[str, Any] = {k.alias: _plain(v) for k, v in zip(spec.keys, key, strict=False)}
        if histogram is not None and histogram.bins is not None:
            low, high, count = histogram.bins
            b = int(key[-1])
            row[f"{histogram.alias}_low"] = low + b * (high - low) / count
            row[f"{histogram.alias}_high"] = low + (b + 1) * (high - low) / count
        for alias, released in cells.items():
            row[alias] = released[g]
        rows.append(row)
    if histogram is not None:
        at = columns.index(histogram.alias)
        columns[at:at] = [f"{histogram.alias}_low", f"{histogram.alias}_high"]
    extra = [k.alias for k in spec.keys if k.alias not in columns]
    split = [(s.aggregate.alias, round(s.epsilon, 12)) for s in plan.steps]
    if plan.selection_epsilon > 0:
        split.append(("partition_selection", round(plan.selection_epsilon, 12)))
    if plan.estimate_epsilon > 0:
        split.append(("bounds_estimation", round(plan.estimate_epsilon, 12)))
    return Answer(
        columns=tuple(extra + columns),
        rows=tuple(rows),
        cost=plan.cost,
        dataset=name,
        unit=plan.unit.key,
        request_id=request_id,
        notes=tuple(notes(plan)),
        split=tuple(split),
        explain=tuple(explain(plan)),
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
