"""The record-level release recipe: scan, compile, run, audit — one call."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from shopveil.audit import AuditLog
from shopveil.data import open_source, table_format
from shopveil.detect import ScanReport, scan_source
from shopveil.errors import ParameterError
from shopveil.keys import Keyring
from shopveil.pipeline._audit import audit_release, records_of_processing, write_manifest
from shopveil.pipeline._consent import consent_details, release_subjects, with_consent_note
from shopveil.pipeline._images import has_image_columns, image_release
from shopveil.pipeline._minors import minors_filter
from shopveil.pipeline._run import RunSummary, run_plan
from shopveil.pipeline._spark import Engine
from shopveil.pipeline._spark_run import run_plan_spark
from shopveil.pipeline._table_plan import leave_quasi_identifiers, unlink_people
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

__all__ = ["AnonymizeResult", "anonymize_file"]


@dataclass(frozen=True)
class AnonymizeResult:
    """The plan that ran, the scan it was compiled from, and what the run did."""

    plan: Plan
    scan: ScanReport
    summary: RunSummary
    audit_seq: int


def anonymize_file(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    policy: Policy | str | os.PathLike[str],
    purpose: str = "analytics",
    role: str | None = None,
    store: Store | None = None,
    actor: str = "python",
    as_of: date | None = None,
    on_start: Callable[[int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    csv_escape: bool = True,
    recipient: str | None = None,
    destination: str | None = None,
    status: ReleaseStatus | str | None = None,
    people: str | os.PathLike[str] | None = None,
    engine: Engine = Engine.LOCAL,
    master: str = "local[*]",
    k: int | None = None,
    qi: Sequence[str] = (),
) -> AnonymizeResult:
    """Protect ``input`` into ``output`` under ``policy`` for ``purpose`` (and ``role``).

    The table is scanned to classify columns the policy does not name, the policy is
    compiled into a plan (any problem is raised before a row moves), rows stream through
    the plan into ``output`` atomically, and one audit event records the run before the
    output appears. Rows of customers without a lawful basis for ``purpose`` under the
    policy's law (the store's consent register, :mod:`shopveil.governance`) are left
    out, by every customer id column of the table. Where the policy leaves minors out of
    ``purpose``, their rows go too: by the table's own birth date or age column, else by
    ``people``, a table of the same customers with their id and birth date or age.
    ``on_start`` receives an estimate of the row count (for progress bars).
    ``csv_escape=False`` writes CSV cells that start with ``=``, ``+``, ``-``, ``@``, tab
    or CR as they are, instead of prefixing them with ``'`` (numbers are never changed).

    ``recipient``, ``destination`` and ``status`` bind the release to the processing
    around it (:func:`shopveil.policy.bind_processing`): a sale or a share leaves out
    customers who opted out of it, a transfer needs a mechanism (and, under PIPL, each
    customer's separate consent), rows past retention stay out, and a claimed status
    must pass its checks. What the output legally is goes into its audit event and into
    the manifest written beside it (``OUTPUT.release.json``).

    A column the policy gives ``redact_faces`` holds paths of images (relative to
    ``input``'s folder): each is redacted into ``OUTPUT.images/``, published just before
    ``output``, and the column points at the copies (:mod:`shopveil.pipeline._images`).

    ``engine=Engine.SPARK`` runs the same plan as a Spark job on ``master``
    (:func:`shopveil.pipeline._spark_run.run_plan_spark`): ``output`` is then a folder of
    part files, and ``on_rows`` is not called. With ``k`` and the quasi-identifiers ``qi``
    (Spark only: on one machine use :func:`k_anonymize_file`), the policy hands ``qi`` to
    k-anonymity as :func:`k_anonymize_file` does, and Mondrian on Spark generalizes them
    until every class holds ``k`` rows (:mod:`._spark_mondrian`).
    """
    engine = Engine(engine)
    if k is not None and engine is not Engine.SPARK:
        raise ParameterError(
            "k with anonymize_file runs on Spark; on the local engine use k_anonymize_file"
        )
    input_path, output_path = Path(input), Path(output)
    table_format(output_path)  # an unsupported output name fails before any work
    if output_path.exists() and output_path.resolve() == input_path.resolve():
        raise ParameterError("the output must not be the input file; choose another -o path")
    loaded = policy if isinstance(policy, Policy) else load_policy(policy)
    source = open_source(input_path)
    scan = scan_source(source)
    plan = compile_plan(
        loaded,
        source.schema,
        purpose=purpose,
        role=role,
        labels=scan.labels(),
        as_of=as_of,
        **({"mode": ReleaseMode.TABLE} if k is not None else {}),
    )
    if k is not None:
        plan = unlink_people(leave_quasi_identifiers(plan, loaded, qi, ()))
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
    stack = ExitStack()
    try:
        keyring = Keyring.open(store)  # a wrong master key stops us here, before any row
        audit = AuditLog(store, keyring)
        subjects = release_subjects(plan, loaded, store, keyring, audit)
        plan = with_consent_note(plan, subjects)
        subjects, plan = minors_filter(plan, subjects, people)
        if engine is Engine.SPARK and has_image_columns(plan):
            raise ParameterError(
                "the policy redacts the faces of an image column, which runs in this "
                "process only; anonymize this table without --engine spark"
            )
        if on_start is not None:
            on_start(source.estimate_rows())
        events: list[int] = []
        images = stack.enter_context(image_release(plan, input_path, output_path))
        plan = images.plan
        record = records_of_processing(plan, subjects)

        def record_release(summary: RunSummary) -> None:
            # Written before the output appears: no release without its audit event.
            seq = audit_release(
                audit,
                actor=actor,
                plan=plan,
                rows_in=summary.rows_in,
                rows_out=summary.rows_out,
                consent=consent_details(subjects),
                processing=record,
                table_release=summary.table_release,
                input=summary.input,
                output=summary.output,
            )
            events.append(seq)
            write_manifest(output_path, plan=plan, audit_seq=seq, record=record)
            images.publish()  # the images appear just before the table that points at them

        if engine is Engine.SPARK:
            summary = run_plan_spark(
                plan,
                input_path,
                output_path,
                master=master,
                keys=keyring,
                as_of=as_of,
                before_publish=record_release,
                csv_escape=csv_escape,
                subjects=subjects,
                k_anonymity=(k, tuple(qi)) if k is not None else None,
            )
        else:
            summary = run_plan(
                plan,
                source,
                output_path,
                keys=keyring,
                as_of=as_of,
                on_rows=on_rows,
                before_publish=record_release,
                csv_escape=csv_escape,
                subjects=subjects,
            )
    finally:
        stack.close()  # an unpublished images folder is removed
        if owns_store:
            store.close()
    return AnonymizeResult(plan=plan, scan=scan, summary=summary, audit_seq=events[0])
