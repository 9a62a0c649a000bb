"""Query options and the compiled plan: sensitivities, budget split and the DuckDB SQL.

The compiler is small and private: it takes a parsed :class:`QuerySpec` and the
options, checks every column, derives each aggregate's sensitivity from the privacy
unit and the clamping bounds, splits ε explicitly, and writes one aggregation query.
Nothing here reads data.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopveil._core.budgets import ApproxDP, Budget, PureDP
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._query._functions import guarded
from shopveil.dp._query._parser import Aggregate, QuerySpec
from shopveil.dp._query._release import fixed_exponent
from shopveil.errors import ParameterError, QueryError, SchemaError

if TYPE_CHECKING:
    from shopveil.policy import Policy

__all__ = ["Plan", "QueryOptions", "compile_plan"]

SOURCE = "_shopveil_source"


@dataclass(frozen=True)
class QueryOptions:
    """How to answer a query privately.

    Parameters
    ----------
    epsilon
        The query's total ε, split over its aggregates (and partition selection).
    delta
        δ for choosing GROUP BY keys that were not given as public; unused otherwise.
    unit
        What one person is: ``PerRow()`` or ``PerCustomer("CustomerID", N)``; None takes
        the registered dataset's unit, or refuses data that holds customer ids.
    unit_declared
        The unit comes from the data steward (a policy's ``dp.privacy_unit``), so a
        per-row unit is honoured even where customer ids are detected.
    bounds
        Clamping bounds ``{alias or column: (low, high)}`` for SUM, AVG and quantiles.
    keys
        Public GROUP BY values ``{alias or expression: [values]}``: no selection needed.
    weights
        Relative budget shares ``{alias: weight}``; every aggregate weighs 1 by default.
    alpha
        Intervals cover the noise with probability 1 − alpha.
    estimate_bounds
        Estimate missing clamping bounds privately (with a fifth of ε) instead of
        refusing the query.
    bounds_where
        ``{name: origin}`` for bounds that did not come with the query (e.g. from a
        policy file); the answer's notes say where each bound came from.

    Use :meth:`from_policy` to take bounds and the privacy unit from a policy's ``dp:``
    section.
    """

    epsilon: PureDP
    delta: float = 1e-8
    unit: PrivacyUnit | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    keys: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    analyst: str = "-"
    purpose: str = "-"
    estimate_bounds: bool = False
    bounds_where: Mapping[str, str] = field(default_factory=dict)
    unit_declared: bool = False

    @classmethod
    def from_policy(cls, policy: Policy, *, epsilon: PureDP, **options: Any) -> QueryOptions:
        """Options with a policy's ``dp:`` defaults: its clamping bounds and privacy unit.

        What ``options`` gives wins: its ``bounds`` override the policy's name by name
        (an alias given there wins over the column's bound from the policy), its
        ``unit`` replaces the policy's. A ``purpose`` must be one of the policy's
        purposes and allow aggregate releases.

        >>> policy = load_policy("retail.yaml")                          # doctest: +SKIP
        >>> QueryOptions.from_policy(policy, epsilon=PureDP(0.5))        # doctest: +SKIP
        """
        given = dict(options.pop("bounds", {}))
        where = {
            name: f"policy {policy.name!r} ({policy.dp.bounds_where.get(name, policy.source)})"
            for name in policy.dp.bounds
            if name not in given
        }
        if "unit" not in options and policy.dp.unit is not None:
            options["unit"] = policy.dp.unit
            options["unit_declared"] = True
        purpose = options.get("purpose", "-")
        if purpose != "-":
            _check_purpose(policy, purpose)
        return cls(
            epsilon=epsilon,
            bounds={**policy.dp.bounds, **given},
            bounds_where={**where, **options.pop("bounds_where", {})},
            **options,
        )

    def __post_init__(self) -> None:
        if not isinstance(self.epsilon, PureDP) or self.epsilon.epsilon <= 0:
            raise ParameterError(
                f"epsilon must be > 0, got {self.epsilon}; pass e.g. --epsilon 0.5"
            )
        if self.unit is not None and not isinstance(self.unit, PerRow | PerCustomer):
            raise ParameterError(f"unit must be PerRow() or PerCustomer(...), got {self.unit!r}")
        ApproxDP(0.0, self.delta)
        if not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {self.alpha}")
        for name, pair in self.bounds.items():
            low, high = (float(pair[0]), float(pair[1]))
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ParameterError(f"bounds for {name!r} must be finite with low < high")
        for name, w in self.weights.items():
            if not (isinstance(w, int | float) and w > 0 and math.isfinite(w)):
                raise ParameterError(f"weight for {name!r} must be > 0, got {w!r}")
        object.__setattr__(self, "bounds", dict(self.bounds))
        object.__setattr__(self, "keys", {k: tuple(v) for k, v in self.keys.items()})
        object.__setattr__(self, "weights", dict(self.weights))
        object.__setattr__(self, "bounds_where", dict(self.bounds_where))


def _check_purpose(policy: Policy, purpose: str) -> None:
    from shopveil.policy import ReleaseMode  # the policy layer sits above dp

    policy.require_release(purpose, ReleaseMode.AGGREGATE, "aggregate (DP query) releases")


@dataclass(frozen=True)
class Step:
    """One aggregate to release: its share of ε and what bounds its sensitivity."""

    aggregate: Aggregate
    epsilon: float
    bounds: tuple[float, float] | None
    bounds_from: str = ""  # where the bounds came from, when not with the query


@dataclass(frozen=True)
class Plan:
    spec: QuerySpec
    options: QueryOptions
    steps: tuple[Step, ...]
    selection_epsilon: float  # 0 when every key has a public domain
    public_keys: tuple[tuple[Any, ...] | None, ...]  # per key: its public values or None
    sql: str
    values_sql: str | None  # raw clamped values for quantiles, per group
    estimate_epsilon: float = 0.0  # spent estimating bounds before this plan was made
    estimated: tuple[tuple[str, tuple[float, float]], ...] = ()
    # ``sql`` sums in doubles, exact for groups of fewer than 2^32 rows, and leaves a
    # larger group's sums NULL (at ``sum_columns``); ``wide_sql`` then sums in HUGEINT.
    wide_sql: str | None = None
    sum_columns: tuple[int, ...] = ()

    @property
    def unit(self) -> PrivacyUnit:
        assert self.options.unit is not None, "compile_plan sets the unit"
        return self.options.unit

    @property
    def contributions(self) -> int:
        return self.unit.max_contributions

    @property
    def cost(self) -> Budget:
        eps = self.options.epsilon.epsilon + self.estimate_epsilon
        if self.selection_epsilon > 0:
            return ApproxDP(eps, self.options.delta)
        return PureDP(eps)


def _step(agg: Aggregate, epsilon: float, options: QueryOptions) -> Step:
    if agg.func in ("count", "count_distinct"):
        return Step(agg, epsilon, None)
    if agg.func == "histogram":
        assert agg.bins is not None
        return Step(agg, epsilon, (agg.bins[0], agg.bins[1]))
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


def _clamped(sql: str, bounds: tuple[float, float]) -> str:
    # CASE runs about 1.5x faster than greatest(least(...)) in DuckDB.
    low, high = f"CAST({bounds[0]!r} AS DOUBLE)", f"CAST({bounds[1]!r} AS DOUBLE)"
    return f"CASE WHEN {sql} > {high} THEN {high} WHEN {sql} < {low} THEN {low} ELSE {sql} END"


# Every fixed-point value is below 2^21 steps (see _release), so a double sum of fewer
# than 2^32 of them never rounds, in any order or partition: such groups are summed in
# doubles (a cast per row costs more than the whole sum); larger ones in HUGEINT.
_EXACT_DOUBLE_ROWS = 2**32


def _fixed_sum(sql: str, bounds: tuple[float, float], *, wide: bool) -> str:
    # Clamped, then rounded to the grid 2^-m as an integer: the sum's sensitivity then
    # holds exactly (see _release). NaN and ±inf clamp to a bound, so nothing can fail.
    scale = 2.0 ** fixed_exponent(bounds)
    grid = f"round({_clamped(sql, bounds)} * {scale!r})"  # the same integers either way
    if wide:
        return f"coalesce(sum(CAST({grid} AS BIGINT)), 0)"
    exact = f"coalesce(sum({grid}), 0)"
    return f"CASE WHEN count(*) < {_EXACT_DOUBLE_ROWS} THEN {exact} END"


def compile_plan(spec: QuerySpec, options: QueryOptions, columns: list[str]) -> Plan:
    """Check ``spec`` against the table's ``columns`` and build the plan."""
    known = set(columns)
    unit = options.unit
    if unit is None:
        raise ParameterError("the query's privacy unit must be decided before compiling it")
    referenced = set().union(*(a.arg.columns for a in spec.aggregates if a.arg))
    referenced |= set().union(*(k.expr.columns for k in spec.keys))
    if spec.where:
        referenced |= spec.where.columns
    if isinstance(unit, PerCustomer):
        referenced.add(unit.id_column)
    missing = sorted(referenced - known)
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
    histograms = [a for a in spec.aggregates if a.func == "histogram"]
    if len(histograms) > 1:
        raise QueryError("at most one HISTOGRAM per query")

    weights = [options.weights.get(a.alias, 1.0) for a in spec.aggregates]
    public: list[tuple[Any, ...] | None] = [
        options.keys.get(k.alias, options.keys.get(k.expr.text)) for k in spec.keys
    ]
    if histograms:
        assert histograms[0].bins is not None
        public.append(tuple(range(histograms[0].bins[2])))
    needs_selection = any(p is None for p in public)
    selection_weight = options.weights.get("selection", 1.0) if needs_selection else 0.0
    total_weight = sum(weights) + selection_weight
    eps = options.epsilon.epsilon
    steps = tuple(
        _step(a, eps * w / total_weight, options)
        for a, w in zip(spec.aggregates, weights, strict=True)
    )

    # Every expression that could fail on some value runs under TRY (see _functions):
    # a row it fails on is excluded or NULL, so no error can depend on the data.
    # WHERE casts a text condition to BOOLEAN, which can fail: cast inside the TRY.
    where = [guarded(f"CAST({spec.where.sql} AS BOOLEAN)", False)] if spec.where else []
    base = [f"{guarded(k.expr.sql, k.expr.plain)} AS k{i}" for i, k in enumerate(spec.keys)]
    if histograms:
        h = histograms[0]
        assert h.arg is not None and h.bins is not None
        low, high, n = h.bins
        width = (high - low) / n
        clamped = _clamped(f"CAST({h.arg.sql} AS DOUBLE)", (low, high))
        binned = f"least(CAST(floor(({clamped} - {low!r}) / {width!r}) AS BIGINT), {n - 1})"
        base.append(f"{guarded(binned, False)} AS k{len(spec.keys)}")
    n_keys = len(base)
    for j, step in enumerate(steps):
        if step.aggregate.arg is not None:
            arg = step.aggregate.arg.sql
            if step.aggregate.func in ("sum", "avg", "quantile"):
                arg = f"CAST({arg} AS DOUBLE)"  # clamped once here, as a double
            # A plain column cast to DOUBLE cannot fail: check_numeric refused text.
            base.append(f"{guarded(arg, step.aggregate.arg.plain)} AS a{j}")
    if isinstance(unit, PerCustomer):
        uid = '"' + unit.id_column.replace('"', '""') + '"'
        base.extend([f"{uid} AS _uid", "random() AS _r"])
        where.append(f"{uid} IS NOT NULL")
    source = f"SELECT {', '.join(base) or '1 AS _one'} FROM {SOURCE}"
    if where:
        source += " WHERE " + " AND ".join(where)
    if isinstance(unit, PerCustomer):
        # Contribution bounding: keep at most N rows per customer, chosen at random.
        source = (
            f"SELECT * FROM ({source}) QUALIFY row_number() OVER (PARTITION BY _uid ORDER BY _r) "
            f"<= {unit.max_contributions}"
        )
    outputs = [f"k{i}" for i in range(n_keys)]
    wide = list(outputs)
    sum_columns = []
    for j, step in enumerate(steps):
        a, b = step.aggregate, step.bounds
        if a.func in ("sum", "avg"):
            assert b is not None
            sum_columns.append(len(outputs))
            outputs.append(_fixed_sum(f"a{j}", b, wide=False))
            wide.append(_fixed_sum(f"a{j}", b, wide=True))
            if a.func == "avg":
                outputs.append(f"count(a{j})")
                wide.append(outputs[-1])
            continue
        if a.func in ("count", "histogram"):
            outputs.append(f"count({'a' + str(j) if a.arg and a.func == 'count' else '*'})")
        elif a.func == "count_distinct":
            outputs.append(f"count(DISTINCT a{j})")
        else:  # quantile: released from the values query
            outputs.append("0")
        wide.append(outputs[-1])
    # Units per group matter only to partition selection.
    if not needs_selection:
        outputs.append("0")
    elif isinstance(unit, PerCustomer):
        outputs.append("count(DISTINCT _uid)")
    else:
        outputs.append("count(*)")
    wide.append(outputs[-1])
    group = f" GROUP BY {', '.join(f'k{i}' for i in range(n_keys))}" if n_keys else ""
    sql = f"WITH bounded AS ({source}) SELECT {', '.join(outputs)} FROM bounded{group}"
    wide_sql = f"WITH bounded AS ({source}) SELECT {', '.join(wide)} FROM bounded{group}"
    values_sql = None
    quantiles = [(j, s) for j, s in enumerate(steps) if s.aggregate.func == "quantile"]
    if quantiles:
        cols = [f"k{i}" for i in range(n_keys)]
        for j, s in quantiles:
            assert s.bounds is not None
            cols.append(f"{_clamped(f'a{j}', s.bounds)} AS q{j}")
        values_sql = f"WITH bounded AS ({source}) SELECT {', '.join(cols)} FROM bounded"
    return Plan(
        spec,
        options,
        steps,
        eps * selection_weight / total_weight,
        tuple(public),
        sql,
        values_sql,
        wide_sql=wide_sql if sum_columns else None,
        sum_columns=tuple(sum_columns),
    )
