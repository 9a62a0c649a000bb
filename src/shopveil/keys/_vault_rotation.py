"""Vault key rotation: every subject key moves to a new vault key version.

Subject keys are re-wrapped under the new version in small transactions, so readers and
writers keep working; values stay encrypted under their subject keys as they are. An old
version is retired only once no subject key is left under it, checked in the retiring
transaction, so a writer that used the old version meanwhile just means another pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from shopveil.errors import ParameterError, StoreError
from shopveil.keys import _datakeys
from shopveil.keys._keyring import Keyring
from shopveil.keys._shred import make_durable
from shopveil.keys._subjects import VAULT_PURPOSE, StaleRead, SubjectKeys
from shopveil.keys._trail import AuditTrail
from shopveil.store import Store, data_keys, vault_subjects

__all__ = ["Rotation", "rotate_subject_keys"]


@dataclass(frozen=True)
class Rotation:
    """What :meth:`Vault.rotate` did."""

    new_version: int
    rewrapped: int
    retired: tuple[int, ...]
    audit_seq: int


def rotate_subject_keys(
    store: Store,
    keyring: Keyring,
    subjects: SubjectKeys,
    audit: AuditTrail,
    actor: str,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None,
) -> Rotation:
    """:meth:`Vault.rotate <shopveil.keys.Vault.rotate>`, on the vault's parts."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParameterError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    audit.check(actor, "keys.rotate")
    subjects.current()  # version 1 exists before we add version 2
    new_version = keyring.rotate_data_key(VAULT_PURPOSE)
    with store.engine.connect() as conn:
        total = subjects.count_below(conn, new_version)
    rewrapped, retired = 0, []
    for _ in range(100):
        while True:
            with store.transaction() as conn:
                moved = subjects.rewrap_batch(conn, new_version, batch_size)
            rewrapped += moved
            if on_progress is not None and moved:
                on_progress(rewrapped, max(total, rewrapped))
            if moved == 0:
                break
        old = [
            info.version
            for info in keyring.data_key_versions(VAULT_PURPOSE)
            if info.version < new_version and info.state == _datakeys.ACTIVE
        ]
        try:
            for version in old:
                _datakeys.retire(
                    store,
                    VAULT_PURPOSE,
                    version,
                    precondition=functools.partial(_none_under, subjects, version=version),
                )
                retired.append(version)
            break
        except StaleRead:
            continue  # a writer used an old version meanwhile; move its keys too
    else:
        raise StoreError("vault rotation could not finish: keys kept appearing under old versions")
    event = audit.append(
        actor,
        "keys.rotate",
        {
            "purpose": VAULT_PURPOSE,
            "new_version": new_version,
            "rewrapped": rewrapped,
            "retired": retired,
        },
    )
    make_durable(store, "the vault key rotation", [vault_subjects, data_keys])
    return Rotation(new_version, rewrapped, tuple(retired), event.seq)


def _none_under(subjects: SubjectKeys, conn: sa.Connection, *, version: int) -> None:
    if subjects.count_under(conn, version):
        raise StaleRead()
