"""Running a compiled :class:`~shopveil.policy.Plan` over a table, batch by batch.

Rows stream from the source in Arrow record batches through the plan's operators into an
atomic writer: the output appears only when every batch was written, so a failure (a
malformed row halfway through, a missing key) leaves no partial file behind. Rows of
customers the consent register does not allow for the plan's purpose, rows flagged in the
policy's opt-out column, rows past retention, and minors the policy leaves out of the
purpose are removed before any column is protected.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.classes import Kind
from shopveil._core.operators import KeySource, OperatorContext
from shopveil._core.subjects import SubjectFilter
from shopveil.anonymity import gate
from shopveil.data import TableSource, TextTypes, apply_types, table_format, writing_batches
from shopveil.errors import SchemaError
from shopveil.governance import not_minors
from shopveil.pipeline._subjects import ReleaseConsent
from shopveil.policy import Plan, PlanGate

__all__ = [
    "RunSummary",
    "apply_plan",
    "customer_columns",
    "kept_columns",
    "kept_rows",
    "kept_types",
    "row_check_columns",
    "run_plan",
]

_OPTED_OUT = ("true", "t", "yes", "y", "1", "opted out", "opted_out", "opted-out")
_NOT_OPTED_OUT = ("false", "f", "no", "n", "0", "")


@dataclass(frozen=True)
class RunSummary:
    """What a run did, without any values from the data."""

    input: str
    output: str
    rows_in: int
    rows_out: int
    rows_opted_out: int  # left out: opted out, or no lawful basis for the purpose
    techniques: dict[str, str] = field(default_factory=dict)  # column → technique
    seconds: float = 0.0
    # A k-anonymous release made on top of the plan (Spark): counts and names only.
    table_release: dict[str, Any] | None = None

    @property
    def rows_per_second(self) -> float:
        """Rows protected per second of wall time."""
        return self.rows_in / self.seconds if self.seconds > 0 else float("inf")


def apply_plan(
    plan: Plan,
    batch: pa.RecordBatch | pa.Table,
    *,
    keys: KeySource | None = None,
    as_of: date | None = None,
    subjects: SubjectFilter | None = None,
) -> pa.RecordBatch:
    """Apply ``plan`` to one batch (or a small table): rows left out, columns protected.

    ``subjects`` (the consent register's answer for the plan's purpose) removes the rows
    of customers it does not allow, by every customer id column; the policy's opt-out
    column removes flagged rows, and where the purpose needs consent an empty flag does
    not count as allowed.
    """
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else _empty(batch.schema)
    missing = [step.column for step in plan.steps if step.column not in batch.schema.names]
    if missing:
        raise SchemaError(f"the data has no column {missing[0]!r}, which the plan expects")
    batch = _expire_values(plan, _left_out(plan, batch, subjects))
    columns, names = [], []
    for step in plan.steps:
        if step.operator is None:
            continue
        context = OperatorContext(
            purpose=plan.purpose, column=step.column, keys=keys, as_of=as_of or date.today()
        )
        columns.append(step.operator.apply(batch.column(step.column), context))
        names.append(step.column)
    return pa.RecordBatch.from_arrays(columns, names=names)


def run_plan(
    plan: Plan,
    source: TableSource,
    output: str | Path,
    *,
    keys: KeySource | None = None,
    as_of: date | None = None,
    on_rows: Callable[[int], None] | None = None,
    before_publish: Callable[[RunSummary], None] | None = None,
    csv_escape: bool = True,
    subjects: SubjectFilter | None = None,
) -> RunSummary:
    """Stream ``source`` through ``plan`` into ``output`` (CSV or Parquet by its extension).

    ``on_rows`` is called with the number of rows of each batch read (for progress bars).
    ``before_publish`` runs once every row is written and the gates passed, before the
    output is renamed into place: if it raises (say, the audit log cannot be written),
    nothing is released. ``csv_escape`` (CSV outputs) prefixes formula-like cells with
    ``'``; see :func:`shopveil.data.escape_formulas`. ``subjects``: see :func:`apply_plan`.
    """
    started = time.perf_counter()
    types = kept_types(plan, source, subjects)
    # Reading the next batch and writing the last one run beside the protection of this
    # one: Arrow's readers, writers and kernels release the GIL, so the three overlap.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="shopveil-io") as pool:
        batches = _read_ahead(source.batches(), pool)
        first = next(batches, None) or _empty(source.schema)
        first_protected = apply_plan(plan, first, keys=keys, as_of=as_of, subjects=subjects)
        schema = first_protected.schema
        rows_in = rows_out = 0
        gated: list[pa.RecordBatch] = []  # only the gate's columns are kept in memory
        written = apply_types(first_protected, types).schema
        with writing_batches(output, written, csv_escape=csv_escape) as write:
            writing: list[Future[None]] = []  # at most one write in flight
            try:
                for batch in itertools.chain([first], batches):
                    if batch is first:
                        protected = first_protected
                    else:
                        protected = apply_plan(
                            plan, batch, keys=keys, as_of=as_of, subjects=subjects
                        )
                        # A column that came out all-null may be typed null; fit the file.
                        if protected.schema != schema:
                            protected = protected.cast(schema)
                    if writing:
                        writing.pop().result()
                    writing.append(pool.submit(write, apply_types(protected, types)))
                    if plan.gate is not None:
                        gated.append(protected.select(plan.gate.columns))
                    rows_in += batch.num_rows
                    rows_out += protected.num_rows
                    if on_rows is not None:
                        on_rows(batch.num_rows)
            finally:
                wait(writing)  # the file is closed or abandoned only once no write runs
            for last in writing:
                last.result()
            if plan.gate is not None:
                # Raises GateFailed before the output is renamed into place: nothing is
                # released.
                _check_gate(plan.gate, gated, Path(output))
            summary = RunSummary(
                input=source.path.name,
                output=Path(output).name,
                rows_in=rows_in,
                rows_out=rows_out,
                rows_opted_out=rows_in - rows_out,
                techniques={step.column: step.technique for step in plan.steps},
                seconds=time.perf_counter() - started,
            )
            if before_publish is not None:
                before_publish(summary)
    return summary


def _read_ahead(
    batches: Iterator[pa.RecordBatch], pool: ThreadPoolExecutor
) -> Iterator[pa.RecordBatch]:
    """``batches``, each read in ``pool`` while the one before it is being used."""
    ahead = pool.submit(next, batches, None)
    while (batch := ahead.result()) is not None:
        ahead = pool.submit(next, batches, None)
        yield batch


def kept_types(
    plan: Plan, source: TableSource, subjects: SubjectFilter | None = None
) -> dict[str, pa.DataType]:
    """The numbers, dates and booleans in the CSV text columns ``plan`` keeps as they are.

    A CSV is read as text; this reads it once more, the rows left out by
    :func:`apply_plan` left out, so that a kept column of numbers comes out as numbers
    (see :class:`shopveil.data.TextTypes`). A Parquet source keeps its own types and is
    not read again.
    """
    if table_format(source.path) != "csv" or not kept_columns(plan):
        return {}
    found = TextTypes(kept_columns(plan))
    for batch in source.batches():
        found.update(_left_out(plan, batch, subjects))
    return found.types()


def customer_columns(plan: Plan) -> list[str]:
    """The columns of ``plan``'s table that hold customer ids: consent is checked on each."""
    return [step.column for step in plan.steps if step.kind is Kind.CUSTOMER_ID]


