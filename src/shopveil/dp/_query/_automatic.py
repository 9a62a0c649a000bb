"""Automatic contribution bounds: the query chooses them privately, within its own ε.

Without ``--bounds`` and ``--max-contributions``, a query bounds each person's
*total* contribution to each aggregate rather than their rows. Per aggregate, a person
has one contribution per group (their sum, their row count, or 1 for being there); all
of a person's contributions to one aggregate are scaled down together until their
absolute values add up to at most ``C`` (L1 clipping, as DP-SGD clips gradients).
Adding or removing a person then moves the released vector by at most ``C`` in L1,
however many groups they are in, so no row cap and no per-group cap are needed, and a
customer who buys in one month keeps their whole total there.

``COUNT(DISTINCT unit)`` without GROUP BY needs no search: each person contributes
exactly 1, so ``C = 1``, nothing is clipped and there is no bias to estimate. Every
other ``C`` comes from the data, privately (:func:`bounds_measurement`, ε-DP with the
stated share of the query's ε):

1. a noisy count ``n`` of the people;
2. per aggregate, two DP quantiles of the people's totals, by the exponential
   mechanism: at ``low_level``, over the grid 2^(k/2), k = −20 … 80 (whole numbers
   of groups for ``COUNT(DISTINCT unit)``); and at the highest level the budget reads
   reliably (:func:`high_level`, at least ``high_level``), over a grid from the low
   one up (:func:`above`, whole numbers for rows and groups). Where the noisy count
   says nobody is there (fewer than a few of the quantiles' noise scales, so the data
   cannot place them), both prefer small candidates: an empty or near-empty
   population gets a small bound, never one near the top of the grid;
3. the bound where about ``clipped_per_epsilon / ε`` people would be clipped, read off
   a Pareto tail through the two quantiles: clipping one more person costs about as
   much as its share of the noise saves there (the derivative of |bias| + noise in C),
   capped at ``max_factor`` times the low quantile (which, unlike the high one, many
   people on both sides keep reliable even with few people and a small ε).

Choosing GROUP BY keys privately counts each person in at most ``K`` of their groups
(a uniform sample, keyed by the query's rng), ``K`` being a DP quantile of the number
of groups per person (``groups_level``). The values themselves use every group.

Every value comes with a DP estimate of the mass clipping left out (see
:mod:`._auto_release`).
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP, Budget, PureDP
from shopveil._core.units import PerCustomer, PrivacyUnit
from shopveil.dp._accounting import compose_sequential
from shopveil.dp._bits import RandomBits
from shopveil.dp._measurement import Measurement, laplace_for
from shopveil.dp._query._plan import AutoBounds, QueryOptions
from shopveil.dp._query._spec import AggregateFunction, QuerySpec
from shopveil.dp._selection import permute_and_flip
from shopveil.errors import ParameterError

__all__ = [
    "GROUP_GRID",
    "TOTAL_GRID",
    "AutoPlan",
    "Chosen",
    "Component",
    "above",
    "bounds_measurement",
    "clip_bound",
    "compile_auto",
    "high_level",
    "make_person_quantile",
    "too_few",
]

COUNT, DISTINCT = AggregateFunction.COUNT, AggregateFunction.COUNT_DISTINCT
SUM, AVG = AggregateFunction.SUM, AggregateFunction.AVG

# Candidate bounds: a √2 grid from 2^-10 to 2^40 (few candidates: the exponential
# mechanism's error grows with their log), and group counts 1 … 32, then powers of two.
# The noisy count of people weighs as much as one quantile (noise: half their scale).
# Below _FEW quantile scales of people (an empty population reads above with
# probability e^(-12)/2) the quantiles' utilities differ too little for the data to
# place them: "nobody". Then they prefer small candidates (make_person_quantile) by
# half a scale per grid step (low) and a quarter (high): the low one is 2^-10·√2^i
# with probability below e^(-i/2), the high one 2^(i/4) times it below e^(-i/4), and
# the bound is small. With people, the data alone decides.
_COUNT_WEIGHT = 1.0
_FEW = 6.0
_LOW_TILT = 0.5
_HIGH_TILT = 0.25
TOTAL_GRID = np.array([2.0 ** (k / 2) for k in range(-20, 81)])
GROUP_GRID = np.array([*range(1, 33), *(2.0**k for k in range(6, 21))], dtype=np.float64)


@dataclass(frozen=True)
class Component:
    """One clipped sum an aggregate releases (AVG releases two: a sum and a count).

    ``kind``: ``"sum"`` (each person's sum of the argument), ``"count"`` (their rows, or
    their non-null values of ``arg``) or ``"present"`` (1 per group they are in).
    ``exact``: every person's total is exactly 1 (``COUNT(DISTINCT unit)`` without
    GROUP BY), so the bound is 1, nothing is clipped, and there is no bias to
    estimate (``bias_epsilon`` is 0).
    """

    alias: str
    part: str  # "value", or "sum" / "count" of an AVG
    kind: str
    arg: int | None  # the aggregate's index: its argument is column a{arg}
    epsilon: float  # for the value
    bias_epsilon: float  # for the estimate of the clipped mass (0 when exact)
    exact: bool = False

    @property
    def name(self) -> str:
        return self.alias if self.part == "value" else f"{self.alias}.{self.part}"

    @property
    def grid(self) -> np.ndarray:
        """The low quantile's candidates: whole numbers of groups for ``"present"``."""
        return GROUP_GRID if self.kind == "present" else TOTAL_GRID


