"""The DuckDB SQL of a compiled query: one bounded source, then its aggregates per group.

Every statement reads the same ``bounded`` rows: those that pass WHERE, as the group
keys ``k0, k1, …`` (a histogram's bin last), each aggregate's argument ``a0, a1, …``
and, per customer, the person ``_uid``, at most N rows of each (``_bounding``). Over
them, ``sql`` aggregates per group with sums in doubles, ``wide_sql`` (only when there
are sums) the same with sums in HUGEINT, and ``values_sql`` lists the clamped values
quantiles are chosen from. The last column of ``sql`` and ``wide_sql`` counts the
people (or rows) of each group, for partition selection.

Every expression that could fail on some value runs under TRY (see ``_functions``): a
row it fails on is excluded or NULL, so no error can depend on the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shopveil._core.units import PerCustomer, PrivacyUnit
from shopveil.dp._query._bounding import bound_contributions
from shopveil.dp._query._functions import guarded
from shopveil.dp._query._plan import PERSON, SOURCE, Step
from shopveil.dp._query._release import fixed_exponent
from shopveil.dp._query._spec import Aggregate, AggregateFunction, QuerySpec

__all__ = ["PersonRows", "QuerySql", "person_rows", "render_sql"]

SUM, AVG, QUANTILE = AggregateFunction.SUM, AggregateFunction.AVG, AggregateFunction.QUANTILE

# Every fixed-point value is below 2^21 steps (see _release), so a double sum of fewer
# than 2^32 of them never rounds, in any order or partition: such groups are summed in
# doubles (a cast per row costs more than the whole sum); larger ones in HUGEINT.
_EXACT_DOUBLE_ROWS = 2**32


@dataclass(frozen=True)
class QuerySql:
    sql: str
    wide_sql: str | None
    values_sql: str | None
    sum_columns: tuple[int, ...]  # where ``sql`` leaves NULL a sum too large for doubles


def render_sql(
    spec: QuerySpec,
    steps: Sequence[Step],
    unit: PrivacyUnit,
    *,
    selection: bool,
    seed: int,
) -> QuerySql:
    """The statements of a plan; ``selection``: groups are chosen privately (count people).

    ``seed`` keys the choice of each person's rows (:mod:`._bounding`).
    """
    histogram = _histogram(spec)
    keys = [f"k{i}" for i in range(len(spec.keys) + (histogram is not None))]
    bounded = f"WITH bounded AS ({_source(spec, steps, unit, seed)})"
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    doubles, hugeints, sums = _aggregates(steps, first=len(keys))
    people = _people(unit) if selection else "0"
    sql = f"{bounded} SELECT {', '.join([*keys, *doubles, people])} FROM bounded{group}"
    wide = f"{bounded} SELECT {', '.join([*keys, *hugeints, people])} FROM bounded{group}"
    return QuerySql(sql, wide if sums else None, _values(bounded, keys, steps), tuple(sums))


def _histogram(spec: QuerySpec) -> Aggregate | None:
    return next((a for a in spec.aggregates if a.func is AggregateFunction.HISTOGRAM), None)


def _source(spec: QuerySpec, steps: Sequence[Step], unit: PrivacyUnit, seed: int) -> str:
    """The rows every statement reads: filtered, as keys and arguments, bounded per person."""
    rows = person_rows(spec, steps, unit, person=PERSON)
    if not isinstance(unit, PerCustomer):
        return rows.sql
    return bound_contributions(
        rows.sql, "_uid", rows.values, unit.max_contributions, seed, key_text="_idtext"
    )


@dataclass(frozen=True)
class PersonRows:
    """The rows of a query before contribution bounding, and what they hold.

    ``sql`` reads ``SOURCE``: the rows that pass WHERE as the keys ``k0, k1, …`` and the
    arguments ``a0, a1, …`` (``values``, which rank a person's rows) and, per customer,
    the person ``_uid`` (never null). With ``grid``, each clamped argument's fixed-point
    integer ``g<j>`` follows (what its sum adds up) and ``_uid`` as text, ``_uidtext``
    (what bounding keys a person's rows by).
    """

    sql: str
    values: list[str]
    grids: dict[int, str]


def person_rows(
    spec: QuerySpec,
    steps: Sequence[Step],
    unit: PrivacyUnit,
    *,
    grid: bool = False,
    person: str | None = None,
) -> PersonRows:
    """The rows of ``spec`` before bounding (:class:`PersonRows`).

    ``person`` names the column of each row's person (:data:`PERSON`); without it the
    unit's id column stands for the person (rows whose ids were made canonical first).
    """
    histogram = _histogram(spec)
    columns = {f"k{i}": guarded(k.expr.sql, k.expr.plain) for i, k in enumerate(spec.keys)}
    if histogram is not None:
        columns[f"k{len(spec.keys)}"] = _bin(histogram)
    for j, step in enumerate(steps):
        arg = step.aggregate.arg
        if arg is not None:
            # Clamped values are read once, as doubles. A plain column cast to DOUBLE
            # cannot fail: check_numeric refused text.
            sql = f"CAST({arg.sql} AS DOUBLE)" if step.aggregate.func.clamps else arg.sql
            columns[f"a{j}"] = guarded(sql, arg.plain)
    values = list(columns)
    grids: dict[int, str] = {}
    if grid:
        for j, step in enumerate(steps):
            if step.aggregate.func in (SUM, AVG):
                assert step.bounds is not None
                grids[j] = f"g{j}"
                columns[f"g{j}"] = f"CAST({_grid(f'a{j}', step.bounds)} AS BIGINT)"
    # WHERE casts a text condition to BOOLEAN, which can fail: cast inside the TRY.
    where = [guarded(f"CAST({spec.where.sql} AS BOOLEAN)", False)] if spec.where else []
    if not isinstance(unit, PerCustomer):
        return PersonRows(_select(columns or {"_one": "1"}, where), values, grids)
    uid = '"' + (person or unit.id_column).replace('"', '""') + '"'
    who = {"_uid": uid, **({"_uidtext": f"CAST({uid} AS VARCHAR)"} if grid else {})}
    if person is not None:  # the id as written keys the person's rows in bounding
        written = '"' + unit.id_column.replace('"', '""') + '"'
        who["_idtext"] = f"CAST({written} AS VARCHAR)"
    return PersonRows(_select({**columns, **who}, [*where, f"{uid} IS NOT NULL"]), values, grids)


def _select(columns: dict[str, str], where: list[str]) -> str:
    sql = f"SELECT {', '.join(f'{e} AS {name}' for name, e in columns.items())} FROM {SOURCE}"
    return sql + (" WHERE " + " AND ".join(where) if where else "")


def _bin(histogram: Aggregate) -> str:
    assert histogram.arg is not None and histogram.bins is not None
    low, high, n = histogram.bins
    clamped = _clamped(f"CAST({histogram.arg.sql} AS DOUBLE)", (low, high))
    width = (high - low) / n
    binned = f"least(CAST(floor(({clamped} - {low!r}) / {width!r}) AS BIGINT), {n - 1})"
    return guarded(binned, False)


def _aggregates(steps: Sequence[Step], first: int) -> tuple[list[str], list[str], list[int]]:
    """Each step's output columns, with sums in doubles and in HUGEINT; the sums' positions."""
    doubles: list[str] = []
    hugeints: list[str] = []
    sums: list[int] = []
    for j, step in enumerate(steps):
        func, bounds = step.aggregate.func, step.bounds
        if func in (SUM, AVG):
            assert bounds is not None
            sums.append(first + len(doubles))
            doubles.append(_fixed_sum(f"a{j}", bounds, wide=False))
            hugeints.append(_fixed_sum(f"a{j}", bounds, wide=True))
            if func is AVG:
                doubles.append(f"count(a{j})")
                hugeints.append(doubles[-1])
            continue
        if func is AggregateFunction.COUNT:
            doubles.append(f"count(a{j})" if step.aggregate.arg else "count(*)")
        elif func is AggregateFunction.COUNT_DISTINCT:
            doubles.append(f"count(DISTINCT a{j})")
        elif func is AggregateFunction.HISTOGRAM:
            doubles.append("count(*)")
        else:  # quantile: released from values_sql
            doubles.append("0")
        hugeints.append(doubles[-1])
    return doubles, hugeints, sums


def _values(bounded: str, keys: list[str], steps: Sequence[Step]) -> str | None:
    """Each group's clamped values, one column per quantile; None without quantiles."""
    quantiles = []
    for j, step in enumerate(steps):
        if step.aggregate.func is QUANTILE:
            assert step.bounds is not None
            quantiles.append(f"{_clamped(f'a{j}', step.bounds)} AS q{j}")
    if not quantiles:
        return None
    return f"{bounded} SELECT {', '.join([*keys, *quantiles])} FROM bounded"


def _people(unit: PrivacyUnit) -> str:
    """How many units a group holds: partition selection keeps the groups of many."""
    return "count(DISTINCT _uid)" if isinstance(unit, PerCustomer) else "count(*)"


def _clamped(sql: str, bounds: tuple[float, float]) -> str:
    # CASE runs about 1.5x faster than greatest(least(...)) in DuckDB.
    low, high = f"CAST({bounds[0]!r} AS DOUBLE)", f"CAST({bounds[1]!r} AS DOUBLE)"
    return f"CASE WHEN {sql} > {high} THEN {high} WHEN {sql} < {low} THEN {low} ELSE {sql} END"


def _grid(sql: str, bounds: tuple[float, float]) -> str:
    """``sql`` clamped to ``bounds`` and rounded to the grid 2^-m, as a (double) integer."""
    return f"round({_clamped(sql, bounds)} * {2.0 ** fixed_exponent(bounds)!r})"


def _fixed_sum(sql: str, bounds: tuple[float, float], *, wide: bool) -> str:
    # Clamped, then rounded to the grid 2^-m as an integer: the sum's sensitivity then
    # holds exactly (see _release). NaN and ±inf clamp to a bound, so nothing can fail.
    grid = _grid(sql, bounds)  # the same integers either way
    if wide:
        return f"coalesce(sum(CAST({grid} AS BIGINT)), 0)"
    exact = f"coalesce(sum({grid}), 0)"
    return f"CASE WHEN count(*) < {_EXACT_DOUBLE_ROWS} THEN {exact} END"
