"""The audit event every record-level release writes: what was released, never any value."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shopveil.audit import AuditLog
from shopveil.pipeline._subjects import ReleaseConsent
from shopveil.policy import Plan

__all__ = ["audit_release", "manifest_path", "records_of_processing", "write_manifest"]


def audit_release(
    audit: AuditLog,
    *,
    actor: str,
    plan: Plan,
    rows_in: int,
    rows_out: int,
    table_release: Mapping[str, Any] | None = None,
    consent: Mapping[str, Any] | None = None,
    processing: Mapping[str, Any] | None = None,
    **where: str,
) -> int:
    """Append the ``anonymize.run`` event for one release; return its sequence number.

    ``where`` names what was released (file names or a table name), never the data.
    ``table_release`` describes a k-anonymous release made on top of the plan (method,
    requirements, quasi-identifiers, rows suppressed): counts and names only.
    ``consent`` says which consent purpose, law and basis decided whose rows went out.
    ``processing`` is the release's record of processing (GDPR Art. 30, LGPD Art. 37):
    legal bases, recipients, transfers, retention and release status; see
    :func:`records_of_processing`.
    """
    event = audit.append(
        actor=actor,
        action="anonymize.run",
        details={
            "policy": plan.policy,
            "purpose": plan.purpose,
            "role": plan.role,
            **where,
            "rows_in": rows_in,
            "rows_out": rows_out,
            "techniques": {step.column: step.technique for step in plan.steps},
            **({"table_release": dict(table_release)} if table_release else {}),
            **({"consent": dict(consent)} if consent else {}),
            **({"records_of_processing": dict(processing)} if processing else {}),
        },
    )
    return event.seq


def records_of_processing(plan: Plan, subjects: ReleaseConsent | None) -> dict[str, Any]:
    """The record-of-processing fields of one release (GDPR Art. 30(1), LGPD Art. 37):
    the purpose, the legal basis of each law (from the consent register's checks), and
    the recipients, transfers, retention and release status the plan was bound to."""
    bases = subjects.legal_bases() if subjects is not None else []
    bound = plan.processing.record() if plan.processing is not None else {}
    return {"purpose": plan.purpose, "legal_basis": bases, **bound}


def manifest_path(output: str | os.PathLike[str]) -> Path:
    """Where the manifest of the release written to ``output`` goes: beside it."""
    path = Path(output)
    return path.with_name(path.name + ".release.json")


def write_manifest(
    output: str | os.PathLike[str], *, plan: Plan, audit_seq: int, record: Mapping[str, Any]
) -> Path:
    """Write the release's manifest beside ``output``: what the output legally is, its
    audit event and its record of processing (names and counts, never a value)."""
    status = record.get("release_status", {}).get("status")
    manifest = {
        "shopveil_release": 1,
        "output": Path(output).name,
        "policy": plan.policy,
        "purpose": plan.purpose,
        "role": plan.role,
        "release_status": status,
        "audit_seq": audit_seq,
        "records_of_processing": dict(record),
    }
    path = manifest_path(output)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return path
