"""The table-level release recipe: policy first, then k-anonymity, then one audit event.

A k-anonymous table still names people if its direct identifiers stay in clear, so
k-anonymity never runs alone: the policy is compiled for the purpose and role as for a
record-level release (identifiers removed or tokenized, opted-out rows filtered, text
redacted), the quasi-identifiers are left to the k-anonymity step to generalize, and the
output appears only after its audit event is written.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import pyarrow as pa

from shopveil._core.classes import ColumnClass
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
from shopveil.data import TextTypes, apply_types, open_source, table_format, writing_batches
from shopveil.detect import ScanReport, scan_source
from shopveil.errors import ParameterError, SchemaError
from shopveil.keys import Keyring
from shopveil.mask import Keep
from shopveil.pipeline._audit import audit_release
from shopveil.pipeline._run import _check_gate, apply_plan, kept_columns
from shopveil.policy import Plan, Policy, ReleaseMode, compile_plan, load_policy
from shopveil.store import Store

__all__ = ["KAnonymizeResult", "k_anonymize_file"]

_METHODS = ("auto", "lattice", "mondrian")


@dataclass(frozen=True)
class KAnonymizeResult:
    """The plan that ran first, the scan, the k-anonymous result and its audit event.

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
    time_limit: float = 60.0,
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
    """
    method = _check_method(method, hierarchies)
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
    )
    plan = _leave_quasi_identifiers(plan, loaded, qi, sensitive)

    owns_store = store is None
    store = store or Store.open()
    try:
        keyring = Keyring.open(store)  # a wrong master key stops us here, before any row
        if on_start is not None:
            on_start(source.estimate_rows())
        rows_in = 0
        batches = []
        for batch in source.batches():
            rows_in += batch.num_rows
            batches.append(apply_plan(plan, batch, keys=keyring, as_of=as_of))
        protected = _combine(batches, plan, source.schema, keyring, as_of)
        # An Arrow table in gives an Arrow table out.
        anonymized: AnonymizationResult[pa.Table]
        choice = None
        if method == "auto":
            anonymized, choice = anonymize_auto(
                protected, qi, given, requirements, suppress, sensitive=sensitive,
                time_limit=time_limit,
            )  # fmt: skip
        elif method == "lattice":
            anonymized = cast(
                "AnonymizationResult[pa.Table]",
                anonymize_lattice(
                    protected, qi, given, requirements, suppress, sensitive=sensitive
                ),
            )
        else:
            anonymized = cast(
                "AnonymizationResult[pa.Table]",
                anonymize_mondrian(protected, qi, requirements, sensitive=sensitive),
            )
        released = anonymized.table
        if plan.gate is not None:
            _check_gate(plan.gate, released.to_batches(), output_path)
        if table_format(input_path) == "csv":
            # Kept columns, and quasi-identifiers left as they were, hold their numbers.
            found = TextTypes(kept_columns(plan))
            found.update(released)
            released = apply_types(released, found.types())
        with writing_batches(output_path, released.schema, csv_escape=csv_escape) as write:
            for batch in released.to_batches():
                write(batch)
            # Written before the output appears: no release without its audit event.
            seq = audit_release(
                AuditLog(store, keyring),
                actor=actor,
                plan=plan,
                rows_in=rows_in,
                rows_out=released.num_rows,
                table_release=_describe(anonymized, qi, sensitive, choice),
                input=input_path.name,
                output=output_path.name,
            )
    finally:
        if owns_store:
            store.close()
    return KAnonymizeResult(plan, scan, anonymized, rows_in, seq, choice)


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


def _leave_quasi_identifiers(
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


def _combine(
    batches: list[pa.RecordBatch],
    plan: Plan,
    schema: pa.Schema,
    keyring: Keyring,
    as_of: date | None,
) -> pa.Table:
    if not batches:
        batches = [apply_plan(plan, schema.empty_table(), keys=keyring, as_of=as_of)]
    first = batches[0].schema
    # A column that came out all-null in one batch may be typed null; fit the first.
    return pa.Table.from_batches([b if b.schema == first else b.cast(first) for b in batches])


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
