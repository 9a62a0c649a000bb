"""Releasing a compiled query's exact aggregates: choose the groups, add noise, build the
answer. The same for every engine that computed them (DuckDB here, Spark in ``._spark``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP
from shopveil.dp._bits import RandomBits
from shopveil.dp._ledger import Charge, Ledger
from shopveil.dp._measurement import half_width
from shopveil.dp._query._answer import Answer, Cell
from shopveil.dp._query._notes import explain, notes
from shopveil.dp._query._plan import Plan, Step
from shopveil.dp._query._release import (
    QUANTILE_CANDIDATES,
    count_mechanism,
    quantile_mechanism,
    release_sums,
    sum_mechanism,
)
from shopveil.dp._query._spec import AggregateFunction
from shopveil.dp._query._target import Target
from shopveil.dp._selection import partition_selection_for
from shopveil.errors import ParameterError

__all__ = ["finish", "replayed"]

AVG, QUANTILE, HISTOGRAM = (
    AggregateFunction.AVG,
    AggregateFunction.QUANTILE,
    AggregateFunction.HISTOGRAM,
)


def finish(
    plan: Plan,
    target: Target,
    rows: list[tuple[Any, ...]],
    value_rows: list[tuple[Any, ...]],
    bits: RandomBits,
    charge: Charge,
    ledger: Ledger,
    request_id: str | None,
) -> Answer:
    """The answer from the exact aggregates ``rows`` (``plan.sql``'s), stored with its
    charge when the caller gave a request id."""
    groups = _select_groups(plan, rows, bits)
    answer = _build(plan, target.dataset, groups, value_rows, bits, charge.request_id)
    if target.withheld is not None:
        answer = replace(answer, notes=(*answer.notes, target.withheld.note))
    if request_id is not None:
        ledger.record_answer(request_id, answer.to_json())
    return answer.with_budget(
        charge.remaining, charge.total, default=charge.is_default, replayed=False
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


def replayed(charge: Charge) -> Answer:
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
