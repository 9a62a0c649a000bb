"""Running an automatic query: people's totals, bounds, groups, values and their bias.

The SQL reads the rows once into per-person, per-group contributions ``t`` (sums are
exact: each value, clamped to ±2^40 so nothing overflows, is rounded to the grid 2^-20
and summed as integers), and per person the L1 norm ``l`` of each component's
contributions. Every person's numbers depend on their own rows only.

After the bounds are chosen (:func:`~._automatic.bounds_measurement`), one statement
clips and sums, per group and component:

* the value: ``Σ trunc(t · min(1, C'/l) / γ)`` in steps of the noise grid γ (a power of
  two), so a person's steps add up to at most ``C/γ`` in absolute value (C' is C less
  2^-30 of it, which covers every rounding of the doubles) and the exact integer sums
  need no second rounding;
* the clipped mass, up to the reach W = ``bias_reach``·C: ``Σ trunc(t · (min(1, W'/l) −
  min(1, C'/l)) / γ_b)``, at most ``(W − C)/γ_b`` per person;
* the people counted for choosing the group: those for whom it is one of their first
  K groups in a random order keyed by the query's rng.

Each sum gets discrete Laplace noise for its L1 sensitivity; the truth of a cell is its
value plus the mass clipped from it, so ``value + bias ± (both half-widths at α/2)``
covers it with probability 1 − α when no person's total goes beyond W.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer
from shopveil.dp._bits import RandomBits
from shopveil.dp._measurement import Measurement, auto_granularity, half_width, laplace_for
from shopveil.dp._query._answer import Cell
from shopveil.dp._query._automatic import AutoPlan, Chosen, Component
from shopveil.dp._query._functions import guarded
from shopveil.dp._query._plan import PERSON, SOURCE
from shopveil.dp._selection import partition_selection_for
from shopveil.errors import ParameterError

__all__ = ["AutoSql", "Released", "check_auto", "mechanisms", "release", "render_auto"]

_FRACTION_BITS = 20  # sums are exact on the grid 2^-20
_LIMIT = 2.0**40  # each value clamped to ±2^40 first: 2^60 grid steps fit a BIGINT
_SHRINK = 1 - 2.0**-30


@dataclass(frozen=True)
class AutoSql:
    cte: str  # WITH src, pg, pp
    stats_sql: str  # per person: groups, then each component's L1 (in value units)
    keys: tuple[str, ...]
    seed: int

    def release_sql(self, plan: AutoPlan, chosen: Chosen) -> str:
        """Per group: each component's clipped sum and clipped mass, then the people."""
        keys = list(self.keys)
        ranked_keys = ", ".join(keys) or "''"
        person = "CAST(_uid AS VARCHAR)"
        key = f"md5_number(concat_ws(':', '{self.seed:d}', {person}, {ranked_keys}))"
        order = ", ".join([key, *keys])
        columns = []
        for i, (c, bound) in enumerate(zip(plan.components, chosen.bounds, strict=True)):
            unit = _unit(c)
            steps = unit / value_grid(c, bound)
            t, norm = f"CAST(t{i} AS DOUBLE)", f"CAST(l{i} AS DOUBLE)"
            keep = _factor(norm, bound * _SHRINK / unit)
            # coalesce: a table with no rows (everyone left out) still has its one group.
            columns.append(f"coalesce(sum(CAST(trunc({t} * {keep} * {steps!r}) AS BIGINT)), 0)")
            if c.exact:  # nobody's total is above the bound: nothing clipped
                columns.append("0")
                continue
            reach = bound * plan.settings.bias_reach
            bias_steps = unit / bias_grid(c, bound, plan.settings.bias_reach)
            wide = _factor(norm, reach * _SHRINK / unit)
            clipped = f"trunc({t} * ({wide} - {keep}) * {bias_steps!r})"
            columns.append(f"coalesce(sum(CAST({clipped} AS BIGINT)), 0)")
        columns.append(f"count(*) FILTER (WHERE _grank <= {chosen.groups:d})")
        ranked = (
            f"ranked AS (SELECT *, row_number() OVER (PARTITION BY _uid ORDER BY {order}) "
            "AS _grank FROM pg JOIN pp USING (_uid))"
        )
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        return f"{self.cte}, {ranked} SELECT {', '.join([*keys, *columns])} FROM ranked{group}"


