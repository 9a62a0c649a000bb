"""Which customers a release may hold: the consent register asked once per release.

Two questions, each answered by the register under the policy's law: may the release's
purpose use this customer's data at all, and, when the plan keeps special-category
columns (health, religion, …), has the customer given the consent those need. A row
leaves the release when either answer is no, by every customer id column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopveil._core.subjects import SubjectFilter
from shopveil.audit import AuditLog
from shopveil.errors import PolicyError
from shopveil.governance import AllOf, ConsentFilter, ConsentRegister
from shopveil.keys import Keyring
from shopveil.pipeline._run import customer_columns
from shopveil.policy import Plan, Policy
from shopveil.store import Store

__all__ = ["ReleaseConsent", "release_consent"]


@dataclass(frozen=True)
class ReleaseConsent:
    """The register's answers for one release.

    Attributes
    ----------
    purpose
        Whose data the release's purpose may use; None when the table holds no customer
        id and no opt-out flag, so no row of it can be tied to a decision.
    sensitive
        Who consented to the special categories the plan keeps; None when it keeps none.
    minors
        Who is no minor left out, by a table of the customers' ages; None when the
        table's own age column decides, or the purpose keeps minors.
    """

    purpose: ConsentFilter | None
    sensitive: ConsentFilter | None = None
    minors: SubjectFilter | None = None

    @property
    def rows(self) -> SubjectFilter | None:
        """The filter a run applies: every answer at once."""
        parts = [f for f in (self.purpose, self.sensitive, self.minors) if f is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def noted(self, plan: Plan) -> Plan:
        """``plan`` with notes saying whom the register left out, and by which column."""
        notes = []
        columns = customer_columns(plan)
        by = f"by {', '.join(repr(c) for c in columns)}"
        if self.purpose is not None and self.purpose.basis is not None:
            where = by if columns else "no customer id column, so only the opt-out flag applies"
            notes.append(f"consent register, {where}: {self.purpose.describe()}")
        if self.sensitive is not None:
            kept = ", ".join(repr(c) for c in plan.sensitive_columns)
            notes.append(f"special categories kept ({kept}), {by}: {self.sensitive.describe()}")
        return dataclasses.replace(plan, notes=(*plan.notes, *notes)) if notes else plan

    def details(self) -> Mapping[str, Any] | None:
        """What the audit event says about the consent check: purpose, law and basis."""
        if self.purpose is None and self.sensitive is None:
            return None
        found: dict[str, Any] = {}
        if self.purpose is not None:
            found.update(_basis(self.purpose))
        if self.sensitive is not None:
            found["sensitive_data"] = _basis(self.sensitive)
        return found


def release_consent(
    plan: Plan, policy: Policy, store: Store, keyring: Keyring, audit: AuditLog
) -> ReleaseConsent:
    """The register's answers for ``plan``'s purpose under ``policy``'s law.

    Raises :class:`~shopveil.errors.ParameterError` for a purpose the consent table does
    not know, and :class:`~shopveil.errors.PolicyError` for special-category columns in
    a table without a customer id (whose consent cannot be checked), before any row moves.
    Minors are added by the caller (:func:`~shopveil.pipeline._minors.minors_filter`).
    """
    columns = customer_columns(plan)
    register = ConsentRegister(store, keyring, audit)
    purpose = None
    if columns or plan.opt_out_column is not None:
        purpose = register.filter(plan.purpose, policy.jurisdiction)
    if not plan.sensitive_columns:
        return ReleaseConsent(purpose)
    if not columns:
        raise PolicyError(
            f"the plan keeps special-category column {plan.sensitive_columns[0]!r} for "
            f"purpose {plan.purpose!r} on each customer's consent, but the table has no "
            "customer id column to check that consent by; release it with the customer id "
            "(kind customer_id), or drop the column"
        )
    return ReleaseConsent(
        purpose, register.sensitive_data_filter(plan.purpose, policy.jurisdiction)
    )


def _basis(subjects: ConsentFilter) -> dict[str, Any]:
    basis = subjects.basis
    return {
        "purpose": basis.purpose.value if basis else None,
        "jurisdiction": basis.jurisdiction.value if basis and basis.jurisdiction else None,
        "basis": basis.basis.value if basis else "contract",
    }
