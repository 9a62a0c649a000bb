"""Compiling a parsed query into a :class:`Plan`: validate, allocate, render.

1. :func:`validate_query` checks the query against the table and the privacy unit: every
   column exists, no group key is the unit itself, at most one histogram.
2. :func:`_allocate` splits ε over the aggregates by their weights (and over choosing
   the groups privately, when some key has no public values), and gives each aggregate
   that clamps its bounds.
3. :func:`~._render.render_sql` writes the DuckDB statements.

Nothing here reads data: a query that fails to compile charges nothing.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from shopveil._core.units import PerCustomer, PrivacyUnit
from shopveil.dp._query._plan import Plan, QueryOptions, Step
from shopveil.dp._query._render import render_sql
from shopveil.dp._query._spec import Aggregate, AggregateFunction, QuerySpec
from shopveil.errors import ParameterError, QueryError, SchemaError

__all__ = ["compile_plan", "validate_query"]


def compile_plan(spec: QuerySpec, options: QueryOptions, columns: list[str], *, seed: int) -> Plan:
    """Check ``spec`` against the table's ``columns`` and build its plan.

    ``seed`` keys which rows of each person contribution bounding keeps; draw it from
    the query's rng (:func:`~._bounding.bounding_seed`).
    """
    unit = validate_query(spec, options, columns)
    budget = _allocate(spec, options)
    sql = render_sql(spec, budget.steps, unit, selection=budget.selection_epsilon > 0, seed=seed)
    return Plan(
        spec,
        options,
        budget.steps,
        budget.selection_epsilon,
        budget.public_keys,
        sql.sql,
        sql.values_sql,
        sql.wide_sql,
        sql.sum_columns,
    )


def validate_query(spec: QuerySpec, options: QueryOptions, columns: list[str]) -> PrivacyUnit:
    """The query's unit, once the query is known to fit the table; raise otherwise."""
    unit = options.unit
    if unit is None:
        raise ParameterError("the query's privacy unit must be decided before compiling it")
    referenced = set().union(*(a.arg.columns for a in spec.aggregates if a.arg))
    referenced |= set().union(*(k.expr.columns for k in spec.keys))
    if spec.where:
        referenced |= spec.where.columns
    if isinstance(unit, PerCustomer):
        referenced.add(unit.id_column)
    missing = sorted(referenced - set(columns))
    if missing:
        raise SchemaError(
            f"unknown column(s) {', '.join(map(repr, missing))}; the table has: "
            f"{', '.join(columns)}"
        )
    if isinstance(unit, PerCustomer):
        for key in spec.keys:
            if unit.id_column in key.expr.columns:
                raise QueryError(
                    f"grouping by the privacy unit {unit.id_column!r} would release "
                    "per-customer rows; group by something else"
                )
    if sum(a.func is AggregateFunction.HISTOGRAM for a in spec.aggregates) > 1:
        raise QueryError("at most one HISTOGRAM per query")
    return unit


@dataclass(frozen=True)
class _Allocation:
    steps: tuple[Step, ...]
    selection_epsilon: float  # 0 when every key has public values
    public_keys: tuple[tuple[Any, ...] | None, ...]  # per key (a histogram's bins last)


def _allocate(spec: QuerySpec, options: QueryOptions) -> _Allocation:
    """ε split by weight over the aggregates and the choice of groups; each one's bounds."""
    public: list[tuple[Any, ...] | None] = [
        options.keys.get(k.alias, options.keys.get(k.expr.text)) for k in spec.keys
    ]
    for a in spec.aggregates:
        if a.func is AggregateFunction.HISTOGRAM and a.bins is not None:
            public.append(tuple(range(a.bins[2])))  # its bins: a public key
    weights = [options.weights.get(a.alias, 1.0) for a in spec.aggregates]
    private_keys = any(p is None for p in public)
    selection = options.weights.get("selection", 1.0) if private_keys else 0.0
    total, eps = sum(weights) + selection, options.epsilon.epsilon
    steps = tuple(
        _step(a, eps * w / total, options) for a, w in zip(spec.aggregates, weights, strict=True)
    )
    return _Allocation(steps, eps * selection / total, tuple(public))


def _step(agg: Aggregate, epsilon: float, options: QueryOptions) -> Step:
    """One aggregate's release: counts need no bounds, a histogram has its range."""
    if agg.func.is_count:
        return Step(agg, epsilon, (agg.bins[0], agg.bins[1]) if agg.bins else None)
    assert agg.arg is not None
    for name in (agg.alias, agg.arg.text):
        if name in options.bounds:
            low, high = options.bounds[name]
            return Step(agg, epsilon, (float(low), float(high)), options.bounds_where.get(name, ""))
    raise ParameterError(
        f"missing bounds for {agg.alias!r}: {agg.func.upper()} needs clamping bounds; pass "
        f"--bounds {shlex.quote(agg.alias + '=LOW:HIGH')}, or --estimate-bounds to spend "
        "part of ε on them"
    )
