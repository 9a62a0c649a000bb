"""Erasing a subject: shred their key, audit it, and make the shred durable.

What this reaches is the live store: the subject's wrapped key is deleted (zeroed on
SQLite, vacuumed on PostgreSQL), so every vault value and every erasable pseudonym
(``erasable_token``) of theirs can no longer be read or recomputed. Copies made before the
erasure (backups, WAL archives, replicas) still hold the wrapped key; they become
unreadable only once the vault key it was wrapped under is retired (``shopveil keys
rotate``) and the master key that wrapped that vault key is rotated (``shopveil keys
rotate-master``) and every copy of the old master key destroyed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from shopveil.keys._shred import make_durable, secure_delete
from shopveil.keys._trail import AuditTrail
from shopveil.store import Store, insert_ignore, vault_subjects, vault_values

__all__ = ["Erasure", "erase_refs"]


@dataclass(frozen=True)
class Erasure:
    """What :meth:`Vault.erase_subject` did: values made unrecoverable, audit event number."""

    subject_ref: str
    values: int
    already_erased: bool
    audit_seq: int


def erase_refs(store: Store, audit: AuditTrail, refs: Sequence[str], actor: str) -> Erasure:
    """Shred the keys under ``refs`` (the canonical reference first, then legacy ones)."""
    ref, legacy = refs[0], list(refs[1:])
    t = vault_subjects
    with store.transaction() as conn:
        secure_delete(conn)
        insert_ignore(
            conn,
            t,
            [{"subject_ref": ref, "key_version": None, "wrapped_key": None, "erased_at": None}],
        )
        row = conn.execute(
            sa.select(t.c.erased_at).where(t.c.subject_ref == ref).with_for_update()
        ).one()
        already = row.erased_at is not None
        at = audit.clock.now().isoformat()
        conn.execute(
            sa.update(t)
            .where(t.c.subject_ref == ref)
            .values(key_version=None, wrapped_key=None, erased_at=row.erased_at or at)
        )
        if legacy:
            # Rows an older version stored under the subject's exact, non-canonical text.
            conn.execute(
                sa.update(t)
                .where(t.c.subject_ref.in_(legacy))
                .values(
                    key_version=None,
                    wrapped_key=None,
                    erased_at=sa.func.coalesce(t.c.erased_at, at),
                )
            )
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(vault_values)
            .where(vault_values.c.subject_ref.in_(refs))
        ).scalar_one()
        event = audit.append_in(
            conn,
            actor,
            "vault.erase",
            {"subject_ref": ref, "values": int(count), "already_erased": already},
        )
    make_durable(store, "the erasure", [t])
    return Erasure(ref, int(count), already, event.seq)
