"""Which customers a release may hold: the consent register asked once per release."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from shopveil.audit import AuditLog
from shopveil.governance import LEGAL_BASES, ConsentFilter, ConsentPurpose, ConsentRegister
from shopveil.keys import Keyring
from shopveil.pipeline._run import customer_columns
from shopveil.pipeline._subjects import ReleaseConsent
from shopveil.policy import Jurisdiction, Plan, Policy, RecipientKind
from shopveil.store import Store

__all__ = ["consent_details", "release_subjects", "with_consent_note"]

SALE_SHARING = "sale_sharing"


def release_subjects(
    plan: Plan, policy: Policy, store: Store, keyring: Keyring, audit: AuditLog
) -> ReleaseConsent | None:
    """Every consent check of ``plan`` under ``policy``'s law (each row's law with a
    residence column): the release purpose's basis; for a sale or a share, the opt-out of
    sale and sharing (a Global Privacy Control signal included), and under PIPL any
    provision to a third party (Art. 23); for a transfer, each customer's consent to it
    where the law asks (PIPL Art. 39, or consent as the GDPR or LGPD mechanism).

    None when the table holds no customer id and no opt-out flag: no row of it can be
    tied to a customer's decision. Raises :class:`~shopveil.errors.ParameterError` for
    a purpose the consent table does not know, before any row moves.
    """
    if not customer_columns(plan) and plan.opt_out_column is None:
        return None
    register = ConsentRegister(store, keyring, audit)
    processing = plan.processing
    if processing is None:  # a plan not bound to its processing: its purpose alone
        return ReleaseConsent(
            {policy.jurisdiction: (register.filter(plan.purpose, policy.jurisdiction),)}
        )
    to_third_party = (
        processing.recipient is not None and processing.recipient.kind is RecipientKind.THIRD_PARTY
    )
    transfer = processing.transfer
    by_law: dict[Jurisdiction | None, tuple[ConsentFilter, ...]] = {}
    for law in processing.jurisdictions:
        checks = [register.filter(plan.purpose, law)]
        if processing.sells_or_shares or (to_third_party and law is Jurisdiction.PIPL):
            checks.append(register.filter(SALE_SHARING, law))
        if transfer is not None and law in transfer.consent_laws:
            basis = LEGAL_BASES[(law, ConsentPurpose.CROSS_BORDER)]
            checks.append(register.filter_basis(ConsentPurpose.CROSS_BORDER.value, basis))
        by_law[law] = tuple(checks)
    return ReleaseConsent(by_law, processing.residence)


def with_consent_note(plan: Plan, subjects: ReleaseConsent | None) -> Plan:
    """``plan`` with a note saying whom the consent register left out, and by which column."""
    if subjects is None or not subjects.limits:
        return plan
    columns = customer_columns(plan)
    where = (
        f"by {', '.join(repr(c) for c in columns)}"
        if columns
        else "no customer id column, so only the opt-out flag applies"
    )
    note = f"consent register, {where}: {subjects.describe()}"
    return dataclasses.replace(plan, notes=(*plan.notes, note))


def consent_details(subjects: ReleaseConsent | None) -> Mapping[str, Any] | None:
    """What the audit event says about the consent check: purpose, law and basis."""
    return None if subjects is None else subjects.details()
