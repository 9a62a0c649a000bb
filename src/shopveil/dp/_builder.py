"""A Python builder for DP queries: the same engine as the SQL text, no string assembly.

>>> q = Query("orders").where("Country = 'France'").group_by("month(InvoiceDate)")
>>> q = q.count().sum("Quantity * UnitPrice", bounds=(0, 500), alias="revenue")
>>> print(q.to_sql())  # doctest: +NORMALIZE_WHITESPACE
SELECT month(InvoiceDate), COUNT(*) AS count, SUM(Quantity * UnitPrice) AS revenue
FROM orders WHERE Country = 'France' GROUP BY month(InvoiceDate)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shopveil._core.budgets import PureDP
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PrivacyUnit
from shopveil.dp._bits import Rng
from shopveil.dp._ledger import Ledger
from shopveil.dp._query._answer import Answer
from shopveil.dp._query._engine import run_query
from shopveil.dp._query._parser import parse_expression
from shopveil.dp._query._plan import AutoBounds, QueryOptions
from shopveil.errors import ParameterError

__all__ = ["Query"]


def _name(name: str) -> str:
    if name.isidentifier():
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Query:
    """An immutable DP query; every method returns a new one."""

    table: str
    items: tuple[tuple[str, str], ...] = ()  # (sql, alias)
    condition: str | None = None
    keys: tuple[str, ...] = ()
    public_keys: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    bounds: tuple[tuple[str, tuple[float, float]], ...] = ()
    weights: tuple[tuple[str, float], ...] = ()

    def where(self, condition: str) -> Query:
        """This query with a row filter (SQL condition text)."""
        parse_expression(condition)
        return replace(self, condition=condition)

    def group_by(self, *exprs: str, keys: Mapping[str, Sequence[Any]] | None = None) -> Query:
        """Group by ``exprs``; ``keys`` gives public values for some of them."""
        for e in exprs:
            parse_expression(e)
        public = tuple((k, tuple(v)) for k, v in (keys or {}).items())
        return replace(self, keys=self.keys + exprs, public_keys=self.public_keys + public)

    def _add(
        self, sql: str, alias: str, weight: float, bounds: tuple[float, float] | None = None
    ) -> Query:
        if any(a == alias for _, a in self.items):
            raise ParameterError(f"alias {alias!r} is used twice; pass alias=...")
        new = replace(self, items=(*self.items, (sql, alias)))
        new = replace(new, weights=(*new.weights, (alias, float(weight))))
        if bounds is not None:
            new = replace(new, bounds=(*new.bounds, (alias, (float(bounds[0]), float(bounds[1])))))
        return new

    def count(self, *, alias: str = "count", weight: float = 1.0) -> Query:
        """This query with a noisy row count added."""
        return self._add("COUNT(*)", alias, weight)

    def count_distinct(self, expr: str, *, alias: str | None = None, weight: float = 1.0) -> Query:
        """This query with a noisy count of distinct ``expr`` values added."""
        parse_expression(expr)
        return self._add(f"COUNT(DISTINCT {expr})", alias or f"distinct_{expr}", weight)

    def sum(
        self,
        expr: str,
        *,
        bounds: tuple[float, float],
        alias: str | None = None,
        weight: float = 1.0,
    ) -> Query:
        """This query with a noisy sum of ``expr``, clamped to ``bounds``, added."""
        parse_expression(expr)
        return self._add(f"SUM({expr})", alias or f"sum_{expr}", weight, bounds)

    def avg(
        self,
        expr: str,
        *,
        bounds: tuple[float, float],
        alias: str | None = None,
        weight: float = 1.0,
    ) -> Query:
        """This query with a noisy mean of ``expr``, clamped to ``bounds``, added."""
        parse_expression(expr)
        return self._add(f"AVG({expr})", alias or f"avg_{expr}", weight, bounds)

    def quantile(
        self,
        expr: str,
        q: float,
        *,
        bounds: tuple[float, float],
        alias: str | None = None,
        weight: float = 1.0,
    ) -> Query:
        """This query with a DP ``q``-quantile of ``expr`` within ``bounds`` added."""
        parse_expression(expr)
        return self._add(
            f"QUANTILE({expr}, {float(q)!r})", alias or f"q{q:g}_{expr}", weight, bounds
        )

    def median(
        self,
        expr: str,
        *,
        bounds: tuple[float, float],
        alias: str | None = None,
        weight: float = 1.0,
    ) -> Query:
        """This query with a DP median of ``expr`` within ``bounds`` added."""
        return self.quantile(
            expr, 0.5, bounds=bounds, alias=alias or f"median_{expr}", weight=weight
        )

    def histogram(
        self, expr: str, low: float, high: float, bins: int, *, alias: str = "histogram"
    ) -> Query:
        """This query with a noisy histogram of ``expr`` over ``bins`` bins of [low, high)."""
        parse_expression(expr)
        return self._add(
            f"HISTOGRAM({expr}, {float(low)!r}, {float(high)!r}, {int(bins)})", alias, 1.0
        )

    def to_sql(self) -> str:
        """The SQL text this query runs as."""
        if not self.items:
            raise ParameterError("add an aggregate first, e.g. .count()")
        select = [*self.keys, *(f"{sql} AS {_name(alias)}" for sql, alias in self.items)]
        text = f"SELECT {', '.join(select)} FROM {_name(self.table)}"
        if self.condition:
            text += f" WHERE {self.condition}"
        if self.keys:
            text += f" GROUP BY {', '.join(self.keys)}"
        return text

    def run(
        self,
        data: Any,
        *,
        epsilon: PureDP,
        ledger: Ledger,
        unit: PrivacyUnit | None = None,
        delta: float = 1e-8,
        alpha: float = 0.05,
        analyst: str = "-",
        purpose: str = "-",
        request_id: str | None = None,
        estimate_bounds: bool = False,
        automatic: AutoBounds | None = None,
        rng: Rng = None,
        subjects: SubjectFilter | None = None,
    ) -> Answer:
        """Run on ``data`` (a path, or an in-memory table registered as ``self.table``).

        ``unit`` None takes a registered dataset's unit, and refuses data that holds
        customer ids (see :func:`~shopveil.dp.run_query`); ``subjects`` withholds the
        customers the consent register does not allow. ``automatic=AutoBounds()`` chooses
        the bounds privately (give no ``bounds=`` then).
        """
        options = QueryOptions(
            epsilon=epsilon,
            delta=delta,
            unit=unit,
            bounds=dict(self.bounds),
            keys=dict(self.public_keys),
            weights=dict(self.weights),
            alpha=alpha,
            analyst=analyst,
            purpose=purpose,
            estimate_bounds=estimate_bounds,
            automatic=automatic,
        )
        return run_query(
            self.to_sql(),
            data,
            options=options,
            ledger=ledger,
            table=self.table,
            request_id=request_id,
            rng=rng,
            subjects=subjects,
        )