def _factor(norm: str, bound: float) -> str:
    return f"(CASE WHEN {norm} > {bound!r} THEN {bound!r} / {norm} ELSE 1.0 END)"


def _unit(c: Component) -> float:
    """A contribution's unit: sums are counted in steps of 2^-20, counts in ones."""
    return 2.0**-_FRACTION_BITS if c.kind == "sum" else 1.0


def value_grid(c: Component, bound: float) -> float:
    return auto_granularity(bound / c.epsilon)


def bias_grid(c: Component, bound: float, reach: float) -> float:
    return auto_granularity(bound * (reach - 1) / c.bias_epsilon)


def render_auto(plan: AutoPlan, seed: int) -> AutoSql:
    """The statements that read the data for ``plan`` (schema only until run)."""
    spec, unit = plan.spec, plan.unit
    columns = {f"k{i}": guarded(k.expr.sql, k.expr.plain) for i, k in enumerate(spec.keys)}
    for c in plan.components:
        if c.arg is None or f"a{c.arg}" in columns:
            continue
        arg = spec.aggregates[c.arg].arg
        assert arg is not None
        if c.kind == "sum":  # an AVG's count then counts the same non-null values
            limit = f"CAST({_LIMIT!r} AS DOUBLE)"
            value = f"CAST({arg.sql} AS DOUBLE)"
            clamped = (
                f"CASE WHEN {value} > {limit} THEN {limit} WHEN {value} < -{limit} "
                f"THEN -{limit} ELSE {value} END"
            )
            scaled = f"CAST(round(({clamped}) * {2.0**_FRACTION_BITS!r}) AS BIGINT)"
            columns[f"a{c.arg}"] = guarded(scaled, False)
        else:
            columns[f"a{c.arg}"] = guarded(arg.sql, arg.plain)
    where = [f"TRY(CAST({spec.where.sql} AS BOOLEAN))"] if spec.where else []
    if isinstance(unit, PerCustomer):
        uid = PERSON
        where.append(f"{uid} IS NOT NULL")
    else:
        uid = "row_number() OVER ()"  # each row is a person
    select = ", ".join([*(f"{e} AS {n}" for n, e in columns.items()), f"{uid} AS _uid"])
    src = f"SELECT {select} FROM {SOURCE}" + (" WHERE " + " AND ".join(where) if where else "")
    # Rows outside the public keys never count towards anyone's totals.
    listed = [
        f"CAST(k{i} AS VARCHAR) IN ({', '.join(_literal(str(v)) for v in values) or 'NULL'})"
        for i, values in enumerate(plan.public_keys[: len(spec.keys)])
        if values is not None
    ]
    if listed:
        src = f"SELECT * FROM ({src}) WHERE {' AND '.join(listed)}"
    keys = tuple(f"k{i}" for i in range(len(spec.keys)))
    contributions = [_contribution(c) + f" AS t{i}" for i, c in enumerate(plan.components)]
    by = ", ".join([*keys, "_uid"])
    pg = f"SELECT {', '.join([*keys, '_uid', *contributions])} FROM src GROUP BY {by}"
    norms = [f"sum(abs(t{i})) AS l{i}" for i in range(len(plan.components))]
    pp = f"SELECT _uid, count(*) AS _m, {', '.join(norms)} FROM pg GROUP BY _uid"
    cte = f"WITH src AS ({src}), pg AS ({pg}), pp AS ({pp})"
    stats = [f"CAST(l{i} AS DOUBLE) * {_unit(c)!r}" for i, c in enumerate(plan.components)]
    stats_sql = f"{cte} SELECT {', '.join(['_m', *stats])} FROM pp"
    return AutoSql(cte, stats_sql, keys, seed)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _contribution(c: Component) -> str:
    if c.kind == "sum":
        return f"coalesce(sum(a{c.arg}), 0)"
    if c.kind == "count":
        return f"count(a{c.arg})" if c.arg is not None else "count(*)"
    return "1"


