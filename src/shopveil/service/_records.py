"""``/v1/protect``, ``/v1/pseudonymize``, ``/v1/detokenize`` and ``/v1/redact``."""

from __future__ import annotations

from fastapi import APIRouter

from shopveil.governance import Action
from shopveil.pipeline import protect_records
from shopveil.pseudo import redact_messages
from shopveil.service._schemas import (
    ERRORS,
    DetokenizeIn,
    ProtectIn,
    ProtectOut,
    PseudonymizeIn,
    RedactIn,
    TextsOut,
    TokensOut,
    ValuesOut,
)
from shopveil.service._state import Caller, allowed

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERRORS)


@router.post("/protect", response_model=ProtectOut, tags=["records"])
def protect(body: ProtectIn, caller: Caller = allowed(Action.PROTECT)) -> ProtectOut:
    """Records protected by the policy for the caller's role and the purpose: masked,
    tokenized or generalized per column; customers without a lawful basis left out."""
    done = protect_records(
        caller.workspace,
        body.records,
        policy=caller.service.policy,
        role=caller.grant.role,
        purpose=caller.purpose(body.purpose),
        plans=caller.service.plans,
    )
    steps = [{"column": s.column, "technique": s.technique} for s in done.plan.steps]
    return ProtectOut.model_validate(
        {
            "records": done.records,
            "steps": steps,
            "rows_in": done.rows_in,
            "rows_out": len(done.records),
            "audit_seq": done.audit_seq,
        }
    )


@router.post("/pseudonymize", response_model=TokensOut, tags=["records"])
def pseudonymize(body: PseudonymizeIn, caller: Caller = allowed(Action.PSEUDONYMIZE)) -> TokensOut:
    """Reversible vault tokens: each value encrypted under its customer's own key."""
    tokens = caller.workspace.vault.tokenize(
        [v.value for v in body.values],
        subject_ids=[v.subject for v in body.values],
        purpose=caller.purpose(body.purpose),
        actor=caller.workspace.actor,
    )
    return TokensOut(tokens=tokens)


@router.post("/detokenize", response_model=ValuesOut, tags=["records"])
def detokenize(body: DetokenizeIn, caller: Caller = allowed(Action.DETOKENIZE)) -> ValuesOut:
    """The values behind vault tokens, for a purpose the vault lets re-identify; audited."""
    values = caller.workspace.vault.detokenize(
        body.tokens, purpose=caller.purpose(body.purpose), actor=caller.workspace.actor
    )
    return ValuesOut(values=values)


@router.post("/redact", response_model=TextsOut, tags=["records"])
def redact(body: RedactIn, caller: Caller = allowed(Action.REDACT)) -> TextsOut:
    """Free texts with names, places, addresses, emails, phones, cards, IBANs, national
    ids and other PII replaced by their kind; with a ``conversation_id``, by fakes that
    are the same for the same value throughout that conversation (keyed per role)."""
    key = None
    if body.conversation_id is not None:
        key = caller.workspace.keyring.derive("redact", f"conversation:{caller.grant.role}")
    texts = redact_messages(
        body.texts,
        engine=caller.service.text_engine,
        conversation_id=body.conversation_id,
        key=key,
    )
    return TextsOut(texts=texts)
