"""The audit event every record-level release writes: what was released, never any value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopveil.audit import AuditLog
from shopveil.policy import Plan

__all__ = ["audit_release"]


def audit_release(
    audit: AuditLog,
    *,
    actor: str,
    plan: Plan,
    rows_in: int,
    rows_out: int,
    table_release: Mapping[str, Any] | None = None,
    consent: Mapping[str, Any] | None = None,
    **where: str,
) -> int:
    """Append the ``anonymize.run`` event for one release; return its sequence number.

    ``where`` names what was released (file names or a table name), never the data.
    ``table_release`` describes a k-anonymous release made on top of the plan (method,
    requirements, quasi-identifiers, rows suppressed): counts and names only.
    ``consent`` says which consent purpose, law and basis decided whose rows went out.
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
        },
    )
    return event.seq
