"""Mondrian k-anonymity on Spark, for tables no single machine holds.

Rows never reach the driver; it holds one line of figures per open partition (leaf)
and decides the cuts, as Mondrian does (LeFevre, DeWitt, Ramakrishnan 2006), round by
round:

1. per open leaf, Spark computes its size and, per quasi-identifier, its range and an
   approximate median (``percentile_approx``);
2. per open leaf and quasi-identifier, Spark counts the rows below and at-or-below that
   median, exactly;
3. the driver cuts each leaf on its widest quasi-identifier (range over the table's
   range) whose cut leaves at least k rows on both sides (``x <= m`` or else ``x < m``),
   trying the next-widest when it does not; a leaf no cut can split is closed;
4. Spark moves each row to its new leaf (a broadcast join with the cuts) and the work
   table is checkpointed, so each round reads the last one's rows, not the whole plan.

A class is a closed leaf; each quasi-identifier is released as the class's range
``[low, high]`` (the value itself when low = high). Every split keeps k rows on each
side by exact counts, so every class holds at least k rows; the release is checked again
by a Spark group-by over the released values (:func:`._spark_assess.assess_frame`),
independent of the leaves, before anything is written. Rows whose quasi-identifier is
null fall on the upper side of every cut on it and are released with their class's
range. Numeric quasi-identifiers only (text has no median); the local engine
generalizes text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shopveil.errors import ParameterError, PrivacyError
from shopveil.pipeline._spark_assess import assess_frame

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["SparkMondrian", "mondrian_frame"]

_LEAF, _OPEN = "_shopveil_leaf", "_shopveil_open"
_ACCURACY = 10_000  # percentile_approx: the median within n / 10000 ranks


@dataclass(frozen=True)
class SparkMondrian:
    """A k-anonymous release made on Spark: the frame, and what was found.

    ``k`` is the smallest class measured by the independent group-by; ``rounds`` the
    number of rounds of cuts.
    """

    frame: DataFrame
    rows: int
    classes: int
    k: int
    rounds: int


def mondrian_frame(frame: DataFrame, qi: Sequence[str], k: int) -> SparkMondrian:
    """``frame`` with each of ``qi`` generalized to its Mondrian class's range, every class
    of at least ``k`` rows.

    Raises
    ------
    ParameterError
        A quasi-identifier that is missing or not numeric, or ``k`` below 2.
    PrivacyError
        A table of fewer than ``k`` rows, or a release the independent check finds
        below ``k`` (nothing is returned).
    """
    from pyspark.sql import functions as F

    _check(frame, qi, k)
    work = frame.withColumn(_LEAF, F.lit(0).cast("long")).withColumn(_OPEN, F.lit(True))
    work = work.localCheckpoint(eager=False)
    row = work.agg(
        F.count(F.lit(1)).alias("n"),
        *[F.min(q).cast("double").alias(f"lo{i}") for i, q in enumerate(qi)],
        *[F.max(q).cast("double").alias(f"hi{i}") for i, q in enumerate(qi)],
    ).collect()[0]
    rows = int(row["n"])
    if rows < k:
        raise PrivacyError(f"the table has {rows} rows, fewer than k = {k}; no release can be")
    widths = [
        (float(row[f"hi{i}"]) - float(row[f"lo{i}"])) if row[f"lo{i}"] is not None else 0.0
        for i in range(len(qi))
    ]
    widths = [w if w > 0 else 1.0 for w in widths]
    rounds, next_id = 0, 1
    while True:
        cuts = _cuts(work, qi, k, widths)
        if not cuts:
            break
        rounds += 1
        work, next_id = _apply(work, qi, cuts, next_id)
    released = _generalize(work, qi, frame.columns)
    check = assess_frame(released, qi)
    if check.k < k:  # pragma: no cover - every cut keeps k rows a side
        raise PrivacyError(
            f"the Spark Mondrian release has a class of {check.k} rows, below k = {k}; "
            "nothing was written"
        )
    return SparkMondrian(released, check.rows, check.classes, check.k, rounds)


def _check(frame: DataFrame, qi: Sequence[str], k: int) -> None:
    from pyspark.sql.types import NumericType

    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ParameterError(f"--k: expected a whole number >= 2, got {k!r}")
    if not qi:
        raise ParameterError("give the quasi-identifiers with --qi A,B,C")
    types = {f.name: f.dataType for f in frame.schema.fields}
    for name in qi:
        if name not in types:
            raise ParameterError(
                f"--qi names {name!r}, which the data lacks; the columns are {sorted(types)}"
            )
        if not isinstance(types[name], NumericType):
            raise ParameterError(
                f"--qi {name!r} is {types[name].simpleString()}: k-anonymity on Spark "
                "generalizes numeric quasi-identifiers only; use --engine local, or a "
                "numeric column (Parquet keeps numbers; CSV is read as text)"
            )


def _cuts(work: DataFrame, qi: Sequence[str], k: int, widths: list[float]) -> list[tuple[Any, ...]]:
    """One round's decisions: ``(leaf, dim, median, at_or_below)`` per leaf to cut, and
    ``(leaf, None, None, None)`` per open leaf to close."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    open_rows = work.where(F.col(_OPEN))
    stats = (
        open_rows.groupBy(_LEAF)
        .agg(
            F.count(F.lit(1)).alias("n"),
            *[F.min(q).cast("double").alias(f"lo{i}") for i, q in enumerate(qi)],
            *[F.max(q).cast("double").alias(f"hi{i}") for i, q in enumerate(qi)],
            *[
                F.percentile_approx(F.col(q).cast("double"), 0.5, _ACCURACY).alias(f"m{i}")
                for i, q in enumerate(qi)
            ],
        )
        .toArrow()
        .to_pylist()
    )
    if not stats:
        return []
    decided: list[tuple[Any, ...]] = []
    candidates = []
    for s in stats:
        if s["n"] < 2 * k:
            decided.append((s[_LEAF], None, None, None))
        else:
            candidates.append(s)
    if candidates:
        spark = work.sparkSession
        medians = spark.createDataFrame(
            pa.table(
                {
                    _LEAF: [s[_LEAF] for s in candidates],
                    **{f"m{i}": [s[f"m{i}"] for s in candidates] for i in range(len(qi))},
                }
            )
        )
        sides = (
            open_rows.join(F.broadcast(medians), _LEAF)
            .groupBy(_LEAF)
            .agg(
                *[
                    F.sum(F.when(F.col(q).cast("double") < F.col(f"m{i}"), 1).otherwise(0)).alias(
                        f"lt{i}"
                    )
                    for i, q in enumerate(qi)
                ],
                *[
                    F.sum(F.when(F.col(q).cast("double") <= F.col(f"m{i}"), 1).otherwise(0)).alias(
                        f"le{i}"
                    )
                    for i, q in enumerate(qi)
                ],
            )
            .toArrow()
            .to_pylist()
        )
        counts = {s[_LEAF]: s for s in sides}
        for s in candidates:
            decided.append(_decide(s, counts[s[_LEAF]], len(qi), k, widths))
    return decided


