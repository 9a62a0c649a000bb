"""Running a DP query on DuckDB: charge the budget, aggregate, select keys, add noise.

Order of events, so that bad input changes nothing and no answer leaves uncharged:
parse, compile and bind the SQL in DuckDB (schema only, no data read) → charge the
ledger, which refuses a query it cannot afford before any data is read → aggregate
exactly in DuckDB → partition selection and noise → attach the answer to the charge
when the caller gave a request id (its retries get the stored answer, never fresh
noise) → return the answer.

Charging first costs one ledger transaction per query instead of a check and a charge.
Errors that do not depend on the data (unknown columns, type errors, parameters no
mechanism accepts) are found before anything is charged. Reading the data does not fail
on a value: expressions that could fail run under TRY (see ``_functions``). Should DuckDB
fail anyway (out of memory, say), the charge stays and the error says so.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shopveil._core.budgets import PureDP
from shopveil._core.subjects import SubjectFilter
from shopveil.dp._bits import Rng, as_bits
from shopveil.dp._catalog import Catalog
from shopveil.dp._ledger import Ledger
from shopveil.dp._processing import charge_record
from shopveil.dp._query._answer import Answer
from shopveil.dp._query._auto_run import run_automatic
from shopveil.dp._query._bounding import bounding_seed
from shopveil.dp._query._compile import compile_plan
from shopveil.dp._query._duckdb import bind, check_numeric, run, table_name
from shopveil.dp._query._duckdb import open_data as _open
from shopveil.dp._query._estimate import ESTIMATE_SHARE, estimate_bounds, missing_bounds
from shopveil.dp._query._groups import finish, replayed
from shopveil.dp._query._parser import parse_query, quote_identifier
from shopveil.dp._query._plan import QueryOptions
from shopveil.dp._query._release import (
    check_release,
)
from shopveil.dp._query._spark import SparkSource, check_spark_query, is_spark_frame
from shopveil.dp._query._target import charge_target, identify, registered_path, resolve_target
from shopveil.errors import QueryError

if TYPE_CHECKING:
    import duckdb

__all__ = ["run_query", "table_name"]


def run_query(
    sql: str,
    data: Any,
    *,
    options: QueryOptions,
    ledger: Ledger,
    table: str | None = None,
    request_id: str | None = None,
    rng: Rng = None,
    catalog: Catalog | None = None,
    subjects: SubjectFilter | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Answer:
    """Answer ``sql`` over ``data`` (a file path, an Arrow/pandas/polars table or a Spark
    DataFrame) privately.

    ``data`` may also name a dataset registered in ``catalog``; a file resolves to the
    registered dataset whose people it holds (its account and its privacy unit). With a
    unit per customer, every person in the data is charged against their own budget and
    the rows of those who cannot afford the query are left out before it is computed.

    The query is charged to ``ledger`` before any aggregate is computed (only the
    schema and, per customer, the distinct ids are read first). Pass ``request_id`` to
    make it retry-safe: the answer is stored with the charge and a retry with the same
    id gets it back, uncharged. Without one, the answer carries a fresh id that names
    its charge in the ledger and the audit log but cannot be replayed.

    ``subjects`` is the consent register's answer for the query's purpose
    (:meth:`shopveil.Workspace.subjects`): the customers it does not allow are not
    charged and their rows are removed before anything is computed, as are the rows of
    those who cannot afford the query.

    Raises
    ------
    QueryError, SchemaError, ParameterError, SourceError
        Bad input; nothing was read beyond the schema and nothing was charged. (A
        :class:`QueryError` raised while the data is read says that the cost stays
        charged.)
    BudgetExceeded
        The ledger cannot afford the query; it did not run.

    With a Spark DataFrame (give ``table``, and ``path``, the file it was read from, for
    the catalog), the rows are read, bounded and aggregated as Spark jobs (see
    :mod:`._spark`) and only the aggregates reach this process, where the same groups
    are chosen and the same noise added; the people are charged as they are here.
    Quantiles, estimated bounds and bounds chosen privately run on DuckDB only.
    """
    spec = parse_query(sql)
    spark: SparkSource | None = None
    named = None
    if is_spark_frame(data):
        check_spark_query(
            spec, automatic=options.automatic is not None, estimate=options.estimate_bounds
        )
        if table is None:
            raise QueryError("name the table of a Spark DataFrame with table=...")
        spark = SparkSource(data)
        # DuckDB binds and checks the query against the frame's schema, with no rows.
        con, name, columns = _open(spark.empty(), table)
        data = path
    else:
        data, named = registered_path(data, catalog)
        con, name, columns = _open(data, table or (named.name if named else None))
    reader: duckdb.DuckDBPyConnection | SparkSource = con if spark is None else spark
    try:
        if spec.table != name:
            raise QueryError(
                f"unknown table {spec.table!r}: this data is the table {name!r}; "
                f"write FROM {quote_identifier(name)} or pass --table {shlex.quote(spec.table)}"
            )
        target = resolve_target(
            reader,
            columns,
            table=name,
            path=str(data) if isinstance(data, str | os.PathLike) else None,
            given=options.unit,
            declared=options.unit_declared,
            ledger=ledger,
            catalog=catalog,
            named=named,
            subjects=subjects,
        )
        identify(con, target)
        options = replace(options, unit=target.unit)
        bits = as_bits(rng)
        seed = bounding_seed(bits)
        if options.automatic is not None:
            auto = run_automatic(
                con, spec, options, columns, target, ledger, request_id, bits, seed
            )
            if auto.answer is None:
                return replayed(auto.charge)
            if request_id is not None:
                ledger.record_answer(request_id, auto.answer.to_json())
            return auto.answer.with_budget(
                auto.charge.remaining, auto.charge.total, default=auto.charge.is_default,
                replayed=False,
            )  # fmt: skip
        missing = missing_bounds(spec, options) if options.estimate_bounds else []
        main = options
        if missing:
            eps = options.epsilon.epsilon
            main = replace(options, epsilon=PureDP(eps * (1 - ESTIMATE_SHARE)))
            # Bounds stand in until estimated: the plan's shape and cost do not depend on them.
            stand_in = replace(
                main, bounds={**options.bounds, **{a.alias: (0.0, 1.0) for a in missing}}
            )
            plan = compile_plan(spec, stand_in, columns, seed=seed)
            plan = replace(plan, estimate_epsilon=eps * ESTIMATE_SHARE)
        else:
            plan = compile_plan(spec, options, columns, seed=seed)
        check_numeric(con, plan)
        # Bound now (schema only), run after the charge: a relation reads the source by
        # name when it runs, so rows left out after the charge are left out of it too.
        relation = bind(con, plan.sql)
        values_relation = bind(con, plan.values_sql) if plan.values_sql else None
        check_release(plan)
        charge = charge_target(
            reader, ledger, target, plan.cost, [a.alias for a in spec.aggregates],
            request_id=request_id, analyst=options.analyst, purpose=options.purpose,
            processing=charge_record(options.purpose, subjects, options.analyst),
        )  # fmt: skip
        if charge.replayed:
            return replayed(charge)
        if missing:
            estimated = estimate_bounds(
                spec, options, columns, lambda q: run(bind(con, q)), plan.estimate_epsilon, bits,
                seed,
            )  # fmt: skip
            final = replace(main, bounds={**options.bounds, **estimated})
            plan = replace(
                compile_plan(spec, final, columns, seed=seed),
                estimate_epsilon=plan.estimate_epsilon,
                estimated=tuple(estimated.items()),
            )
            relation = bind(con, plan.sql)
            values_relation = bind(con, plan.values_sql) if plan.values_sql else None
        if spark is not None:
            return finish(plan, target, spark.aggregate(plan, seed), [], bits, charge, ledger,
                          request_id)  # fmt: skip
        rows = run(relation)
        if plan.wide_sql and any(row[c] is None for row in rows for c in plan.sum_columns):
            rows = run(bind(con, plan.wide_sql))  # a group too large to sum in doubles
        value_rows = run(values_relation) if values_relation is not None else []
    finally:
        con.close()
    return finish(plan, target, rows, value_rows, bits, charge, ledger, request_id)
