"""Query options, and the plan a query compiles into (:mod:`._compile`).

A plan says what each aggregate releases with which share of ε and which clamping
bounds, which group keys are public, and the DuckDB statements that compute the exact
aggregates. Nothing here reads data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopveil._core.budgets import ApproxDP, Budget, PureDP
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._query._spec import Aggregate, QuerySpec
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil.policy import Policy

__all__ = ["PERSON", "SOURCE", "AutoBounds", "Plan", "QueryOptions", "Step"]

SOURCE = "_shopveil_source"  # the registered data, less the people left out
# Per customer, SOURCE's column of each row's person (the ledger's hash of the canonical
# id): bounding and partition selection count people, not the spellings of their ids.
PERSON = "_shopveil_person"


@dataclass(frozen=True)
class AutoBounds:
    """How a query chooses its own contribution bounds, privately, within its ε.

    Each person's contributions to an aggregate, one per group, are clipped together:
    their absolute values may add up to at most ``C`` (larger ones are scaled down), so
    one person moves the released vector by at most ``C`` whatever the number of groups.
    ``C`` is chosen from DP quantiles of the people's totals (see :mod:`._automatic`).

    Parameters
    ----------
    bounds_share
        Share of the query's ε spent choosing the bounds (and, for private keys, how
        many groups of each person count towards choosing the groups).
    bias_share
        Share of each aggregate's ε spent on the estimate of what clipping left out.
    selection_weight
        Choosing the groups privately weighs this much against one aggregate.
    low_level, high_level
        The two DP quantiles of the people's totals that the bound is read from: the
        low one, and a high one at least at ``high_level``: as high as the budget
        reads reliably, given the number of people and ε.
    clipped_per_epsilon
        The bound aims at about ``clipped_per_epsilon / ε`` people clipped, the point
        where clipping one more person costs about as much as the noise saves.
    max_factor
        The bound is at most this many times the ``low_level`` quantile.
    groups_level
        Quantile of the number of groups per person counted in choosing the groups.
    bias_reach
        The clipped mass is estimated up to ``bias_reach`` times the bound: the interval
        that includes the bias holds when nobody's total goes beyond that.
    """

    bounds_share: float = 0.2
    bias_share: float = 0.15
    selection_weight: float = 1.0
    low_level: float = 0.5
    high_level: float = 0.75
    clipped_per_epsilon: float = 16.0
    max_factor: float = 128.0
    groups_level: float = 0.5
    bias_reach: float = 4.0

    def __post_init__(self) -> None:
        for name in ("bounds_share", "bias_share", "low_level", "high_level", "groups_level"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value < 1):
                raise ParameterError(f"{name} must be in (0, 1), got {value!r}")
        if not self.low_level < self.high_level:
            raise ParameterError(
                f"low_level must be below high_level, got {self.low_level} and {self.high_level}"
            )
        for name in ("selection_weight", "clipped_per_epsilon"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value < math.inf):
                raise ParameterError(f"{name} must be finite and > 0, got {value!r}")
        for name in ("max_factor", "bias_reach"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 1 < value < math.inf):
                raise ParameterError(f"{name} must be finite and > 1, got {value!r}")


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
    automatic
        Choose the contribution bounds privately (:class:`AutoBounds`) instead of
        taking ``bounds`` and the unit's ``max_contributions``: each person's total per
        aggregate is clipped, and every value comes with an estimate of the clipping's
        bias. Covers COUNT, COUNT(DISTINCT unit), SUM and AVG.
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
    automatic: AutoBounds | None = None

    @classmethod
    def from_policy(cls, policy: Policy, *, epsilon: PureDP, **options: Any) -> QueryOptions:
        """Options with a policy's ``dp:`` defaults: its clamping bounds and privacy unit.

        What ``options`` gives wins: its ``bounds`` override the policy's name by name
        (an alias given there wins over the column's bound from the policy), its
        ``unit`` replaces the policy's. A ``purpose`` must be one of the policy's
        purposes and allow aggregate releases, and ``epsilon`` stay within the policy's
        ``epsilon_cap`` (:class:`PolicyError` otherwise).

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
        policy.processing.check_epsilon(epsilon.epsilon)
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
        if self.automatic is not None:
            if not isinstance(self.automatic, AutoBounds):
                raise ParameterError(f"automatic must be AutoBounds(), got {self.automatic!r}")
            if self.bounds or self.estimate_bounds:
                raise ParameterError(
                    "automatic bounds choose every bound; leave out bounds and estimate_bounds"
                )
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
    # ``sql`` sums in doubles, exact for groups of fewer than 2^32 rows, and leaves a
    # larger group's sums NULL (at ``sum_columns``); ``wide_sql`` then sums in HUGEINT.
    wide_sql: str | None
    sum_columns: tuple[int, ...]
    estimate_epsilon: float = 0.0  # spent estimating bounds before this plan was made
    estimated: tuple[tuple[str, tuple[float, float]], ...] = ()

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
