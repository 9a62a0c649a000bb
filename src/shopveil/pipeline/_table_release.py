"""The table-level release recipe: policy first, then k-anonymity, then one audit event.

A k-anonymous table still names people if its direct identifiers stay in clear, so
k-anonymity never runs alone: the policy is compiled for the purpose and role as for a
record-level release (identifiers removed or tokenized, rows of customers without a
lawful basis and opted-out rows filtered, text redacted), the quasi-identifiers are left
to the k-anonymity step to generalize, and the output appears only after its audit event
is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa

from shopveil._core.classes import SPECIAL_KINDS, ColumnClass
from shopveil._core.subjects import SubjectFilter
from shopveil.anonymity import (
    AnonymizationResult,
    KAnonymity,
    LDiversity,
    MethodChoice,
    Requirement,
    TCloseness,
    anonymize_auto,
    anonymize_lattice,
    anonymize_mondrian,
    load_hierarchies,
)
from shopveil.audit import AuditLog
from shopveil.data import (
    TableSource,
    TextTypes,
    apply_types,
    open_source,
    table_format,
    writing_batches,
)
from shopveil.detect import ScanReport, scan_source
from shopveil.errors import ParameterError, SchemaError, SourceError
from shopveil.keys import Keyring
from shopveil.mask import Keep
from shopveil.pipeline._audit import audit_release, records_of_processing, write_manifest
from shopveil.pipeline._consent import consent_details, release_subjects, with_consent_note
from shopveil.pipeline._minors import minors_filter
from shopveil.pipeline._run import _check_gate, _left_out, apply_plan, kept_columns
from shopveil.policy import (
    Plan,
    Policy,
    ReleaseMode,
    ReleaseStatus,
    bind_processing,
    compile_plan,
    load_policy,
)
from shopveil.store import Store

__all__ = ["KAnonymizeResult", "k_anonymize_file"]

_METHODS = ("auto", "lattice", "mondrian")
DEFAULT_MEMORY_BUDGET = 256 << 20
"""Bytes of protected rows :func:`k_anonymize_file` holds before it reads the input twice."""


@dataclass(frozen=True)
class KAnonymizeResult:
    """The plan that ran first, the scan, the k-anonymous result and its audit event.

    ``anonymized.table`` holds the released rows' quasi-identifier, sensitive and gate
    columns (what k-anonymity read); the output file holds every protected column.
    ``choice`` says, for ``method="auto"`` with hierarchies, which method won and by
    which measure; None when one method ran.
    """

    plan: Plan
    scan: ScanReport
    anonymized: AnonymizationResult[pa.Table]
    rows_in: int
    audit_seq: int
    choice: MethodChoice | None = None


def k_anonymize_file(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    k: int,
    qi: Sequence[str],
    policy: Policy | str | os.PathLike[str] = "gdpr",
    purpose: str = "analytics",
    role: str | None = None,
    sensitive: Sequence[str] = (),
    l: int | None = None,  # noqa: E741
    t: float | None = None,
    hierarchies: str | os.PathLike[str] | None = None,
    method: str = "auto",
    suppress: float = 0.0,
    store: Store | None = None,
    actor: str = "python",
    as_of: date | None = None,
    csv_escape: bool = True,
    on_start: Callable[[int], None] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    time_limit: float = 60.0,
    recipient: str | None = None,
    destination: str | None = None,
    status: ReleaseStatus | str | None = None,
    people: str | os.PathLike[str] | None = None,
) -> KAnonymizeResult:
    """Protect ``input`` by ``policy``, make it k-anonymous on ``qi``, write ``output``.

    ``policy`` defaults to the ``gdpr`` preset, the least risky one for a table whose
    columns nobody described. The ``qi`` columns are generalized by the k-anonymity step
    rather than by the policy; naming a direct identifier as a quasi-identifier is
    refused. ``method`` is ``lattice`` (full-domain generalization with the ARX
    hierarchies in the folder ``hierarchies``), ``mondrian``, or ``auto``: with
    hierarchies, both run (the lattice search for at most ``time_limit`` seconds) and
    the one with the lower normalized certainty penalty is released (see
    :func:`shopveil.anonymity.anonymize_auto`); without, Mondrian. Nothing is written
    unless every requirement is met and the release is audited.

    Only the columns k-anonymity reads (quasi-identifiers, sensitive attributes, the
    policy's gate columns) are held in memory for every row. The other protected columns
    are held too while the protected table fits ``memory_budget`` bytes; past it they are
    protected again from ``input`` while the output is written, so memory stays about
    flat in the number of columns and the input is read twice.

    ``recipient``, ``destination`` and ``status``: see
    :func:`~shopveil.pipeline.anonymize_file`; a claimed status's k and risk checks run
    on the k-anonymous output.

    Rows leave before anything is computed as in :func:`~shopveil.pipeline.anonymize_file`
    (consent, opt-out, minors; ``people`` gives ages by customer id).
    """
    method = _check_method(method, hierarchies)
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 0:
        raise ParameterError(
            f"memory_budget: expected a number of bytes >= 0, got {memory_budget!r}"
        )
    input_path, output_path = Path(input), Path(output)
    table_format(output_path)  # a bad output name fails before any work
    if output_path.exists() and output_path.resolve() == input_path.resolve():
        raise ParameterError(f"{output_path}: the output must not overwrite the input")
    requirements: list[Requirement] = [KAnonymity(k)]
    if l is not None:
        requirements.append(LDiversity(l))
    if t is not None:
        requirements.append(TCloseness(t))
    given = load_hierarchies(hierarchies, qi) if hierarchies is not None else {}

    loaded = policy if isinstance(policy, Policy) else load_policy(policy)
    source = open_source(input_path)
    scan = scan_source(source)
    plan = compile_plan(
        loaded,
        source.schema,
        purpose=purpose,
        role=role,
        labels=scan.labels(),
        mode=ReleaseMode.TABLE,
        as_of=as_of,
    )
    plan = leave_quasi_identifiers(plan, loaded, qi, sensitive)
    plan = bind_processing(
        plan,
        loaded,
        source.schema,
        recipient=recipient,
        destination=destination,
        status=status,
        dataset=input_path.stem,
        as_of=as_of,
    )

    owns_store = store is None
    store = store or Store.open()
    try:
        keyring = Keyring.open(store)  # a wrong master key stops us here, before any row
        audit = AuditLog(store, keyring)
        subjects = release_subjects(plan, loaded, store, keyring, audit)
        plan = with_consent_note(plan, subjects)
        subjects, plan = minors_filter(plan, subjects, people)
        if on_start is not None:
            on_start(source.estimate_rows())
        seen = {*qi, *sensitive, *(plan.gate.columns if plan.gate is not None else ())}
        first = _first_pass(source, plan, seen, keyring, as_of, memory_budget, subjects)
        row = _unused_name(first.needed.column_names)
        needed = first.needed.append_column(
            row, pa.array(np.arange(first.needed.num_rows, dtype=np.int64))
        )
        # An Arrow table in gives an Arrow table out.
        anonymized: AnonymizationResult[pa.Table]
        choice = None
        if method == "auto":
            anonymized, choice = anonymize_auto(
                needed, qi, given, requirements, suppress, sensitive=sensitive,
                time_limit=time_limit,
            )  # fmt: skip
        elif method == "lattice":
            anonymized = cast(
                "AnonymizationResult[pa.Table]",
                anonymize_lattice(needed, qi, given, requirements, suppress, sensitive=sensitive),
            )
        else:
            anonymized = cast(
                "AnonymizationResult[pa.Table]",
                anonymize_mondrian(needed, qi, requirements, sensitive=sensitive),
            )
        released = anonymized.table
        if plan.gate is not None:
            _check_gate(plan.gate, released.to_batches(), output_path)

        def protected() -> Iterable[pa.RecordBatch]:
            if first.kept is not None:
                return first.kept
            return _protect(source, plan, keyring, as_of, subjects)

        types: dict[str, pa.DataType] = {}
        if table_format(input_path) == "csv":
            # Kept columns, and quasi-identifiers left as they were, hold their numbers:
            # read off the released rows (from the input once more past the budget).
            found = TextTypes(kept_columns(plan))
            for part in _released_rows(protected(), released, row, qi, needed.num_rows):
                found.update(part)
            types = found.types()
        parts = (
            apply_types(part, types)
            for part in _released_rows(protected(), released, row, qi, needed.num_rows)
        )
        head = next(parts)
        with writing_batches(output_path, head.schema, csv_escape=csv_escape) as write:
            for part in itertools.chain([head], parts):
                # A column that came out all-null may be typed null; fit the file's schema.
                write(part if part.schema == head.schema else part.cast(head.schema))
            # Written before the output appears: no release without its audit event.
            record = records_of_processing(plan, subjects)
            seq = audit_release(
                audit,
                actor=actor,
                plan=plan,
                rows_in=first.rows_in,
                rows_out=released.num_rows,
                table_release=_describe(anonymized, qi, sensitive, choice),
                consent=consent_details(subjects),
                processing=record,
                input=input_path.name,
                output=output_path.name,
            )
            write_manifest(output_path, plan=plan, audit_seq=seq, record=record)
    finally:
        if owns_store:
            store.close()
    anonymized = dataclasses.replace(anonymized, table=released.drop_columns([row]))
    return KAnonymizeResult(plan, scan, anonymized, first.rows_in, seq, choice)


def _check_method(method: str, hierarchies: object) -> str:
    if method not in _METHODS:
        raise ParameterError(f"--method: expected lattice or mondrian, got {method!r}")
    if method == "auto":
        return "auto" if hierarchies is not None else "mondrian"
    if method == "mondrian" and hierarchies is not None:
        raise ParameterError(
            "--hierarchies applies to full-domain generalization; add --method lattice"
        )
    return method


def leave_quasi_identifiers(
    plan: Plan, policy: Policy, qi: Sequence[str], sensitive: Sequence[str]
) -> Plan:
    """Hand the quasi-identifiers to k-anonymity; refuse what the policy must hide."""
    sees = policy.roles[plan.role].sees if plan.role is not None else None
    steps = []
    for step in plan.steps:
        if step.column in qi:
            if step.column_class is ColumnClass.DIRECT_IDENTIFIER:
                raise SchemaError(
                    f"--qi names {step.column!r}, a direct identifier that policy "
                    f"{plan.policy!r} {step.technique}s first; leave it out of --qi"
                )
            if step.kind in SPECIAL_KINDS and step.dropped:
                raise SchemaError(
                    f"--qi names {step.column!r}, a special-category column "
                    f"({step.kind.value}) that policy {plan.policy!r} drops for purpose "
                    f"{plan.purpose!r}; leave it out of --qi, or declare "
                    "sensitive_data_consent for the purpose"
                )
            if sees is not None and step.column_class not in sees:
                raise SchemaError(
                    f"--qi names {step.column!r}, a {step.column_class.value} column role "
                    f"{plan.role!r} may not see; leave it out of --qi or pass another --role"
                )
            reason = "quasi-identifier: generalized by k-anonymity"
            step = dataclasses.replace(step, operator=Keep(), reason=reason)
        elif step.column in sensitive and step.dropped:
            raise SchemaError(
                f"--sensitive names {step.column!r}, which policy {plan.policy!r} drops for "
                f"purpose {plan.purpose!r}; leave it out of --sensitive"
            )
        steps.append(step)
    return dataclasses.replace(plan, steps=tuple(steps))


@dataclass(frozen=True)
class _FirstPass:
    """What one read of the source leaves in memory."""

    rows_in: int
    needed: pa.Table  # the protected columns k-anonymity reads, every row
    kept: list[pa.RecordBatch] | None  # every protected column, while under the budget


def _first_pass(
    source: TableSource,
    plan: Plan,
    seen: set[str],
    keyring: Keyring,
    as_of: date | None,
    memory_budget: int,
    subjects: SubjectFilter | None,
) -> _FirstPass:
    """Protect the source once, keeping the columns k-anonymity needs for every row.

    The whole protected table is kept too while it fits ``memory_budget``; past it, only
    the needed columns are protected and kept, and the rest is read again at write time.
    Rows are left out (opt-out, consent) by the whole plan, before it is narrowed: the
    narrow plan may not hold the customer id columns consent is checked on.
    """
    narrow = dataclasses.replace(plan, steps=tuple(s for s in plan.steps if s.column in seen))
    rows_in = held = 0
    kept: list[pa.RecordBatch] | None = []
    parts: list[pa.RecordBatch] = []
    for batch in source.batches():
        rows_in += batch.num_rows
        batch = _left_out(plan, batch, subjects)
        if kept is not None:
            protected = apply_plan(plan, batch, keys=keyring, as_of=as_of)
            held += protected.nbytes
            if held <= memory_budget:
                kept.append(protected)
            else:
                kept = None
        else:
            protected = apply_plan(narrow, batch, keys=keyring, as_of=as_of)
        parts.append(protected.select([n for n in protected.schema.names if n in seen]))
    if not parts:
        empty = apply_plan(narrow, source.schema.empty_table(), keys=keyring, as_of=as_of)
        parts = [empty.select([n for n in empty.schema.names if n in seen])]
    first = parts[0].schema
    # A column that came out all-null in one batch may be typed null; fit the first.
    needed = pa.Table.from_batches([b if b.schema == first else b.cast(first) for b in parts])
    return _FirstPass(rows_in, needed, kept)


def _protect(
    source: TableSource,
    plan: Plan,
    keyring: Keyring,
    as_of: date | None,
    subjects: SubjectFilter | None,
) -> Iterator[pa.RecordBatch]:
    for batch in source.batches():
        yield apply_plan(plan, batch, keys=keyring, as_of=as_of, subjects=subjects)


def _released_rows(
    protected: Iterable[pa.RecordBatch],
    released: pa.Table,
    row: str,
    qi: Sequence[str],
    total: int,
) -> Iterator[pa.RecordBatch]:
    """Each protected batch's released rows, their quasi-identifiers generalized.

    ``released`` holds the released rows in their original order, each with its position
    among the protected rows in ``row``; the batches come in that same order.
    """
    positions = released.column(row).to_numpy()
    generalized = released.select(list(qi))
    start = 0
    for batch in protected:
        low, high = np.searchsorted(positions, [start, start + batch.num_rows])
        part = batch.take(pa.array(positions[low:high] - start))
        for name in qi:
            where = part.schema.get_field_index(name)
            column = generalized.column(name).slice(low, high - low).combine_chunks()
            part = part.set_column(where, name, column)
        start += batch.num_rows
        yield part
    if start != total:
        raise SourceError(
            f"the input had {total:,} rows to release and {start:,} when read again: it "
            "changed while it was anonymized; nothing was written, run again"
        )


def _unused_name(names: Sequence[str]) -> str:
    name = "_shopveil_row"
    while name in names:
        name = "_" + name
    return name


def _describe(
    anonymized: AnonymizationResult[pa.Table],
    qi: Sequence[str],
    sensitive: Sequence[str],
    choice: MethodChoice | None,
) -> dict[str, Any]:
    utility = anonymized.utility
    return {
        **({"method_choice": choice.to_dict()} if choice is not None else {}),
        "method": anonymized.method,
        "requirements": [repr(r) for r in anonymized.requirements],
        "quasi_identifiers": list(qi),
        "sensitive": list(sensitive),
        "k_reached": utility.min_class_size,
        "suppressed_rows": utility.suppressed_rows,
    }
