"""``/v1/events`` and ``/v1/recommendations/{customer}``: real-time personalization.

A customer's list comes from the served model and that customer's own events kept by
the service (their latest view, basket or purchase counts at once); a customer without
a lawful basis for personalization, or with no events, gets the model's list for a new
customer (popular items).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from shopveil.governance import Action, CustomerEvent, EventKind
from shopveil.service._schemas import ERRORS, EventsIn, EventsOut, RecommendationsOut
from shopveil.service._state import Caller, Model, allowed
from shopveil.service._subjects import CustomerId

__all__ = ["router"]

PERSONALIZATION = "personalization"  # the purpose events and recommendations serve

router = APIRouter(prefix="/v1", responses=ERRORS, tags=["personalization"])


@router.post("/events", response_model=EventsOut)
def events(body: EventsIn, caller: Caller = allowed(Action.EVENTS)) -> EventsOut:
    """Keep the customer's new events for their own recommendations, if they allow it
    and are no minor the law leaves out of personalization.

    Items the served model does not know are refused (400) and nothing is kept.
    """
    model = caller.service.model
    if model is not None:
        unknown = model.served.index([e.item for e in body.events]).count(-1)
        if unknown:
            raise HTTPException(400, f"{unknown} item(s) are not in the model's catalogue")
    now = datetime.now(UTC)
    kept = [
        CustomerEvent(EventKind(e.kind), e.item, _utc(e.at) if e.at else now) for e in body.events
    ]
    law = caller.service.policy.jurisdiction
    if not caller.service.of_age(PERSONALIZATION, body.customer):
        return EventsOut(stored=0, personalized=False)  # a minor: nothing of theirs is kept
    stored = caller.workspace.events.record(body.customer, kept, law)
    return EventsOut(
        stored=stored, personalized=caller.workspace.events.allowed(body.customer, law)
    )


@router.get("/recommendations/{customer}", response_model=RecommendationsOut)
def recommendations(
    customer: CustomerId,
    k: Annotated[int, Query(ge=1, le=100, description="How many items.")] = 10,
    caller: Caller = allowed(Action.RECOMMEND),
) -> RecommendationsOut:
    """The customer's top-k from the model and their own latest events; no budget spent."""
    model = caller.service.model
    if model is None:
        raise HTTPException(503, "no model is served; start with shopveil serve --model FILE")
    law = caller.service.policy.jurisdiction
    if not caller.service.of_age(PERSONALIZATION, customer):
        return _score(model, customer, [], k)  # a minor gets the list for a new customer
    mine = caller.workspace.events.recent(customer, law)
    return _score(model, customer, mine, k)


def _score(model: Model, customer: str, mine: list[CustomerEvent], k: int) -> RecommendationsOut:
    found = model.served.recommend(customer, [(e.item, e.at) for e in mine], k=k)
    return RecommendationsOut.model_validate(
        {
            "model": model.name,
            "personalized": found.known,
            "history_items": found.purchases,
            "items": [
                {"rank": p.rank, "item": p.item, "description": p.description} for p in found.items
            ],
        }
    )


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