def kept_columns(plan: Plan) -> list[str]:
    """The columns ``plan`` passes through unchanged."""
    return [step.column for step in plan.steps if step.technique == "keep" and step.operator]


def row_check_columns(plan: Plan) -> list[str]:
    """The columns :func:`apply_plan` reads to leave rows out: customer ids, the opt-out
    flag, the minors check's age (and guardian flag), the retention clock, the residence."""
    found = customer_columns(plan)
    if plan.opt_out_column is not None:
        found.append(plan.opt_out_column)
    if plan.minors is not None and plan.minors.age_column is not None:
        found += [plan.minors.age_column, plan.minors.guardian_column]
    processing = plan.processing
    if processing is not None and processing.retention is not None:
        found.append(processing.retention.clock)
    if processing is not None and processing.residence is not None:
        found.append(processing.residence.column)
    named = {step.column for step in plan.steps}
    return [c for c in dict.fromkeys(found) if c in named]


def kept_rows(plan: Plan, batch: pa.RecordBatch, subjects: SubjectFilter | None) -> pa.Array:
    """One bool per row of ``batch``: whether :func:`apply_plan` keeps the row (for a
    reader that filters rows itself, such as a SQL view's ``WHERE``). ``batch`` needs
    only :func:`row_check_columns`."""
    row = "\x00row"  # no table column has this name
    marked = batch.append_column(row, pa.array(np.arange(batch.num_rows)))
    keep = np.zeros(batch.num_rows, dtype=bool)
    keep[_left_out(plan, marked, subjects).column(row).to_numpy()] = True
    return pa.array(keep)


def _check_gate(plan_gate: PlanGate, batches: list[pa.RecordBatch], output: Path) -> None:
    schema = pa.schema([pa.field(name, pa.string()) for name in plan_gate.columns])
    table = pa.Table.from_batches(batches) if batches else schema.empty_table()
    gate(
        table,
        plan_gate.quasi_identifiers,
        plan_gate.sensitive,
        plan_gate.requirements,
        report_path=output.with_name(output.name + ".gate.json"),
    )


