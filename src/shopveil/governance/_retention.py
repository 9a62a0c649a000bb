"""The retention job: deletes what ShopVeil's own store keeps past its period.

It reaches only tables ShopVeil owns, and among them only rows nothing else needs:

- **consent history**: a customer's superseded decisions (one they later replaced),
  dated before the period. The decision in force is never deleted: it is the proof of
  consent a law asks for (GDPR Art. 7(1), LGPD Art. 8 §2), or the objection that keeps
  the customer out.
- **erased subjects**: the vault values (ciphertexts and keyed lookups) of customers
  erased before the period. Their key is already shredded, so the values cannot be read,
  but a keyed lookup still answers whether a guessed value was stored. The subject's
  tombstone stays, so a returning id gets no key back under the old one.

It cannot delete the audit log (append-only and hash-chained: a deleted event breaks the
chain, and events hold no personal values), the DP ledger's charges (the budget of every
person in a release is computed from them), vault values of customers not erased (the
vault records no date for them: erase the customer instead), or anything outside the
store: the retailer's own tables and files, and copies of earlier releases. Releases
leave out rows past their period at compile time (``retention`` in the policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.governance._bases import ConsentStatus
from shopveil.governance._register import format_at
from shopveil.policy import StoreRetention
from shopveil.store import Store, consent_records, vault_subjects, vault_values

__all__ = ["NOT_REACHED", "RetentionRun", "run_retention"]

NOT_REACHED = (
    "audit log (append-only, hash-chained; holds no personal values)",
    "DP ledger charges (each person's budget is computed from them)",
    "vault values of customers not erased (no date is kept for them; erase the customer)",
    "the retailer's own tables and files, and copies of earlier releases",
)
"""What the retention job cannot delete, as its report and audit event say."""

_CHUNK = 500


@dataclass(frozen=True)
class RetentionRun:
    """What one run deleted (or, for a dry run, would delete), in counts only."""

    consent_records: int
    vault_values: int
    consent_before: str | None  # records decided before this time were eligible
    erased_before: str | None  # subjects erased before this time were eligible
    dry_run: bool
    audit_seq: int | None  # None for a dry run


def run_retention(
    store: Store,
    audit: AuditLog,
    rules: StoreRetention,
    *,
    actor: str,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionRun:
    """Delete what ``rules`` put past its period, in one transaction with its audit event.

    ``now`` is the time periods are counted back from (the audit clock's by default).
    A dry run counts and deletes nothing, and writes no event.
    """
    now = now or audit.clock.now()
    consent_before = (
        format_at(now - timedelta(days=rules.consent_history))
        if rules.consent_history is not None
        else None
    )
    erased_before = (
        (now - timedelta(days=rules.erased_subjects)).isoformat()
        if rules.erased_subjects is not None
        else None
    )
    if not dry_run:
        audit.check(actor, "retention.run")
    with store.transaction() as conn:
        records = _superseded(conn, consent_before) if consent_before else []
        values = _erased_values(conn, erased_before) if erased_before else []
        if dry_run:
            return RetentionRun(
                len(records), len(values), consent_before, erased_before, True, None
            )
        for start in range(0, len(records), _CHUNK):
            ids = records[start : start + _CHUNK]
            conn.execute(sa.delete(consent_records).where(consent_records.c.id.in_(ids)))
        for start in range(0, len(values), _CHUNK):
            tokens = values[start : start + _CHUNK]
            conn.execute(sa.delete(vault_values).where(vault_values.c.token.in_(tokens)))
        event = audit.append_in(
            conn,
            actor,
            "retention.run",
            {
                "consent_history": {
                    "days": rules.consent_history,
                    "decided_before": consent_before,
                    "deleted": len(records),
                },
                "erased_subjects": {
                    "days": rules.erased_subjects,
                    "erased_before": erased_before,
                    "vault_values_deleted": len(values),
                },
                "not_reached": list(NOT_REACHED),
            },
        )
    return RetentionRun(len(records), len(values), consent_before, erased_before, False, event.seq)


def _superseded(conn: sa.Connection, before: str) -> list[int]:
    """Ids of consent records decided before ``before`` that a later decision replaced."""
    t = consent_records
    strict = sa.case((t.c.status == ConsentStatus.GRANTED.value, 0), else_=1)
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(t.c.subject_ref, t.c.purpose),
            order_by=(t.c.at.desc(), strict.desc(), t.c.id.desc()),
        )
        .label("rank")
    )
    ranked = sa.select(t.c.id, t.c.at, rank).subquery()
    query = sa.select(ranked.c.id).where(ranked.c.rank > 1, ranked.c.at < before)
    return [int(row.id) for row in conn.execute(query)]


def _erased_values(conn: sa.Connection, before: str) -> list[str]:
    """Tokens of the vault values of subjects erased before ``before``."""
    erased = sa.select(vault_subjects.c.subject_ref).where(
        vault_subjects.c.erased_at.is_not(None), vault_subjects.c.erased_at < before
    )
    query = sa.select(vault_values.c.token).where(vault_values.c.subject_ref.in_(erased))
    return [str(row.token) for row in conn.execute(query)]
