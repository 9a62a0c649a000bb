"""Data keys: random keys stored wrapped (AES-GCM) under the key-encryption key.

Each (purpose, version) row holds one wrapped key. Rotation adds version n+1; old
versions stay readable until retired, when their material is deleted and the row stays
(state ``retired``) so tokens naming that version get a precise error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from shopveil.errors import (
    IntegrityError,
    KeyringError,
    StoreError,
    UnknownKeyVersion,
    WrongMasterKey,
)
from shopveil.keys._crypto import InvalidTag, encode_fields, new_key, open_sealed, seal
from shopveil.keys._shred import secure_delete
from shopveil.store import Store, data_keys, insert_ignore, meta

__all__ = [
    "ACTIVE",
    "KEY_CHECK",
    "RETIRED",
    "DataKeyInfo",
    "add_version",
    "current",
    "ensure_current",
    "guard_master",
    "list_versions",
    "load",
    "retire",
    "rewrap_all",
    "unwrap",
    "wrap",
]

KEY_CHECK = "key_check"
ACTIVE = "active"
RETIRED = "retired"


@dataclass(frozen=True)
class DataKeyInfo:
    """One version of a data key, without its material."""

    purpose: str
    version: int
    state: str
    created_at: str


def _aad(purpose: str, version: int) -> bytes:
    return encode_fields("shopveil/data-key", purpose, version)


def wrap(kek: bytes, purpose: str, version: int, key: bytes) -> bytes:
    return seal(kek, key, _aad(purpose, version))


def unwrap(kek: bytes, purpose: str, version: int, wrapped: bytes) -> bytes:
    try:
        return open_sealed(kek, wrapped, _aad(purpose, version))
    except InvalidTag:
        raise IntegrityError(
            f"data key {purpose!r} version {version} does not authenticate: the stored "
            "row was altered or copied from another store"
        ) from None


def current(conn: sa.Connection, kek: bytes, purpose: str) -> tuple[int, bytes] | None:
    """The newest active version and its key, or None when the purpose has no key yet."""
    row = conn.execute(
        sa.select(data_keys.c.version, data_keys.c.wrapped)
        .where(data_keys.c.purpose == purpose, data_keys.c.state == ACTIVE)
        .order_by(data_keys.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return int(row.version), unwrap(kek, purpose, int(row.version), row.wrapped)


def load(conn: sa.Connection, kek: bytes, purpose: str, version: int) -> bytes:
    """The key of one version; :class:`UnknownKeyVersion` if it never existed or is retired."""
    row = conn.execute(
        sa.select(data_keys.c.wrapped, data_keys.c.state).where(
            data_keys.c.purpose == purpose, data_keys.c.version == version
        )
    ).first()
    if row is None:
        raise UnknownKeyVersion(
            f"key version {version} of {purpose!r} does not exist in this store; "
            "check that the token or ciphertext comes from this store"
        )
    if row.wrapped is None:
        raise UnknownKeyVersion(
            f"key version {version} of {purpose!r} was retired and its key deleted; "
            "data still under it cannot be read"
        )
    return unwrap(kek, purpose, version, row.wrapped)


def guard_master(conn: sa.Connection, check: str, *, exclusive: bool = False) -> None:
    """Lock the key check row and make sure the master key was not rotated meanwhile.

    Writers of wrapped keys take it shared, master rotation takes it exclusive, so no
    key is ever wrapped under a master key that a concurrent rotation just replaced.
    """
    stored = conn.execute(
        sa.select(meta.c.value).where(meta.c.key == KEY_CHECK).with_for_update(read=not exclusive)
    ).scalar()
    if stored != check:
        raise WrongMasterKey(
            "the master key of this store was rotated after this keyring was opened; "
            "open the keyring again with the new master key"
        )


def add_version(store: Store, kek: bytes, check: str, purpose: str, now: str) -> tuple[int, bytes]:
    """Create the next version of ``purpose`` (version 1 if it has none)."""
    for _ in range(20):
        with store.transaction() as conn:
            guard_master(conn, check)
            top = conn.execute(
                sa.select(sa.func.max(data_keys.c.version)).where(data_keys.c.purpose == purpose)
            ).scalar()
            version = int(top or 0) + 1
            key = new_key()
            row = {
                "purpose": purpose,
                "version": version,
                "wrapped": wrap(kek, purpose, version, key),
                "state": ACTIVE,
                "created_at": now,
            }
            # A concurrent writer may take the same number; the loser just tries the next.
            if insert_ignore(conn, data_keys, [row]):
                return version, key
    raise StoreError(f"could not add a version of data key {purpose!r}: too much contention")


def ensure_current(
    store: Store, kek: bytes, check: str, purpose: str, now: str
) -> tuple[int, bytes]:
    """The current version of ``purpose``, creating version 1 on first use."""
    with store.engine.connect() as conn:
        found = current(conn, kek, purpose)
    if found is not None:
        return found
    with store.transaction() as conn:
        guard_master(conn, check)
        key = new_key()
        row = {
            "purpose": purpose,
            "version": 1,
            "wrapped": wrap(kek, purpose, 1, key),
            "state": ACTIVE,
            "created_at": now,
        }
        insert_ignore(conn, data_keys, [row])
        found = current(conn, kek, purpose)
    if found is None:
        raise KeyringError(f"data key {purpose!r} has no active version; rotate it to make one")
    return found


def retire(
    store: Store,
    purpose: str,
    version: int,
    precondition: Callable[[sa.Connection], None] | None = None,
) -> None:
    """Delete the material of ``version``; the newest active version cannot be retired.

    ``precondition`` runs under the lock on the purpose's rows, just before the delete
    (the vault checks there that no subject key is still wrapped under ``version``).
    """
    with store.transaction() as conn:
        secure_delete(conn)
        rows = conn.execute(
            sa.select(data_keys.c.version, data_keys.c.state)
            .where(data_keys.c.purpose == purpose)
            .order_by(data_keys.c.version.desc())
            .with_for_update()
        ).all()
        states = {int(r.version): r.state for r in rows}
        if version not in states:
            raise UnknownKeyVersion(f"key version {version} of {purpose!r} does not exist")
        newest_active = next((int(r.version) for r in rows if r.state == ACTIVE), None)
        if version == newest_active:
            raise KeyringError(
                f"key version {version} of {purpose!r} is the current one; "
                "rotate first, then retire the old version"
            )
        if precondition is not None:
            precondition(conn)
        conn.execute(
            sa.update(data_keys)
            .where(data_keys.c.purpose == purpose, data_keys.c.version == version)
            .values(wrapped=None, state=RETIRED)
        )


def list_versions(conn: sa.Connection, purpose: str) -> list[DataKeyInfo]:
    rows = conn.execute(
        sa.select(data_keys.c.version, data_keys.c.state, data_keys.c.created_at)
        .where(data_keys.c.purpose == purpose)
        .order_by(data_keys.c.version)
    ).all()
    return [DataKeyInfo(purpose, int(r.version), r.state, r.created_at) for r in rows]


def rewrap_all(conn: sa.Connection, old_kek: bytes, new_kek: bytes) -> int:
    """Re-wrap every live data key under ``new_kek``; return how many were re-wrapped."""
    secure_delete(conn)  # the old wrapping must not stay readable in freed space
    rows = conn.execute(
        sa.select(data_keys.c.purpose, data_keys.c.version, data_keys.c.wrapped)
        .where(data_keys.c.wrapped.is_not(None))
        .with_for_update()
    ).all()
    for row in rows:
        key = unwrap(old_kek, row.purpose, int(row.version), row.wrapped)
        conn.execute(
            sa.update(data_keys)
            .where(data_keys.c.purpose == row.purpose, data_keys.c.version == row.version)
            .values(wrapped=wrap(new_kek, row.purpose, int(row.version), key))
        )
    return len(rows)
