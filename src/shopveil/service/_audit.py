"""``/v1/audit`` (steward) and ``/healthz``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shopveil.governance import Action
from shopveil.service._schemas import ERRORS
from shopveil.service._state import Caller, allowed
from shopveil.service._views import audit_state

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
    return audit_state(caller.workspace, limit)


@health.get("/healthz", tags=["service"])
def healthz() -> dict[str, str]:
    """Whether the service answers (no key needed)."""
    return {"status": "ok"}