@dataclass(frozen=True)
class AutoPlan:
    """How an automatic query spends its ε, decided before any data is read."""

    spec: QuerySpec
    options: QueryOptions
    settings: AutoBounds
    components: tuple[Component, ...]
    public_keys: tuple[tuple[Any, ...] | None, ...]
    selection_epsilon: float
    count_epsilon: float  # the noisy number of people
    quantile_epsilon: float  # each quantile of the people's totals
    groups_epsilon: float  # the quantile of groups per person (0: not needed)

    @property
    def unit(self) -> PrivacyUnit:
        assert self.options.unit is not None, "the engine decides the unit first"
        return self.options.unit

    @property
    def searched(self) -> tuple[Component, ...]:
        """The components whose bound is chosen from the data (all but the exact ones)."""
        return tuple(c for c in self.components if not c.exact)

    @property
    def bounds_epsilon(self) -> float:
        return (
            self.count_epsilon
            + 2 * len(self.searched) * self.quantile_epsilon
            + self.groups_epsilon
        )

    @property
    def cost(self) -> Budget:
        eps = self.options.epsilon.epsilon
        return ApproxDP(eps, self.options.delta) if self.selection_epsilon > 0 else PureDP(eps)

    def split(self) -> list[tuple[str, float]]:
        """(what, ε) for every release, in the order they are made."""
        out = [("bounds_selection", self.bounds_epsilon)] if self.bounds_epsilon > 0 else []
        if self.selection_epsilon > 0:
            out.append(("partition_selection", self.selection_epsilon))
        for c in self.components:
            out.append((c.name, c.epsilon))
            if not c.exact:
                out.append((f"{c.name}.bias", c.bias_epsilon))
        return [(name, round(eps, 12)) for name, eps in out]


def compile_auto(spec: QuerySpec, options: QueryOptions) -> AutoPlan:
    """Split the query's ε for automatic bounds; refuse what they do not cover."""
    settings = options.automatic
    assert settings is not None and options.unit is not None
    unit = options.unit
    kinds = []
    for j, agg in enumerate(spec.aggregates):
        kind = _kind(agg.func, agg.arg.sql if agg.arg else None, j, unit, agg.alias)
        kinds.append((agg, kind))
    public: list[tuple[Any, ...] | None] = [
        options.keys.get(k.alias, options.keys.get(k.expr.text)) for k in spec.keys
    ]
    private_keys = any(p is None for p in public)
    needs_groups = private_keys and isinstance(unit, PerCustomer) and bool(spec.keys)
    # Without GROUP BY, a person is in one group: COUNT(DISTINCT unit) counts them 1.
    exact = [kind[0] == "present" and not spec.keys for _, kind in kinds]
    eps = options.epsilon.epsilon
    bounds_eps = eps * settings.bounds_share if needs_groups or not all(exact) else 0.0
    weights = [options.weights.get(a.alias, 1.0) for a in spec.aggregates]
    selection_w = options.weights.get("selection", settings.selection_weight) if private_keys else 0
    total_w = sum(weights) + selection_w
    rest = eps - bounds_eps
    components: list[Component] = []
    for (agg, kind), w, fixed in zip(kinds, weights, exact, strict=True):
        share = rest * w / total_w
        main, bias = share * (1 - settings.bias_share), share * settings.bias_share
        if agg.func is AVG:
            components.append(Component(agg.alias, "sum", "sum", kind[1], main / 2, bias / 2))
            components.append(Component(agg.alias, "count", "count", kind[1], main / 2, bias / 2))
        elif fixed:
            components.append(Component(agg.alias, "value", kind[0], kind[1], share, 0.0, True))
        else:
            components.append(Component(agg.alias, "value", kind[0], kind[1], main, bias))
    searched = sum(not c.exact for c in components)
    shares = (_COUNT_WEIGHT if searched else 0) + 2 * searched + (1 if needs_groups else 0)
    per_statistic = bounds_eps / shares if shares else 0.0
    return AutoPlan(
        spec,
        options,
        settings,
        tuple(components),
        tuple(public),
        rest * selection_w / total_w,
        per_statistic * _COUNT_WEIGHT,
        per_statistic,
        per_statistic if needs_groups else 0.0,
    )


