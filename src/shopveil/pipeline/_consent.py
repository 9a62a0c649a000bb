"""Which customers a release may hold: the consent register asked once per release."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from shopveil.audit import AuditLog
from shopveil.governance import ConsentFilter, ConsentRegister
from shopveil.keys import Keyring
from shopveil.pipeline._run import customer_columns
from shopveil.policy import Plan, Policy
from shopveil.store import Store

__all__ = ["consent_details", "release_subjects", "with_consent_note"]


def release_subjects(
    plan: Plan, policy: Policy, store: Store, keyring: Keyring, audit: AuditLog
) -> ConsentFilter | None:
    """The consent filter for ``plan``'s purpose under ``policy``'s law.

    None when the table holds no customer id and no opt-out flag: no row of it can be
    tied to a customer's decision. Raises :class:`~shopveil.errors.ParameterError` for
    a purpose the consent table does not know, before any row moves.
    """
    if not customer_columns(plan) and plan.opt_out_column is None:
        return None
    register = ConsentRegister(store, keyring, audit)
    return register.filter(plan.purpose, policy.jurisdiction)


def with_consent_note(plan: Plan, subjects: ConsentFilter | None) -> Plan:
    """``plan`` with a note saying whom the consent register left out, and by which column."""
    if subjects is None or subjects.basis is None:
        return plan
    columns = customer_columns(plan)
    where = (
        f"by {', '.join(repr(c) for c in columns)}"
        if columns
        else "no customer id column, so only the opt-out flag applies"
    )
    note = f"consent register, {where}: {subjects.describe()}"
    return dataclasses.replace(plan, notes=(*plan.notes, note))


def consent_details(subjects: ConsentFilter | None) -> Mapping[str, Any] | None:
    """What the audit event says about the consent check: purpose, law and basis."""
    if subjects is None:
        return None
    basis = subjects.basis
    return {
        "purpose": basis.purpose.value if basis else None,
        "jurisdiction": basis.jurisdiction.value if basis and basis.jurisdiction else None,
        "basis": basis.basis.value if basis else "contract",
    }
