"""Clamping bounds estimated privately, for aggregates the caller gave none.

A fixed share of the query's ε (:data:`ESTIMATE_SHARE`) is split over the aggregates
that need bounds; for each, the 98th percentile of the positive part and of the
negative part of its values (after the WHERE filter and contribution bounding) are
chosen by the exponential mechanism over the public grid 0, 2⁻⁸, …, 2⁴⁰, giving the
bounds [−m, M]. The utility is −|#{v ≤ c} − 0.98·n| (sensitivity N) minus the grid
index, a data-independent tie-break that prefers the smaller of equally good bounds.
The values are never looked at otherwise, so the bounds cost exactly that share.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from shopveil.dp._bits import RandomBits
from shopveil.dp._query._compile import compile_plan
from shopveil.dp._query._plan import QueryOptions
from shopveil.dp._query._spec import Aggregate, AggregateFunction, QuerySpec
from shopveil.dp._selection import make_exponential_mechanism

__all__ = ["ESTIMATE_SHARE", "estimate_bounds", "missing_bounds"]

ESTIMATE_SHARE = 0.2
_WIDE = 2.0**40
_GRID = np.array([0.0, *(2.0**k for k in range(-8, 41))])
_LEVEL = 0.98


def missing_bounds(spec: QuerySpec, options: QueryOptions) -> list[Aggregate]:
    """The aggregates that need clamping bounds and have none in ``options``."""
    return [
        a
        for a in spec.aggregates
        if a.func.clamps
        and a.arg is not None
        and a.alias not in options.bounds
        and a.arg.text not in options.bounds
    ]


def estimate_bounds(
    spec: QuerySpec,
    options: QueryOptions,
    columns: list[str],
    fetch: Any,
    epsilon: float,
    bits: RandomBits,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Private (low, high) bounds for each aggregate of :func:`missing_bounds`.

    ``seed`` keys contribution bounding, as in the query whose bounds these are.
    """
    missing = missing_bounds(spec, options)
    if not missing:
        return {}
    # Each bound is one quantile release; a unit moves ranks by at most N.
    per_bound = epsilon / (2 * len(missing))
    assert options.unit is not None, "the engine decides the unit first"
    scale = 2 * options.unit.max_contributions / per_bound * (1 + 2**-40)
    out: dict[str, tuple[float, float]] = {}
    for agg in missing:
        probe = QuerySpec(
            spec.table,
            (Aggregate(AggregateFunction.QUANTILE, agg.arg, "_probe", 0.5),),
            (),
            spec.where,
            ("_probe",),
        )
        probe_options = replace(options, bounds={"_probe": (-_WIDE, _WIDE)}, keys={})
        plan = compile_plan(probe, probe_options, columns, seed=seed)
        assert plan.values_sql is not None
        values = np.asarray(
            [row[-1] for row in fetch(plan.values_sql) if row[-1] is not None], dtype=np.float64
        )
        pick = make_exponential_mechanism(scale)
        high = float(_GRID[pick(_utilities(np.maximum(values, 0.0)), rng=bits)])
        low = -float(_GRID[pick(_utilities(np.maximum(-values, 0.0)), rng=bits)])
        if high <= low:
            high = float(_GRID[1])
        out[agg.alias] = (low, high)
    return out


def _utilities(magnitudes: np.ndarray) -> np.ndarray:
    ranks = np.searchsorted(np.sort(magnitudes), _GRID, side="right")
    return -np.abs(ranks - _LEVEL * len(magnitudes)) - np.arange(len(_GRID))
