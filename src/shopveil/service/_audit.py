"""``/v1/audit`` (steward) and ``/healthz``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shopveil.dp import check_ledger
from shopveil.errors import IntegrityError
from shopveil.governance import Action
from shopveil.service._schemas import ERRORS
from shopveil.service._state import Caller, allowed

__all__ = ["health", "router"]

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["audit"])
health = APIRouter()


@router.get("/audit")
def audit(
    limit: Annotated[int, Query(ge=0, le=10_000, description="The newest N events.")] = 100,
    caller: Caller = allowed(Action.AUDIT),
) -> dict[str, Any]:
    """The audit log's newest events, and whether the whole chain, its signed checkpoints
    and the ledger verify."""
    caller.service.calls.flush()  # the calls queued so far are in the log the steward reads
    log = caller.workspace.audit
    problem = None
    try:
        count = log.verify()
        problems = check_ledger(caller.workspace.store, log)
        problem = problems[0] if problems else None
    except IntegrityError as exc:
        count, problem = 0, str(exc).splitlines()[0]
    events = [
        {k: v for k, v in e.to_dict().items() if k != "prev_hash"} for e in log.events(limit=limit)
    ]
    return {"verified": problem is None, "events_checked": count, "problem": problem,
            "events": events}  # fmt: skip


@health.get("/healthz", tags=["service"])
def healthz() -> dict[str, str]:
    """Whether the service answers (no key needed)."""
    return {"status": "ok"}
