"""``/v1/consent/{customer}`` and ``/v1/subjects/{customer}``: consent and subject rights."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from shopveil.governance import (
    Action,
    ConsentPurpose,
    ConsentRecord,
    ConsentRow,
    ConsentStatus,
)
from shopveil.policy import Jurisdiction
from shopveil.service._schemas import ERRORS, ConsentIn, ConsentOut
from shopveil.service._state import Caller, allowed

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["subjects"])

CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="The customer's id.")]


def _consent(caller: Caller, customer: str) -> ConsentOut:
    current = caller.workspace.consent.current(customer)
    return ConsentOut.model_validate(
        {"purposes": {p.value: r.as_dict() for p, r in sorted(current.items())}}
    )


@router.get("/consent/{customer}", response_model=ConsentOut)
def consent_get(customer: CustomerId, caller: Caller = allowed(Action.CONSENT_READ)) -> ConsentOut:
    """The customer's decision in force per consent purpose (purposes never decided are absent)."""
    return _consent(caller, customer)


@router.put("/consent/{customer}", response_model=ConsentOut)
def consent_put(
    customer: CustomerId, body: ConsentIn, caller: Caller = allowed(Action.CONSENT_WRITE)
) -> ConsentOut:
    """Record the customer's decisions, made now; an objection to personalization also
    stops their events being kept or used. Audited with counts only."""
    now = datetime.now(UTC).replace(microsecond=0)
    law = Jurisdiction(body.jurisdiction) if body.jurisdiction else None
    rows = [
        ConsentRow(
            "request",
            customer,
            ConsentRecord(ConsentPurpose(p), ConsentStatus(s), now, law, "service"),
        )
        for p, s in body.decisions.items()
    ]
    caller.workspace.consent.record(rows, actor=caller.workspace.actor, file="request")
    caller.workspace.events.prune(customer, caller.service.policy.jurisdiction)
    return _consent(caller, customer)


@router.get("/subjects/{customer}")
def subject_export(
    customer: CustomerId, caller: Caller = allowed(Action.SUBJECT_EXPORT)
) -> dict[str, Any]:
    """The access request: what is held about the customer: consent decisions, vault
    tokens (resolvable by the purposes allowed to), the shop events kept for them, and
    the budget spent on them per registered dataset."""
    report = caller.workspace.subject_report(customer)
    if not report.holds_anything:
        raise HTTPException(404, "nothing is held about this customer")
    return report.as_dict()


@router.delete("/subjects/{customer}")
def subject_erase(
    customer: CustomerId, caller: Caller = allowed(Action.SUBJECT_ERASE)
) -> dict[str, Any]:
    """Erase the customer end to end: vault key shredded, consent records (objections in
    force kept), rows in registered datasets, ledger entries and shop events deleted."""
    done = caller.workspace.erase_subject(customer)
    return {
        "vault_values_unrecoverable": done.vault.values,
        "already_erased": done.vault.already_erased,
        "consent_deleted": done.consent.deleted,
        "consent_objections_kept": done.consent.kept,
        "dataset_rows_deleted": {name: count for name, count in done.datasets},
        "events_deleted": done.events,
        "audit_seq": done.audit_seq,
    }
