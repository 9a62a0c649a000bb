"""A parsed DP query as immutable values: expressions, aggregates, group keys.

The parser (:mod:`._parser`) makes them; the compiler (:mod:`._compile`) reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Aggregate", "AggregateFunction", "Expr", "GroupKey", "QuerySpec"]


@dataclass(frozen=True)
class Expr:
    """A checked scalar expression: its DuckDB SQL, the columns it reads, its text.

    ``plain`` marks a bare column or a literal: evaluating it cannot fail.
    """

    sql: str
    columns: frozenset[str]
    text: str
    plain: bool = False


class AggregateFunction(StrEnum):
    """What an aggregate releases; ``MEDIAN(x)`` is ``QUANTILE(x, 0.5)``."""

    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    AVG = "avg"
    QUANTILE = "quantile"
    HISTOGRAM = "histogram"

    @property
    def is_count(self) -> bool:
        """Released as noisy counts: a person moves each by at most their rows."""
        return self in _COUNTS

    @property
    def clamps(self) -> bool:
        """Clamps its values to bounds (given, declared by a policy, or estimated)."""
        return self in _CLAMPED


_COUNTS = frozenset(
    {AggregateFunction.COUNT, AggregateFunction.COUNT_DISTINCT, AggregateFunction.HISTOGRAM}
)
_CLAMPED = frozenset({AggregateFunction.SUM, AggregateFunction.AVG, AggregateFunction.QUANTILE})


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of the select list."""

    func: AggregateFunction
    arg: Expr | None
    alias: str
    quantile: float | None = None
    bins: tuple[float, float, int] | None = None


@dataclass(frozen=True)
class GroupKey:
    expr: Expr
    alias: str


@dataclass(frozen=True)
class QuerySpec:
    """A parsed query: nothing in it has touched data yet."""

    table: str
    aggregates: tuple[Aggregate, ...]
    keys: tuple[GroupKey, ...]
    where: Expr | None
    columns: tuple[str, ...]  # output columns, in select order
