"""k, l and t of a table as Spark group-bys, for tables no single machine holds.

Only aggregates reach the driver: how many classes have each size, and per class the
fewest distinct sensitive values and the largest distance to the table's distribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopveil.anonymity import (
    KAnonymity,
    LDiversity,
    LDiversityVariant,
    MaxRisk,
    Requirement,
    RiskModel,
    TCloseness,
    TDistance,
)
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["SparkAssessment", "assess_frame", "failed_requirements"]


@dataclass(frozen=True)
class SparkAssessment:
    """k, distinct l and t (equal distance) of a table measured on Spark.

    Attributes
    ----------
    rows, classes, k, class_sizes
        As in :class:`shopveil.anonymity.Assessment`.
    l, t
        Distinct l and t-closeness under the equal ground distance (half the total
        variation distance), minimum and maximum over the sensitive attributes; ``None``
        without one.
    """

    rows: int
    classes: int
    k: int
    class_sizes: Mapping[int, int]
    l: int | None  # noqa: E741
    t: float | None
    sensitive_t: Mapping[str, float] = field(default_factory=dict)

    @property
    def prosecutor_risk(self) -> float:
        """The highest re-identification risk of any record (1 / smallest class)."""
        return 1.0 / self.k if self.k else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary with the keys :class:`Assessment` uses for the same."""
        return {
            "k": self.k,
            "l": self.l,
            "t": self.t,
            "prosecutor_risk": self.prosecutor_risk,
            "rows": self.rows,
            "classes": self.classes,
            "class_sizes": {str(size): count for size, count in self.class_sizes.items()},
            "t_by_attribute": dict(self.sensitive_t),
            "t_distance": TDistance.EQUAL.value,
            "engine": "spark",
        }


def assess_file_on_spark(
    path: Path, qi: Sequence[str], sensitive: Sequence[str] = (), *, master: str = "local[2]"
) -> SparkAssessment:
    """Read ``path`` (CSV, TSV or Parquet) on the Spark ``master`` and measure it there
    (:func:`assess_frame`)."""
    from shopveil.pipeline._spark import no_pandas_warning, read_frame, spark_session

    with no_pandas_warning():
        return assess_frame(read_frame(spark_session(master), path), qi, sensitive)


def assess_frame(
    frame: DataFrame, qi: Sequence[str], sensitive: Sequence[str] = ()
) -> SparkAssessment:
    """Measure k, distinct l and t (equal distance) of ``frame`` with Spark group-bys.

    Null is a value of its own in a quasi-identifier and in a sensitive attribute, as in
    :func:`shopveil.anonymity.assess`.
    """
    from pyspark.sql import functions as F

    names = set(frame.columns)
    for name in [*qi, *sensitive]:
        if name not in names:
            raise ParameterError(
                f"the data has no column {name!r}; the columns are {sorted(names)}"
            )
    if not qi:
        raise ParameterError("give at least one quasi-identifier (--qi A,B,C)")
    keys = [F.col(name).cast("string").alias(f"q{i}") for i, name in enumerate(qi)]
    qcols = [f"q{i}" for i in range(len(qi))]
    coded = frame.select(
        *keys,
        *[
            F.coalesce(F.col(s).cast("string"), F.lit("\x00null")).alias(f"s{i}")
            for i, s in enumerate(sensitive)
        ],
    )
    classes = coded.groupBy(*qcols).agg(F.count(F.lit(1)).alias("n"))
    histogram = {
        int(r["n"]): int(r["c"])
        for r in classes.groupBy("n").agg(F.count(F.lit(1)).alias("c")).collect()
    }
    rows = sum(size * count for size, count in histogram.items())
    if not rows:
        raise ParameterError("the table has no rows to assess")
    l_value: int | None = None
    t_by: dict[str, float] = {}
    for i, name in enumerate(sensitive):
        s = f"s{i}"
        cells = coded.groupBy(*qcols, s).agg(F.count(F.lit(1)).alias("v"))
        overall = cells.groupBy(s).agg((F.sum("v") / F.lit(rows)).alias("q"))
        per_class = _join(cells, classes, qcols)
        # EMD with the equal distance: 0.5 * sum_v |p_v - q_v|, with the values a class
        # lacks contributing q_v each, so 0.5 * (1 + sum over present (|p - q| - q)).
        scored = per_class.join(overall, on=s).select(
            *qcols, (F.abs(F.col("v") / F.col("n") - F.col("q")) - F.col("q")).alias("d")
        )
        row = (
            scored.groupBy(*qcols)
            .agg(F.count(F.lit(1)).alias("distinct"), (0.5 * (1 + F.sum("d"))).alias("emd"))
            .agg(F.min("distinct").alias("l"), F.max("emd").alias("t"))
            .collect()[0]
        )
        l_value = int(row["l"]) if l_value is None else min(l_value, int(row["l"]))
        t_by[name] = max(0.0, float(row["t"]))
    return SparkAssessment(
        rows=rows,
        classes=sum(histogram.values()),
        k=min(histogram),
        class_sizes=dict(sorted(histogram.items())),
        l=l_value,
        t=max(t_by.values()) if t_by else None,
        sensitive_t=t_by,
    )


def _join(cells: DataFrame, classes: DataFrame, qcols: list[str]) -> DataFrame:
    """``cells`` with each class's size; a null key matches a null key."""
    condition = [cells[c].eqNullSafe(classes[c]) for c in qcols]
    return cells.join(classes, on=condition).select(
        *[cells[c] for c in qcols],
        *[cells[c] for c in cells.columns if c not in qcols],
        classes["n"],
    )


def failed_requirements(report: SparkAssessment, requirements: Sequence[Requirement]) -> list[str]:
    """The requirements ``report`` fails, each as one line; a kind Spark cannot check is refused."""
    failures: list[str] = []
    for requirement in requirements:
        if isinstance(requirement, KAnonymity):
            if report.k < requirement.k:
                failures.append(f"k = {report.k} < {requirement.k}")
        elif (
            isinstance(requirement, LDiversity)
            and requirement.variant is LDiversityVariant.DISTINCT
        ):
            if report.l is None or report.l < requirement.l:
                failures.append(f"l = {report.l} < {requirement.l:g}")
        elif isinstance(requirement, TCloseness) and requirement.distance is TDistance.EQUAL:
            if report.t is None or report.t > requirement.t:
                failures.append(f"t = {report.t} > {requirement.t:g}")
        elif isinstance(requirement, MaxRisk) and requirement.model is RiskModel.PROSECUTOR:
            if report.prosecutor_risk > requirement.r:
                failures.append(
                    f"prosecutor risk = {report.prosecutor_risk:.4f} > {requirement.r:g}"
                )
        else:
            raise ParameterError(
                f"gate {requirement!r} is not checked on Spark (k, distinct l, t with the "
                "equal distance and prosecutor risk are); use --engine local"
            )
    return failures
