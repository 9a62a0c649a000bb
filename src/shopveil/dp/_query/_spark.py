"""DP queries over a Spark DataFrame: bounding and aggregation in Spark, noise here.

The same plan as on DuckDB (:mod:`._compile`), run in three Spark steps:

1. each partition's Arrow batches go through DuckDB on the executor (``mapInArrow``):
   the query's WHERE, keys and arguments under TRY (:mod:`._functions`), each clamped
   argument's fixed-point integer, and the person: :func:`._render.person_rows`, the
   very SQL the local engine reads, so every value is the local engine's;
2. contribution bounding as Spark windows, keyed as :mod:`._bounding` keys it: each
   person's rows ranked by their values, each rank keyed by
   ``md5(seed : person : rank)`` read as DuckDB's ``md5_number`` reads it (the digest as
   a little-endian 128-bit number), the N smallest kept, so the same rows are kept;
3. the aggregates per group as a Spark group-by, sums of the fixed-point integers in
   64-bit integers (exact).

Only the aggregates (one row per group) reach the driver, where groups are selected and
noise added by the same code as on DuckDB. The people are read as Spark's distinct ids
and charged before step 1 runs; the rows of those who cannot pay are removed with an
anti-join. The bounding seed travels to the executors inside the job's plan (a literal
of the md5 key); it keys which of a person's rows count, not the noise, and it is drawn
fresh for every query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from shopveil._core.units import PerCustomer
from shopveil.dp._query._duckdb import open_data
from shopveil.dp._query._plan import Plan
from shopveil.dp._query._render import person_rows
from shopveil.dp._query._source import LeaveOut
from shopveil.dp._query._spec import AggregateFunction, QuerySpec
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame

__all__ = ["SparkSource", "check_spark_query", "is_spark_frame"]

_MD5_BYTES = 16


def is_spark_frame(data: Any) -> bool:
    """Whether ``data`` is a PySpark DataFrame (classic or Connect), without importing Spark."""
    return type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pyspark.")


def check_spark_query(spec: QuerySpec, *, automatic: bool, estimate: bool) -> None:
    """Refuse, before anything is read or charged, what the Spark engine does not run."""
    if automatic:
        raise ParameterError(
            "--engine spark needs the query's bounds: give --max-contributions N (and "
            "--bounds NAME=LOW:HIGH for SUM and AVG), or a policy that declares them; "
            "bounds chosen privately run on the local engine only"
        )
    if estimate:
        raise ParameterError(
            "--estimate-bounds runs on the local engine only; give --bounds NAME=LOW:HIGH "
            "with --engine spark"
        )
    for aggregate in spec.aggregates:
        if aggregate.func is AggregateFunction.QUANTILE:
            raise ParameterError(
                f"{aggregate.alias!r}: quantiles and medians run on the local engine only "
                "(--engine local)"
            )


class SparkSource:
    """A Spark DataFrame as the rows of a DP query (a :class:`._source.RowSource`)."""

    def __init__(self, frame: DataFrame) -> None:
        self.unfiltered = frame
        self.frame = frame
        self.schema: pa.Schema = frame.limit(0).toArrow().schema

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def empty(self) -> pa.Table:
        """No rows, this frame's schema: what DuckDB binds the query against here."""
        return self.schema.empty_table()

    def distinct_ids(self, column: str) -> pa.Array:
        from pyspark.sql import functions as F

        ids = self.frame.select(column).where(F.col(column).isNotNull()).distinct()
        return ids.toArrow().column(0).combine_chunks()

    def leave_out(self, rules: Sequence[LeaveOut]) -> None:
        import pyarrow as pa
        from pyspark.sql import functions as F

        frame = self.unfiltered
        spark = frame.sparkSession
        for rule in rules:
            if rule.nulls:
                frame = frame.where(F.col(rule.column).isNotNull())
            if rule.values is not None and len(rule.values):
                gone = spark.createDataFrame(pa.table({"_shopveil_v": rule.values}))
                # An anti-join keeps rows whose id is null (they match nothing).
                frame = frame.join(
                    F.broadcast(gone), frame[rule.column] == gone["_shopveil_v"], "left_anti"
                )
        self.frame = frame

    def aggregate(self, plan: Plan, seed: int) -> list[tuple[Any, ...]]:
        """The rows of ``plan.sql`` (keys, aggregates, people per group), computed by Spark."""
        from pyspark.sql import functions as F

        rows = person_rows(plan.spec, plan.steps, plan.unit, grid=True)
        projected = self._project(rows.sql)
        if isinstance(plan.unit, PerCustomer):
            projected = _bounded(projected, rows.values, plan.unit.max_contributions, seed)
        n_keys = len([v for v in rows.values if v.startswith("k")])
        keys = [f"k{i}" for i in range(n_keys)]
        outputs: list[Column] = []
        for j, step in enumerate(plan.steps):
            func, a = step.aggregate.func, f"a{j}"
            if j in rows.grids:
                outputs.append(F.coalesce(F.sum(rows.grids[j]), F.lit(0)))
                if func is AggregateFunction.AVG:
                    outputs.append(F.count(a))
            elif func is AggregateFunction.COUNT and step.aggregate.arg is not None:
                outputs.append(F.count(a))
            elif func is AggregateFunction.COUNT_DISTINCT:
                outputs.append(F.count_distinct(F.col(a)))
            else:  # COUNT(*), HISTOGRAM
                outputs.append(F.count(F.lit(1)))
        selection = plan.selection_epsilon > 0
        if selection and isinstance(plan.unit, PerCustomer):
            outputs.append(F.count_distinct(F.col("_uid")))
        else:
            outputs.append(F.count(F.lit(1)) if selection else F.lit(0))
        named = [column.alias(f"_out{i}") for i, column in enumerate(outputs)]
        grouped = projected.groupBy(*keys).agg(*named) if keys else projected.agg(*named)
        table = grouped.toArrow()
        return [tuple(row.values()) for row in table.to_pylist()]

    def _project(self, sql: str) -> DataFrame:
        """``sql`` over every Arrow batch of the frame, by DuckDB on the executors."""
        import pyarrow as pa
        from pyspark.sql.pandas.types import from_arrow_schema

        con, _, _ = open_data(self.empty(), "data")
        try:
            schema = con.sql(sql).to_arrow_table().schema
        finally:
            con.close()
        schema = pa.schema(
            [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema]
        )

        def rows_of(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                con, _, _ = open_data(pa.Table.from_batches([batch]), "data")
                try:
                    out = con.sql(sql).to_arrow_table()
                finally:
                    con.close()
                yield from out.cast(schema).to_batches()

        rows_of.__name__ = rows_of.__qualname__ = "shopveil_query_rows"
        return self.frame.mapInArrow(rows_of, from_arrow_schema(schema))


def _bounded(rows: DataFrame, values: list[str], limit: int, seed: int) -> DataFrame:
    """At most ``limit`` rows of each ``_uid``: the rows :func:`._bounding.bound_contributions`
    keeps."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # DuckDB orders nulls last; Spark's default for ascending is first.
    order = [F.col(v).asc_nulls_last() for v in values] or [F.col("_uid")]
    ranked = rows.withColumn(
        "_rank", F.row_number().over(Window.partitionBy("_uid").orderBy(*order))
    )
    digest = F.md5(
        F.concat_ws(":", F.lit(str(seed)), F.col("_uidtext"), F.col("_rank").cast("string"))
    )
    # md5_number reads the digest as a little-endian number: compare the hex byte by
    # byte from the last.
    key = F.concat(*[F.substring(digest, 2 * i + 1, 2) for i in reversed(range(_MD5_BYTES))])
    kept = ranked.withColumn(
        "_keep", F.row_number().over(Window.partitionBy("_uid").orderBy(key, F.col("_rank")))
    )
    return kept.where(F.col("_keep") <= limit)