def _kind(
    func: AggregateFunction, arg_sql: str | None, j: int, unit: PrivacyUnit, alias: str
) -> tuple[str, int | None]:
    if func is COUNT:
        return ("count", j if arg_sql is not None else None)
    if func in (SUM, AVG):
        return ("sum", j)
    if func is DISTINCT and isinstance(unit, PerCustomer) and arg_sql == _quoted(unit.id_column):
        return ("present", None)
    raise ParameterError(
        f"{alias!r}: automatic bounds cover COUNT, COUNT(DISTINCT the privacy unit), SUM and "
        f"AVG; for {func.upper()} give the bounds yourself: --max-contributions N and "
        f"--bounds {shlex.quote(alias + '=LOW:HIGH')}"
    )


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _quantile_utilities(sorted_values: np.ndarray, grid: np.ndarray, level: float) -> np.ndarray:
    """−max(0, #{x < c} − level·n, level·n − #{x ≤ c}) for each candidate c.

    Zero where c *is* a level-quantile (an atom of many equal values included), and
    one person moves every utility by at most 1.
    """
    n = len(sorted_values)
    below = np.searchsorted(sorted_values, grid, side="left")
    upto = np.searchsorted(sorted_values, grid, side="right")
    target = level * n
    return -np.maximum(0.0, np.maximum(below - target, target - upto))


