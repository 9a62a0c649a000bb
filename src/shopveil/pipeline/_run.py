"""Running a compiled :class:`~shopveil.policy.Plan` over a table, batch by batch.

Rows stream from the source in Arrow record batches through the plan's operators into an
atomic writer: the output appears only when every batch was written, so a failure (a
malformed row halfway through, a missing key) leaves no partial file behind.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import KeySource, OperatorContext
from shopveil.anonymity import gate
from shopveil.data import TableSource, TextTypes, apply_types, table_format, writing_batches
from shopveil.errors import SchemaError
from shopveil.policy import Plan, PlanGate

__all__ = ["RunSummary", "apply_plan", "kept_columns", "kept_types", "run_plan"]

_OPTED_OUT = ("true", "t", "yes", "y", "1", "opted out", "opted_out", "opted-out")
_NOT_OPTED_OUT = ("false", "f", "no", "n", "0", "")


@dataclass(frozen=True)
class RunSummary:
    """What a run did, without any values from the data."""

    input: str
    output: str
    rows_in: int
    rows_out: int
    rows_opted_out: int
    techniques: dict[str, str] = field(default_factory=dict)  # column → technique
    seconds: float = 0.0

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
) -> pa.RecordBatch:
    """Apply ``plan`` to one batch (or a small table): opt-out rows removed, columns protected."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else _empty(batch.schema)
    missing = [step.column for step in plan.steps if step.column not in batch.schema.names]
    if missing:
        raise SchemaError(f"the data has no column {missing[0]!r}, which the plan expects")
    batch = _drop_opted_out(batch, plan.opt_out_column)
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
) -> RunSummary:
    """Stream ``source`` through ``plan`` into ``output`` (CSV or Parquet by its extension).

    ``on_rows`` is called with the number of rows of each batch read (for progress bars).
    ``before_publish`` runs once every row is written and the gates passed, before the
    output is renamed into place: if it raises (say, the audit log cannot be written),
    nothing is released. ``csv_escape`` (CSV outputs) prefixes formula-like cells with
    ``'``; see :func:`shopveil.data.escape_formulas`.
    """
    started = time.perf_counter()
    types = kept_types(plan, source)
    # Reading the next batch and writing the last one run beside the protection of this
    # one: Arrow's readers, writers and kernels release the GIL, so the three overlap.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="shopveil-io") as pool:
        batches = _read_ahead(source.batches(), pool)
        first = next(batches, None) or _empty(source.schema)
        first_protected = apply_plan(plan, first, keys=keys, as_of=as_of)
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
                        protected = apply_plan(plan, batch, keys=keys, as_of=as_of)
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


def kept_types(plan: Plan, source: TableSource) -> dict[str, pa.DataType]:
    """The numbers, dates and booleans in the CSV text columns ``plan`` keeps as they are.

    A CSV is read as text; this reads it once more, opted-out rows left out, so that a
    kept column of numbers comes out as numbers (see :class:`shopveil.data.TextTypes`).
    A Parquet source keeps its own types and is not read again.
    """
    if table_format(source.path) != "csv" or not kept_columns(plan):
        return {}
    found = TextTypes(kept_columns(plan))
    for batch in source.batches():
        found.update(_drop_opted_out(batch, plan.opt_out_column))
    return found.types()


def kept_columns(plan: Plan) -> list[str]:
    """The columns ``plan`` passes through unchanged."""
    return [step.column for step in plan.steps if step.technique == "keep" and step.operator]


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


def _drop_opted_out(batch: pa.RecordBatch, column: str | None) -> pa.RecordBatch:
    """Remove opted-out rows; a flag that is neither yes nor no stops the run.

    An empty or null flag means no opt-out was recorded. Any other value we do not
    understand is refused rather than guessed: reading it as "not opted out" would
    release the person, reading it as "opted out" would hide a broken export.
    """
    if column is None:
        return batch
    flags = batch.column(column)
    if pa.types.is_boolean(flags.type):
        opted_out = pc.fill_null(flags, False)
    else:
        try:
            text = pc.utf8_lower(pc.utf8_trim_whitespace(flags.cast(pa.string())))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise SchemaError(
                f"opt-out column {column!r} has type {flags.type}; store it as true/false"
            ) from None
        opted_out = pc.fill_null(pc.is_in(text, value_set=pa.array(_OPTED_OUT)), False)
        understood = pc.or_(opted_out, pc.is_in(text, value_set=pa.array(_NOT_OPTED_OUT)))
        unclear = pc.sum(pc.invert(pc.or_(understood, pc.is_null(text)))).as_py() or 0
        if unclear:
            raise SchemaError(
                f"opt-out column {column!r} has {unclear} value(s) that are neither yes "
                "(true, yes, y, 1, opted out) nor no (false, no, n, 0, empty); fix them "
                "there before releasing, nothing was written"
            )
    return batch.filter(pc.invert(opted_out))


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)
