"""A compiled plan over a file as a Spark job: read, protect, write, publish atomically."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from shopveil._core.operators import KeySource
from shopveil._core.subjects import SubjectFilter
from shopveil.anonymity import KAnonymity
from shopveil.data import escape_formulas, table_format
from shopveil.errors import PrivacyError, SinkError
from shopveil.pipeline._run import RunSummary
from shopveil.pipeline._spark import no_pandas_warning, protect_frame, read_frame, spark_session
from shopveil.pipeline._spark_assess import assess_frame, failed_requirements
from shopveil.pipeline._spark_mondrian import mondrian_frame
from shopveil.policy import Plan

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["run_plan_spark"]


def run_plan_spark(
    plan: Plan,
    input: Path,
    output: Path,
    *,
    master: str = "local[*]",
    keys: KeySource | None = None,
    as_of: date | None = None,
    before_publish: Callable[[RunSummary], None] | None = None,
    csv_escape: bool = True,
    subjects: SubjectFilter | None = None,
    k_anonymity: tuple[int, Sequence[str]] | None = None,
) -> RunSummary:
    """Protect ``input`` into ``output`` with ``plan`` as a Spark job on ``master``.

    Spark writes a folder of part files (CSV with a header, or Parquet) named ``output``;
    it is written beside it under a hidden name and renamed into place only after
    ``before_publish`` (the audit event) succeeds, so a failure releases nothing. CSV is
    read as text, as the local engine reads it (empty cells are null).

    ``k_anonymity`` ``(k, quasi-identifiers)`` makes the protected table k-anonymous by
    Mondrian on Spark (:func:`._spark_mondrian.mondrian_frame`; numeric quasi-identifiers,
    CSV then read with Spark's types). A policy's k/l/t gate is measured by Spark
    group-bys on the protected table (:func:`._spark_assess.assess_frame`); a release
    that fails it is not written.
    """
    with no_pandas_warning():
        return _run(
            plan, input, output, master, keys, as_of, before_publish, csv_escape, subjects,
            k_anonymity,
        )  # fmt: skip


def _run(
    plan: Plan,
    input: Path,
    output: Path,
    master: str,
    keys: KeySource | None,
    as_of: date | None,
    before_publish: Callable[[RunSummary], None] | None,
    csv_escape: bool,
    subjects: SubjectFilter | None,
    k_anonymity: tuple[int, Sequence[str]] | None,
) -> RunSummary:
    started = time.perf_counter()
    spark = spark_session(master)
    out_format = table_format(output)
    frame = read_frame(spark, input, typed=k_anonymity is not None)
    counts = (spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0))
    protected = protect_frame(
        plan,
        frame,
        keys=keys,
        as_of=as_of,
        subjects=subjects,
        csv_escape=csv_escape and out_format == "csv",
        counts=counts,
    )
    table_release = None
    if k_anonymity is not None or plan.gate is not None:
        # Computed once: the accumulators count each row once, and every check reads this.
        protected = protected.localCheckpoint(eager=True)
    if k_anonymity is not None:
        k, qi = k_anonymity
        made = mondrian_frame(protected, qi, k)
        protected = made.frame
        table_release = {
            "method": "mondrian", "engine": "spark", "requirements": [repr(KAnonymity(k))],
            "quasi_identifiers": list(qi), "k_reached": made.k, "classes": made.classes,
            "rounds": made.rounds, "suppressed_rows": 0,
        }  # fmt: skip
    if plan.gate is not None:
        _check_gate(plan, protected, output)
    if csv_escape and out_format == "csv":
        escaped = escape_formulas(pa.array(protected.columns))
        protected = protected.toDF(*escaped.to_pylist())
    staging = output.with_name(f".{output.name}.{secrets.token_hex(4)}.partial")
    try:
        writer = protected.write.mode("errorifexists")
        if out_format == "parquet":
            writer.parquet(str(staging))
        else:
            writer.csv(str(staging), header=True, quote='"', escape='"')
        summary = RunSummary(
            input=input.name,
            output=output.name,
            rows_in=counts[0].value,
            rows_out=counts[1].value,
            rows_opted_out=counts[0].value - counts[1].value,
            techniques={step.column: step.technique for step in plan.steps},
            seconds=time.perf_counter() - started,
            table_release=table_release,
        )
        if before_publish is not None:
            before_publish(summary)
        _publish(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _check_gate(plan: Plan, frame: DataFrame, output: Path) -> None:
    """Refuse the release when it fails the policy's k/l/t gate, measured on Spark."""
    assert plan.gate is not None
    gate = plan.gate
    report = assess_frame(frame, gate.quasi_identifiers, gate.sensitive)
    failures = failed_requirements(report, gate.requirements)
    if failures:
        raise PrivacyError(
            f"{output.name}: the release fails the policy's gate ({'; '.join(failures)}); "
            "nothing was written. Generalize the quasi-identifiers (--k) or change the policy"
        )


def _publish(staging: Path, output: Path) -> None:
    """Move ``staging`` to ``output``, replacing what was there only once it is in place."""
    old = output.with_name(f".{output.name}.{secrets.token_hex(4)}.old")
    try:
        if output.exists():
            output.rename(old)
        staging.rename(output)
    except OSError as exc:
        if old.exists() and not output.exists():
            old.rename(output)  # what was there stays
        raise SinkError(f"cannot move the Spark output into {str(output)!r}: {exc}") from None
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)