def _decide(
    stats: dict[str, Any], sides: dict[str, Any], dims: int, k: int, widths: list[float]
) -> tuple[Any, ...]:
    n, leaf = int(stats["n"]), stats[_LEAF]
    spans = []
    for i in range(dims):
        lo, hi = stats[f"lo{i}"], stats[f"hi{i}"]
        if lo is not None and hi is not None and hi > lo:
            spans.append(((hi - lo) / widths[i], i))
    for _, i in sorted(spans, reverse=True):
        median = stats[f"m{i}"]
        for at_or_below, left in ((True, sides[f"le{i}"]), (False, sides[f"lt{i}"])):
            if k <= int(left) <= n - k:
                return (leaf, i, float(median), at_or_below)
    return (leaf, None, None, None)


def _apply(
    work: DataFrame, qi: Sequence[str], cuts: list[tuple[Any, ...]], next_id: int
) -> tuple[DataFrame, int]:
    """Rows moved to their new leaves (sequential ids from ``next_id``), checkpointed."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    left_ids: list[int | None] = []
    right_ids: list[int | None] = []
    for _, dim, _, _ in cuts:
        if dim is None:
            left_ids.append(None)
            right_ids.append(None)
        else:
            left_ids.append(next_id)
            right_ids.append(next_id + 1)
            next_id += 2
    table = pa.table(
        {
            _LEAF: pa.array([c[0] for c in cuts], pa.int64()),
            "_dim": pa.array([c[1] for c in cuts], pa.int64()),
            "_cut": pa.array([c[2] for c in cuts], pa.float64()),
            "_le": pa.array([c[3] for c in cuts], pa.bool_()),
            "_left": pa.array(left_ids, pa.int64()),
            "_right": pa.array(right_ids, pa.int64()),
            "_seen": pa.array([True] * len(cuts)),
        }
    )
    mapping = work.sparkSession.createDataFrame(table)
    value: Column = F.lit(None).cast("double")
    for i, q in enumerate(qi):
        value = F.when(F.col("_dim") == i, F.col(q).cast("double")).otherwise(value)
    goes_left = F.when(F.col("_le"), value <= F.col("_cut")).otherwise(value < F.col("_cut"))
    moved = (
        work.join(F.broadcast(mapping), _LEAF, "left")
        .withColumn(
            _LEAF,
            F.when(F.col("_left").isNull(), F.col(_LEAF))
            .when(F.coalesce(goes_left, F.lit(False)), F.col("_left"))
            .otherwise(F.col("_right")),
        )
        # A cut leaf's halves stay open; a leaf decided without a cut closes.
        .withColumn(
            _OPEN, F.when(F.col("_seen"), F.col("_dim").isNotNull()).otherwise(F.col(_OPEN))
        )
        .drop("_dim", "_cut", "_le", "_left", "_right", "_seen")
    )
    return moved.localCheckpoint(eager=False), next_id


def _generalize(work: DataFrame, qi: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """Each quasi-identifier as its class's range, the other columns as they were."""
    from pyspark.sql import functions as F

    labels = work.groupBy(_LEAF).agg(
        *[F.min(q).cast("string").alias(f"lo{i}") for i, q in enumerate(qi)],
        *[F.max(q).cast("string").alias(f"hi{i}") for i, q in enumerate(qi)],
    )
    for i in range(len(qi)):
        lo, hi = F.col(f"lo{i}"), F.col(f"hi{i}")
        labels = labels.withColumn(
            f"label{i}",
            F.when(lo == hi, lo).otherwise(F.concat(F.lit("["), lo, F.lit(", "), hi, F.lit("]"))),
        )
    joined = work.join(labels, _LEAF)
    position = {q: i for i, q in enumerate(qi)}
    return joined.select(
        *[F.col(f"label{position[c]}").alias(c) if c in position else F.col(c) for c in columns]
    )