def make_person_quantile(
    level: float, grid: np.ndarray, epsilon: float, *, tilt: float = 0.0
) -> Measurement:
    """The ``level``-quantile of one value per person, among ``grid``: ε-DP per person.

    Permute-and-flip with scale 2/ε over utilities of sensitivity 1 (one person is one
    value); ``map(d) = PureDP(2d/scale)``. ``tilt`` people per grid step are taken off
    each candidate's utility (``tilt · i`` off the i-th): a data-independent
    preference for small candidates. With no people, candidate i is picked with
    probability at most ``exp(-tilt · i / scale)`` (permute-and-flip keeps a candidate
    at most with its coin's odds), so ``tilt`` of a few tenths of the scale keeps an
    empty population near the bottom of the grid.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level}")
    if not tilt >= 0:
        raise ParameterError(f"tilt must be ≥ 0, got {tilt}")
    scale = 2 / epsilon * (1 + 2**-40)
    exact_level = Fraction(level)
    penalty = tilt * np.arange(len(grid), dtype=np.float64)

    def function(data: Any, bits: RandomBits) -> float:
        values = np.sort(np.asarray(data, dtype=np.float64))
        utilities = _quantile_utilities(values, grid, level) - penalty
        below = np.searchsorted(values, grid, side="left")
        upto = np.searchsorted(values, grid, side="right")
        n = len(values)

        def exact(i: int) -> Fraction:
            target = exact_level * n
            worst = max(Fraction(0), int(below[i]) - target, target - int(upto[i]))
            return -worst - Fraction(float(penalty[i]))

        return float(grid[permute_and_flip(utilities, scale, bits, exact=exact)])

    def privacy_map(d_in: float) -> Budget:
        return PureDP(2 * d_in / scale)

    return Measurement("person_quantile", "rows", function, privacy_map, scale)


def above(low: float, *, whole: bool = False) -> np.ndarray:
    """The high quantile's candidates: ``low`` to 2^10 times it, on the grid 2^(k/4).

    Every candidate above all the values is equally poor; on the whole grid there would
    be so many that at a small ε their weight outweighs the quantile. Starting from the
    low quantile (itself DP, so this is adaptive composition) leaves few of them.
    ``whole``: the totals are whole numbers (rows, groups), so are the candidates
    (rounded up): a total many people share, say 4 months, is then a candidate rather
    than falling between two, where every candidate above it would tie with the best.
    """
    grid = low * np.array([2.0 ** (k / 4) for k in range(41)])
    return np.unique(np.ceil(grid)) if whole else grid


@dataclass(frozen=True)
class Chosen:
    """What the bounds selection released: all public from here on."""

    people: int  # noisy
    groups: int  # K: groups per person counted in choosing the groups
    quantiles: tuple[tuple[float, float], ...]  # per component: (low, high) quantile
    levels: tuple[float, ...]  # per component: the high quantile's level
    bounds: tuple[float, ...]  # per component: the clipping bound C


def bounds_measurement(plan: AutoPlan) -> Measurement:
    """Choose every bound of ``plan``: ε-DP in the people, ε = ``plan.bounds_epsilon``.

    Input: ``(groups, totals)``: per person, their number of groups and, per
    component, the sum of the absolute values of their contributions. An exact
    component's bound is 1 and reads nothing.
    """
    s = plan.settings
    searched = plan.searched
    count = laplace_for(PureDP(plan.count_epsilon), 1) if searched else None
    # Every quantile of the totals, low or high, has this one scale and privacy map.
    quantile = make_person_quantile(0.5, TOTAL_GRID, plan.quantile_epsilon) if searched else None
    groups = (
        make_person_quantile(s.groups_level, GROUP_GRID, plan.groups_epsilon)
        if plan.groups_epsilon > 0
        else None
    )

    def function(data: Any, bits: RandomBits) -> Chosen:
        per_person_groups, totals = data
        people = 0
        if count is not None:
            people = max(0, int(count(np.asarray([len(per_person_groups)]), rng=bits)[0]))
        k = int(groups(per_person_groups, rng=bits)) if groups is not None else 1
        quantiles, levels, bounds = [], [], []
        for c, values in zip(plan.components, totals, strict=True):
            if c.exact or quantile is None:
                quantiles.append((1.0, 1.0))
                levels.append(1.0)
                bounds.append(1.0)
                continue
            # Nobody, or too few to place a quantile: small candidates win, the bound is small.
            scale = quantile.scale
            nobody = too_few(plan, people)
            low_tilt, high_tilt = (_LOW_TILT * scale, _HIGH_TILT * scale) if nobody else (0, 0)
            eps = plan.quantile_epsilon
            low = make_person_quantile(s.low_level, c.grid, eps, tilt=low_tilt)
            q_low = float(low(values, rng=bits))
            level = high_level(people, scale, s, c.epsilon)
            candidates = above(q_low, whole=c.kind != "sum")
            high = make_person_quantile(level, candidates, eps, tilt=high_tilt)
            q_high = float(high(values, rng=bits))
            quantiles.append((q_low, q_high))
            levels.append(level)
            bounds.append(clip_bound(people, q_low, q_high, s, c.epsilon, level))
        return Chosen(people, k, tuple(quantiles), tuple(levels), tuple(bounds))

    def privacy_map(d_in: float) -> Budget:
        maps = [count.map(d_in)] if count is not None else []
        if quantile is not None:
            maps += [quantile.map(d_in)] * (2 * len(searched))
        if groups is not None:
            maps.append(groups.map(d_in))
        return compose_sequential(maps)

    return Measurement("contribution_bounds", "rows", function, privacy_map, 0.0)


def too_few(plan: AutoPlan, people: int) -> bool:
    """Whether ``people`` (noisy) are too few for the quantiles to read: small bounds."""
    return people < _FEW * 2 / plan.quantile_epsilon if plan.quantile_epsilon > 0 else True


def high_level(people: int, scale: float, s: AutoBounds, epsilon: float) -> float:
    """The high quantile's level: the rank from the top the bound aims at, or the
    nearest rank the budget reads reliably (twice the exponential mechanism's typical
    rank error over 41 candidates), whichever is further from the top; at least
    ``s.high_level``, at most 0.999. Post-processing of DP values only.

    Nearer the top, the candidates above every value (all equally poor) would outweigh
    the quantile: with few people or a small ε the level comes down instead.
    """
    reliable = 2 * scale * math.log(41)
    rank = max(s.clipped_per_epsilon / epsilon, reliable)
    return min(0.999, max(s.high_level, 1 - rank / max(people, 1)))


def clip_bound(
    people: int, low: float, high: float, s: AutoBounds, epsilon: float, level: float
) -> float:
    """The bound C where about ``s.clipped_per_epsilon / epsilon`` people are clipped.

    Reads a Pareto tail P(X > x) ∝ x^(−a) through the quantiles at ``s.low_level``
    (``low``) and ``level`` (``high``), then goes to the rank ``target`` from the top:
    ``C = high · (n·(1 − level) / target)^(1/a)``. A light tail (``high`` no larger
    than ``low``) or too few people gives ``high``; the bound is at most ``max_factor``
    times ``low``. Post-processing of DP values only.
    """
    low, high = min(low, high), max(low, high)
    target = s.clipped_per_epsilon / epsilon
    above_high = max(people, 1) * (1 - level)
    if high <= low or above_high <= target:
        bound = high
    else:
        a = math.log((1 - s.low_level) / (1 - level)) / math.log(high / low)
        bound = high * (above_high / target) ** (1 / a)
    return min(bound, low * s.max_factor)
