"""How a table-level release adapts the policy's plan before k-anonymity runs.

The quasi-identifiers are handed to k-anonymity (kept for it to generalize, after the
checks that the policy allows it), and every direct identifier is dropped, whatever form
the policy gave it, because any of them would link a person's rows past k.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from shopveil._core.classes import SPECIAL_KINDS, ColumnClass
from shopveil.errors import SchemaError
from shopveil.mask import Keep
from shopveil.policy import Plan, Policy

__all__ = ["leave_quasi_identifiers", "unlink_people"]


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


def unlink_people(plan: Plan) -> Plan:
    """Drop every direct identifier, in whatever form the policy would have released it.

    k-anonymity counts only the quasi-identifiers. A pseudonym links the rows of one
    customer (and the customer's rows in other releases under the same purpose), and the
    intersection of a few rows' quasi-identifier groups singles most customers out
    however large k is; a masked e-mail or phone tells people apart the same way. So a
    k-anonymous release carries none of them: each row stands alone.
    """
    steps, dropped = [], []
    for step in plan.steps:
        if step.column_class is ColumnClass.DIRECT_IDENTIFIER and not step.dropped:
            reason = f"{step.reason}; dropped: a k-anonymous release links no rows to a person"
            step = dataclasses.replace(step, operator=None, reason=reason)
            dropped.append(step.column)
        steps.append(step)
    if not dropped:
        return plan
    note = (
        f"k-anonymity: {', '.join(dropped)} dropped, since a pseudonym or a masked identifier "
        "would link each person's rows and single people out past k"
    )
    return dataclasses.replace(plan, steps=tuple(steps), notes=(*plan.notes, note))
