"""How a release leaves minors out: by the table's own birth date or age (the run reads
it row by row), or by customer id against a table of the same customers' ages.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from shopveil._core.classes import Kind
from shopveil.errors import PolicyError
from shopveil.governance import people_ages
from shopveil.pipeline._subjects import ReleaseConsent
from shopveil.policy import Plan, UnknownAge

__all__ = ["minors_filter"]


def minors_filter(
    plan: Plan, subjects: ReleaseConsent | None, people: str | os.PathLike[str] | None
) -> tuple[ReleaseConsent | None, Plan]:
    """``subjects`` with the minors a release of ``plan`` leaves out, and the plan with a
    note saying how.

    The table's own birth date or age column is read row by row (the run does it;
    ``subjects`` is returned as it is). A table without one is matched by customer id
    against ``people``, a table of the same customers with their birth date or age.
    Without ``people``, where the law leaves rows of unknown age out, the release is
    refused before any row moves: every row would go.
    """
    check = plan.minors
    if check is None:
        return subjects, plan
    if check.age_column is not None:
        note = f"minors, by {check.age_column!r}: {check.describe()}"
        return subjects, _noted(plan, note)
    if people is None:
        if check.unknown_age is UnknownAge.EXCLUDE:
            raise PolicyError(
                f"{check.origin}: purpose {plan.purpose!r} leaves out customers under "
                f"{check.age}, and this table has no birth date or age column, so every row "
                "is of unknown age; pass people= (--people FILE), a table of the same "
                "customers with their id and birth date or age"
            )
        note = (
            f"minors: no birth date or age column, so no age is known and every row is kept "
            f"({check.origin}: rows of unknown age are kept under this law)"
        )
        return subjects, _noted(plan, note)
    if not any(step.kind is Kind.CUSTOMER_ID for step in plan.steps):
        raise PolicyError(
            f"people= gives ages by customer id, but this table has no customer id column to "
            f"match them by; purpose {plan.purpose!r} leaves out customers under {check.age} "
            f"({check.origin})"
        )
    ages = people_ages(people, check)
    note = f"minors, by the ages in {Path(people).name}: {check.describe()}"
    # A table with a customer id always has its consent checks, so subjects is set.
    with_ages = (
        ReleaseConsent({}, minors=ages)
        if subjects is None
        else dataclasses.replace(subjects, minors=ages)
    )
    return with_ages, _noted(plan, note)


def _noted(plan: Plan, note: str) -> Plan:
    return dataclasses.replace(plan, notes=(*plan.notes, note))