def _left_out(plan: Plan, batch: pa.RecordBatch, subjects: SubjectFilter | None) -> pa.RecordBatch:
    """``batch`` less the rows past retention, and those the opt-out column, the minors
    check (by the table's own birth date or age) or the consent register leaves out."""
    batch = _drop_opted_out(
        batch, plan.opt_out_column, empty_allows=subjects is None or not subjects.requires_grant
    )
    retention = plan.processing.retention if plan.processing is not None else None
    if retention is not None and retention.cutoff is not None and batch.num_rows:
        dated = _dates(batch.column(retention.clock), retention.clock)
        # A row without a date cannot be shown to be within its period: it stays out.
        batch = batch.filter(pc.fill_null(pc.greater_equal(dated, retention.cutoff), False))
    if plan.minors is not None and plan.minors.age_column is not None and batch.num_rows:
        adults = not_minors(batch, plan.minors)
        batch = batch if adults.all() else batch.filter(pa.array(adults))
    if subjects is None or not batch.num_rows:
        return batch
    if isinstance(subjects, ReleaseConsent):
        keep = subjects.allowed_rows(batch, customer_columns(plan))
    else:
        keep = np.ones(batch.num_rows, dtype=bool)
        for column in customer_columns(plan):
            keep &= subjects.allowed(batch.column(column))
    return batch if keep.all() else batch.filter(pa.array(keep))


def _expire_values(plan: Plan, batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with each column that has its own retention period nulled in the rows
    dated before its cutoff (or not dated at all)."""
    retention = plan.processing.retention if plan.processing is not None else None
    if retention is None or not retention.columns or not batch.num_rows:
        return batch
    dated = _dates(batch.column(retention.clock), retention.clock)
    for column, cutoff in retention.columns.items():
        expired = pc.invert(pc.fill_null(pc.greater_equal(dated, cutoff), False))
        where = batch.schema.get_field_index(column)
        values = batch.column(where)
        nulled = pc.if_else(expired, pa.scalar(None, values.type), values)
        batch = batch.set_column(where, batch.schema.field(where), nulled)
    return batch


def _dates(values: pa.Array, column: str) -> pa.Array:
    """The retention clock column as dates; text is read as ISO 8601."""
    if pa.types.is_date(values.type):
        return values.cast(pa.date32())
    if pa.types.is_timestamp(values.type):
        return values.cast(pa.date32())
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = pc.utf8_trim_whitespace(values.cast(pa.string()))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        # Times without an offset, or every time with one (read in UTC).
        for stamp in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
            try:
                return text.cast(stamp).cast(pa.date32())
            except pa.ArrowInvalid:
                continue
        raise SchemaError(
            f"retention clock column {column!r} holds text that is not an ISO 8601 date "
            "(2024-03-01, 2024-03-01 10:00:00, or with an offset on every value); fix it "
            "there, nothing was written"
        )
    raise SchemaError(
        f"retention clock column {column!r} has type {values.type}; it must hold dates or "
        "timestamps"
    )


def _drop_opted_out(
    batch: pa.RecordBatch, column: str | None, *, empty_allows: bool = True
) -> pa.RecordBatch:
    """Remove opted-out rows; a flag that is neither yes nor no stops the run.

    An empty or null flag means no opt-out was recorded: the row stays where the purpose
    lets customers object (``empty_allows``), and goes where it needs their consent, which
    an absent flag does not give. Any other value we do not understand is refused rather
    than guessed: reading it as "not opted out" would release the person, reading it as
    "opted out" would hide a broken export.
    """
    if column is None:
        return batch
    flags = batch.column(column)
    if pa.types.is_boolean(flags.type):
        opted_out = pc.fill_null(flags, not empty_allows)
    else:
        try:
            text = pc.utf8_lower(pc.utf8_trim_whitespace(flags.cast(pa.string())))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise SchemaError(
                f"opt-out column {column!r} has type {flags.type}; store it as true/false"
            ) from None
        flagged = pc.fill_null(pc.is_in(text, value_set=pa.array(_OPTED_OUT)), False)
        understood = pc.or_(flagged, pc.is_in(text, value_set=pa.array(_NOT_OPTED_OUT)))
        unclear = pc.sum(pc.invert(pc.or_(understood, pc.is_null(text)))).as_py() or 0
        if unclear:
            raise SchemaError(
                f"opt-out column {column!r} has {unclear} value(s) that are neither yes "
                "(true, yes, y, 1, opted out) nor no (false, no, n, 0, empty); fix them "
                "there before releasing, nothing was written"
            )
        opted_out = flagged
        if not empty_allows:
            empty = pc.or_(pc.is_null(text), pc.equal(text, ""))
            opted_out = pc.or_(flagged, pc.fill_null(empty, True))
    return batch.filter(pc.invert(opted_out))


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)