def mechanisms(c: Component, bound: float, reach: float) -> tuple[Measurement, Measurement | None]:
    """Discrete Laplace for the value's and the clipped mass's integer step sums (an
    exact component clips nothing: no second one)."""
    value_steps = int(bound // value_grid(c, bound))
    value = laplace_for(PureDP(c.epsilon), max(1, value_steps))
    if c.exact:
        return value, None
    bias_steps = int(bound * (reach - 1) // bias_grid(c, bound, reach))
    return value, laplace_for(PureDP(c.bias_epsilon), max(1, bias_steps))


def check_auto(plan: AutoPlan) -> None:
    """Build every mechanism for the extreme bounds: none can fail after the charge."""
    from shopveil.dp._query._automatic import TOTAL_GRID

    for c in plan.components:
        extremes = (1.0,) if c.exact else (float(TOTAL_GRID[0]), float(TOTAL_GRID[-1]))
        for bound in extremes:
            try:
                for m in mechanisms(c, bound, plan.settings.bias_reach):
                    if m is not None:
                        half_width(m, plan.options.alpha / 2)
            except ParameterError as exc:
                raise ParameterError(
                    f"{c.alias!r} cannot be released with ε={c.epsilon:.4g} ({exc}); "
                    "pass another --epsilon"
                ) from None
    if plan.selection_epsilon > 0:
        if not 0 < plan.options.delta < 1:
            raise ParameterError(
                f"delta must be in (0, 1) to choose GROUP BY keys privately, got "
                f"{plan.options.delta:g}; pass e.g. --delta 1e-8, or give every key's public "
                "values with --keys NAME=v1,v2"
            )
        partition_selection_for(ApproxDP(plan.selection_epsilon, plan.options.delta), 1)


@dataclass(frozen=True)
class Released:
    keys: list[tuple[Any, ...]]
    cells: dict[str, list[Cell]]  # per aggregate alias


def release(
    plan: AutoPlan,
    chosen: Chosen,
    rows: Sequence[tuple[Any, ...]],
    bits: RandomBits,
) -> Released:
    """Choose the groups, add the noise and build each cell with its bias estimate."""
    n_keys = len(plan.spec.keys)
    keys, values = _groups(plan, chosen, rows, n_keys, bits)
    alpha = plan.options.alpha
    parts: dict[str, list[tuple[float, float, float, float, float]]] = {}
    for i, (c, bound) in enumerate(zip(plan.components, chosen.bounds, strict=True)):
        m, mb = mechanisms(c, bound, plan.settings.bias_reach)
        grid = value_grid(c, bound)
        exact = np.asarray([int(v[2 * i]) for v in values], dtype=np.int64)
        noisy = np.atleast_1d(m(exact, rng=bits)) if len(keys) else np.zeros(0)
        hw = half_width(m, alpha) * grid
        if mb is None:  # nothing clipped: the bias is 0 and the noise is the only error
            parts[c.name] = [(float(v) * grid, hw, hw, 0.0, 0.0) for v in noisy.tolist()]
            continue
        bgrid = bias_grid(c, bound, plan.settings.bias_reach)
        clipped = np.asarray([int(v[2 * i + 1]) for v in values], dtype=np.int64)
        noisy_bias = np.atleast_1d(mb(clipped, rng=bits)) if len(keys) else np.zeros(0)
        hw2 = half_width(m, alpha / 2) * grid
        hwb = half_width(mb, alpha / 2) * bgrid
        parts[c.name] = [
            (float(v) * grid, hw, hw2, float(b) * bgrid, hwb)
            for v, b in zip(noisy.tolist(), noisy_bias.tolist(), strict=True)
        ]
    cells: dict[str, list[Cell]] = {}
    for agg in plan.spec.aggregates:
        if agg.alias in parts:
            cells[agg.alias] = [_cell(*p) for p in parts[agg.alias]]
        else:
            sums, counts = parts[f"{agg.alias}.sum"], parts[f"{agg.alias}.count"]
            cells[agg.alias] = [_mean(s, n) for s, n in zip(sums, counts, strict=True)]
    return Released(keys, cells)


def _groups(
    plan: AutoPlan,
    chosen: Chosen,
    rows: Sequence[tuple[Any, ...]],
    n_keys: int,
    bits: RandomBits,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    width = 2 * len(plan.components)
    public = plan.public_keys
    listed = [None if p is None else {str(v) for v in p} for p in public]
    kept = [
        row
        for row in rows
        if all(d is None or str(row[i]) in d for i, d in enumerate(listed[:n_keys]))
    ]
    if all(p is not None for p in public):
        domains = [p for p in public if p is not None]
        observed = {tuple(str(k) for k in row[:n_keys]): row[n_keys:] for row in kept}
        keys = [tuple(k) for k in _product(domains)]
        zero = (0,) * (width + 1)
        return keys, [tuple(observed.get(tuple(str(k) for k in key), zero)) for key in keys]
    people = np.asarray([int(row[-1]) for row in kept], dtype=np.int64)
    budget = ApproxDP(plan.selection_epsilon, plan.options.delta)
    select = partition_selection_for(budget, chosen.groups)
    mask = select(people, rng=bits) if len(kept) else []
    chosen_rows = [row for row, k in zip(kept, mask, strict=True) if k]
    return [tuple(r[:n_keys]) for r in chosen_rows], [tuple(r[n_keys:]) for r in chosen_rows]


def _product(domains: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    import itertools

    return list(itertools.product(*domains))


def _cell(value: float, hw: float, hw2: float, bias: float, hwb: float) -> Cell:
    return Cell(
        value,
        value - hw,
        value + hw,
        bias=bias,
        bias_error=hwb,
        low_with_bias=value + bias - hw2 - hwb,
        high_with_bias=value + bias + hw2 + hwb,
        flag=max(abs(bias - hwb), abs(bias + hwb)) > hw,
    )


def _mean(
    s: tuple[float, float, float, float, float], n: tuple[float, float, float, float, float]
) -> Cell:
    value_s, hw_s, hw2_s, bias_s, hwb_s = s
    value_n, hw_n, hw2_n, bias_n, hwb_n = n
    value = value_s / value_n if value_n > 0 else None
    low, high = _ratio((value_s - hw_s, value_s + hw_s), (value_n - hw_n, value_n + hw_n))
    true_s = (value_s + bias_s - hw2_s - hwb_s, value_s + bias_s + hw2_s + hwb_s)
    true_n = (value_n + bias_n - hw2_n - hwb_n, value_n + bias_n + hw2_n + hwb_n)
    low_b, high_b = _ratio(true_s, true_n)
    estimate = (value_s + bias_s) / (value_n + bias_n) if value_n + bias_n > 0 else None
    bias = estimate - value if estimate is not None and value is not None else None
    flag = (
        low is None
        or low_b is None
        or high is None
        or high_b is None
        or (high_b - low_b) > 2 * (high - low)
    )
    return Cell(
        value,
        low,
        high,
        bias=bias,
        bias_error=None,
        low_with_bias=low_b,
        high_with_bias=high_b,
        flag=flag,
    )


def _ratio(num: tuple[float, float], den: tuple[float, float]) -> tuple[float | None, float | None]:
    if den[0] <= 0:
        return None, None
    corners = [a / b for a in num for b in den]
    return min(corners), max(corners)
