"""The JSON the service reads and writes (pydantic lives here, at the HTTP edge only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ERRORS",
    "Budget",
    "ConsentDecision",
    "ConsentIn",
    "ConsentOut",
    "DetokenizeIn",
    "ErrorOut",
    "EventIn",
    "EventsIn",
    "EventsOut",
    "ProtectIn",
    "ProtectOut",
    "PseudonymizeIn",
    "PseudonymizeValue",
    "QueryIn",
    "RecommendationsOut",
    "RedactIn",
    "TextsOut",
    "TokensOut",
    "ValuesOut",
]

Name = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
Customer = Field(min_length=1, max_length=200)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL, and no name, id or item has one: refused here
        # rather than failing in the store.
        if _has_nul(data):
            raise ValueError("text must not contain NUL characters (\\u0000)")
        return data


def _has_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_nul(v) for v in data)
    return False


class ErrorOut(BaseModel):
    """Every refusal: one line that says what was wrong and how to fix it."""

    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": what}
    for code, what in {
        400: "Bad input; nothing was stored or charged",
        401: "No valid API key",
        403: "The key's role or purposes do not allow this",
        404: "Unknown dataset or customer",
        409: "Refused by a privacy promise (budget, gate); nothing released",
        410: "The customer was erased",
        413: "Request body too large",
        422: "Malformed JSON or wrong types",
        429: "Over the key's rate limit",
        503: "Not configured here (no model)",
    }.items()
}
"""The refusals every endpoint may answer, for the OpenAPI document."""


class ProtectIn(_In):
    """Records to protect for the caller's role, and the purpose they are for."""

    records: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
    purpose: str = Name


class Step(BaseModel):
    """What the policy did to one column."""

    column: str
    technique: str


class ProtectOut(BaseModel):
    """The records as the caller's role may see them."""

    records: list[dict[str, Any]]
    steps: list[Step]
    rows_in: int
    rows_out: int
    audit_seq: int


class PseudonymizeValue(_In):
    """One value and the customer it belongs to."""

    subject: str = Customer
    value: str = Field(min_length=1, max_length=10_000)


class PseudonymizeIn(_In):
    """Values to keep in the vault, each under its customer's key, for a purpose."""

    purpose: str = Name
    values: list[PseudonymizeValue] = Field(min_length=1, max_length=1000)


class TokensOut(BaseModel):
    """One vault token per value, in order."""

    tokens: list[str]


class DetokenizeIn(_In):
    """Vault tokens to resolve, for a purpose allowed to re-identify."""

    purpose: str = Name
    tokens: list[str] = Field(min_length=1, max_length=1000)


class ValuesOut(BaseModel):
    """The values behind the tokens, in order."""

    values: list[str]


class RedactIn(_In):
    """Free texts whose PII is to be replaced: by its kind (``[person_name]``), or, with a
    ``conversation_id``, by fakes that stay the same across the conversation's texts and
    later requests for it."""

    texts: list[str] = Field(min_length=1, max_length=1000)
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)


class TextsOut(BaseModel):
    """The texts with each PII span replaced by its kind (``[email]``) or a fake."""

    texts: list[str]


class QueryIn(_In):
    """A DP SQL query over a registered dataset."""

    sql: str = Field(min_length=1, max_length=10_000)
    dataset: str = Field(min_length=1, max_length=200)
    epsilon: float = Field(gt=0, le=10)
    purpose: str = Field(default="analytics", min_length=1, max_length=100)
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict, max_length=50)
    max_contributions: int | None = Field(default=None, ge=1, le=10_000)
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


class Budget(BaseModel):
    """One dataset's budget account."""

    dataset: str
    unit: str
    total: str
    spent: str
    left: str
    people_exhausted: str | None


class ConsentDecision(BaseModel):
    """A customer's decision in force for one purpose."""

    status: Literal["granted", "refused", "withdrawn"]
    date: str
    jurisdiction: str | None
    source: str


class ConsentOut(BaseModel):
    """A customer's decisions in force, per consent purpose."""

    purposes: dict[str, ConsentDecision]


class ConsentIn(_In):
    """New decisions of a customer, per consent purpose, made now."""

    decisions: dict[
        Literal["analytics", "marketing", "personalization", "sale_sharing"],
        Literal["granted", "refused", "withdrawn"],
    ] = Field(min_length=1)
    jurisdiction: Literal["gdpr", "ccpa", "lgpd", "pipl"] | None = None


class EventIn(_In):
    """One shop event: view, basket or purchase of an item, at a time (now by default)."""

    kind: Literal["view", "basket", "purchase"]
    item: str = Field(min_length=1, max_length=200)
    at: datetime | None = None


class EventsIn(_In):
    """A customer's new events from the shop front."""

    customer: str = Customer
    events: list[EventIn] = Field(min_length=1, max_length=100)


class EventsOut(BaseModel):
    """How many events were kept (0 when the customer does not allow personalization)."""

    stored: int
    personalized: bool


class Item(BaseModel):
    """One recommended item."""

    rank: int
    item: str
    description: str | None


class RecommendationsOut(BaseModel):
    """A customer's top-k items."""

    model: str
    personalized: bool
    history_items: int
    items: list[Item]
