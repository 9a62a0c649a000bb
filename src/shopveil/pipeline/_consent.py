"""Which customers a release may hold: the consent register asked once per release.

The register answers, under each law the release's rows fall under: may the release's
purpose use this customer's data at all; for a sale, a share or a transfer, has the
customer not opted out of it (or consented, where the law asks); and, when the plan keeps
special-category columns (health, religion, …), has the customer given the consent those
need. A row leaves the release when any answer is no, by every customer id column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from shopveil.audit import AuditLog
from shopveil.errors import PolicyError
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
    where the law asks (PIPL Art. 39, or consent as the GDPR or LGPD mechanism); for the
    special categories the plan keeps, each customer's consent to them.

    None when the table holds no customer id and no opt-out flag: no row of it can be
    tied to a customer's decision. Raises :class:`~shopveil.errors.ParameterError` for
    a purpose the consent table does not know, and :class:`~shopveil.errors.PolicyError`
    for special-category columns in a table without a customer id (whose consent cannot
    be checked), before any row moves. Minors are added by the caller
    (:func:`~shopveil.pipeline._minors.minors_filter`).
    """
    columns = customer_columns(plan)
    if plan.sensitive_columns and not columns:
        raise PolicyError(
            f"the plan keeps special-category column {plan.sensitive_columns[0]!r} for "
            f"purpose {plan.purpose!r} on each customer's consent, but the table has no "
            "customer id column to check that consent by; release it with the customer id "
            "(kind customer_id), or drop the column"
        )
    if not columns and plan.opt_out_column is None:
        return None
    register = ConsentRegister(store, keyring, audit)
    processing = plan.processing
    laws = processing.jurisdictions if processing is not None else (policy.jurisdiction,)
    by_law: dict[Jurisdiction | None, tuple[ConsentFilter, ...]] = {}
    for law in laws:
        checks = [register.filter(plan.purpose, law)]
        if processing is not None:
            to_third_party = (
                processing.recipient is not None
                and processing.recipient.kind is RecipientKind.THIRD_PARTY
            )
            if processing.sells_or_shares or (to_third_party and law is Jurisdiction.PIPL):
                checks.append(register.filter(SALE_SHARING, law))
            transfer = processing.transfer
            if transfer is not None and law in transfer.consent_laws:
                basis = LEGAL_BASES[(law, ConsentPurpose.CROSS_BORDER)]
                checks.append(register.filter_basis(ConsentPurpose.CROSS_BORDER.value, basis))
        if plan.sensitive_columns:
            checks.append(register.sensitive_data_filter(plan.purpose, law))
        by_law[law] = tuple(checks)
    return ReleaseConsent(by_law, processing.residence if processing is not None else None)


def with_consent_note(plan: Plan, subjects: ReleaseConsent | None) -> Plan:
    """``plan`` with notes saying whom the consent register left out, and by which column."""
    if subjects is None or not subjects.limits:
        return plan
    notes = []
    columns = customer_columns(plan)
    by = f"by {', '.join(repr(c) for c in columns)}"
    purpose = subjects.describe()
    if purpose:
        where = by if columns else "no customer id column, so only the opt-out flag applies"
        notes.append(f"consent register, {where}: {purpose}")
    if plan.sensitive_columns:
        kept = ", ".join(repr(c) for c in plan.sensitive_columns)
        notes.append(f"special categories kept ({kept}), {by}: {subjects.describe(sensitive=True)}")
    return dataclasses.replace(plan, notes=(*plan.notes, *notes))


def consent_details(subjects: ReleaseConsent | None) -> Mapping[str, Any] | None:
    """What the audit event says about the consent check: purpose, law and basis."""
    return None if subjects is None else subjects.details()
