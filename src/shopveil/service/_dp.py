"""``/v1/query`` and ``/v1/budgets``: DP SQL through the ledger, and what is left."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fastapi import APIRouter, HTTPException

from shopveil._core.budgets import PureDP
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import AutoBounds, QueryOptions, run_query
from shopveil.governance import Action, AllOf
from shopveil.service._schemas import ERRORS, Budget, QueryIn
from shopveil.service._state import Caller, allowed

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["dp"])


@router.post("/query")
def query(body: QueryIn, caller: Caller = allowed(Action.QUERY)) -> dict[str, Any]:
    """A DP answer over a registered dataset, charged to the ledger before it is computed.

    Without ``bounds`` and ``max_contributions`` the bounds are chosen privately.
    """
    workspace = caller.workspace
    entry = workspace.catalog.find(body.dataset)
    if entry is None:
        raise HTTPException(404, f"unknown dataset {body.dataset!r}; the steward registers it")
    purpose = caller.purpose(body.purpose)
    manual = bool(body.bounds) or body.max_contributions is not None
    unit = None  # the registered dataset's
    if body.max_contributions is not None and isinstance(entry.unit, PerCustomer):
        unit = dataclasses.replace(entry.unit, max_contributions=body.max_contributions)
    options = QueryOptions(
        epsilon=PureDP(body.epsilon),
        unit=unit,
        bounds=dict(body.bounds),
        analyst=caller.grant.name,
        purpose=purpose,
        automatic=None if manual else AutoBounds(),
    )
    policy = caller.service.policy
    policy.processing.check_epsilon(body.epsilon)
    answer = run_query(
        body.sql,
        body.dataset,
        options=options,
        ledger=workspace.ledger,
        catalog=workspace.catalog,
        request_id=body.request_id,
        subjects=_subjects(caller, purpose),
    )
    result: dict[str, Any] = json.loads(answer.to_json())
    return result


@router.get("/budgets", response_model=list[Budget])
def budgets(caller: Caller = allowed(Action.BUDGETS)) -> list[Budget]:
    """Every budget account: per-person total, most spent, what is left, people exhausted."""
    ledger = caller.workspace.ledger
    out = []
    for state in ledger.accounts():
        exhausted = None
        if state.unit != "row":
            exhausted = ledger.spending(state.unit, state.total).exhausted_range()
        out.append(
            Budget(
                dataset=state.dataset,
                unit=state.unit,
                total=str(state.total),
                spent=str(state.spent),
                left=str(state.remaining),
                people_exhausted=exhausted,
            )
        )
    return out


def _subjects(caller: Caller, purpose: str) -> SubjectFilter:
    """The consent register's answer for ``purpose``, less the minors the law leaves out
    of it (by the ages the service was started with)."""
    consent = caller.workspace.subjects(purpose, caller.service.policy.jurisdiction)
    minors = caller.service.minors.get(purpose)
    return consent if minors is None else AllOf((consent, minors))
