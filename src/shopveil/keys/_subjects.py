"""Per-subject keys for the vault: created on demand, wrapped under the vault data key.

A subject's key is the only way to read their vault values, so erasing a subject is
deleting one wrapped key (crypto-shredding). Rows are found by ``subject_ref``, a keyed
HMAC of the subject id; the id itself is never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from shopveil.errors import IntegrityError, SubjectErased, UnknownKeyVersion
from shopveil.keys._crypto import (
    InvalidTag,
    encode_fields,
    hkdf,
    hmac_hex,
    new_key,
    open_sealed,
    seal,
)
from shopveil.keys._datakeys import ACTIVE
from shopveil.keys._keyring import Keyring
from shopveil.keys._shred import secure_delete
from shopveil.store import data_keys, insert_ignore_many, vault_subjects

__all__ = [
    "SUBJECT_REF_COMPONENT",
    "VAULT_PURPOSE",
    "StaleRead",
    "SubjectCipher",
    "SubjectKeys",
    "SubjectRow",
    "chunks",
]

VAULT_PURPOSE = "shopveil.vault"
# The system key under which subject ids become subject refs (vault and pseudonyms).
SUBJECT_REF_COMPONENT = "vault.subject-ref"
_CHUNK = 500


class StaleRead(Exception):
    """A key version changed under a reader (rotation in progress); read again."""


@dataclass(frozen=True)
class SubjectRow:
    ref: str
    key_version: int | None
    wrapped: bytes | None
    erased_at: str | None


def chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aad(ref: str, version: int) -> bytes:
    return encode_fields("shopveil/vault/subject-key", ref, version)


class SubjectKeys:
    """Reads, creates, re-wraps and shreds subject keys for one keyring."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        # Unwrapped vault data keys by version: a reader that has one keeps working while
        # a rotation retires it, since the old material is only needed for old rows.
        self._data_keys: dict[int, bytes] = {}

    def data_key(self, conn: sa.Connection, version: int) -> bytes:
        key = self._data_keys.get(version)
        if key is None:
            try:
                key = self.keyring.data_key(VAULT_PURPOSE, version, conn=conn)
            except UnknownKeyVersion:
                # Retired between reading a subject row and getting here: re-read the row.
                raise StaleRead() from None
            self._data_keys[version] = key
        return key

    def current(self) -> int:
        """The newest vault key version (made on first use); call outside a transaction."""
        version, key = self.keyring.current_data_key(VAULT_PURPOSE)
        self._data_keys.setdefault(version, key)
        return version

    def rows(self, conn: sa.Connection, refs: Sequence[str]) -> dict[str, SubjectRow]:
        found: dict[str, SubjectRow] = {}
        t = vault_subjects
        for part in chunks(list(dict.fromkeys(refs))):
            for r in conn.execute(sa.select(t).where(t.c.subject_ref.in_(part))):
                found[r.subject_ref] = SubjectRow(
                    r.subject_ref, r.key_version, r.wrapped_key, r.erased_at
                )
        return found

    def unwrap(self, conn: sa.Connection, row: SubjectRow) -> bytes:
        if row.wrapped is None or row.key_version is None:
            raise SubjectErased("the subject was erased; their vault values are unrecoverable")
        try:
            return open_sealed(
                self.data_key(conn, row.key_version), row.wrapped, _aad(row.ref, row.key_version)
            )
        except InvalidTag:
            raise IntegrityError(
                "a subject key does not authenticate: the vault row was altered or moved"
            ) from None

    def create(self, conn: sa.Connection, refs: Sequence[str], version: int) -> None:
        """Insert keys for ``refs`` under vault key ``version`` (present ones are kept)."""
        if not refs:
            return
        self.lock_version(conn, version, newest=True)
        key = self.data_key(conn, version)
        rows = [
            {
                "subject_ref": ref,
                "key_version": version,
                "wrapped_key": seal(key, new_key(), _aad(ref, version)),
                "erased_at": None,
            }
            for ref in refs
        ]
        insert_ignore_many(conn, vault_subjects, rows)

    def lock_version(self, conn: sa.Connection, version: int, *, newest: bool) -> None:
        """Share-lock a vault key version, so it cannot be retired before we commit.

        Raises :class:`StaleRead` if it was retired or (with ``newest``) superseded.
        """
        state = conn.execute(
            sa.select(data_keys.c.state)
            .where(data_keys.c.purpose == VAULT_PURPOSE, data_keys.c.version == version)
            .with_for_update(read=True)
        ).scalar()
        if state != ACTIVE:
            raise StaleRead()
        if newest:
            top = conn.execute(
                sa.select(sa.func.max(data_keys.c.version)).where(
                    data_keys.c.purpose == VAULT_PURPOSE, data_keys.c.state == ACTIVE
                )
            ).scalar()
            if top != version:
                raise StaleRead()

    def rewrap_batch(self, conn: sa.Connection, target: int, limit: int) -> int:
        """Re-wrap up to ``limit`` subject keys still under an older version; return how many."""
        secure_delete(conn)  # the wrappings under the old version are overwritten
        self.lock_version(conn, target, newest=False)
        t = vault_subjects
        rows = conn.execute(
            sa.select(t)
            .where(t.c.key_version < target, t.c.wrapped_key.is_not(None))
            .order_by(t.c.subject_ref)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        new_key_ = self.data_key(conn, target)
        updates = []
        for r in rows:
            row = SubjectRow(r.subject_ref, r.key_version, r.wrapped_key, r.erased_at)
            wrapped = seal(new_key_, self.unwrap(conn, row), _aad(r.subject_ref, target))
            updates.append({"ref": r.subject_ref, "old": r.key_version, "wrapped": wrapped})
        if updates:
            conn.execute(
                sa.update(t)
                .where(
                    t.c.subject_ref == sa.bindparam("ref"), t.c.key_version == sa.bindparam("old")
                )
                .values(key_version=target, wrapped_key=sa.bindparam("wrapped")),
                updates,
            )
        return len(rows)

    def count_below(self, conn: sa.Connection, version: int) -> int:
        t = vault_subjects
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.key_version < version, t.c.wrapped_key.is_not(None))
            ).scalar_one()
        )

    def count_under(self, conn: sa.Connection, version: int) -> int:
        t = vault_subjects
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(t)
                .where(t.c.key_version == version, t.c.wrapped_key.is_not(None))
            ).scalar_one()
        )


class SubjectCipher:
    """The two keys one subject key yields: one encrypts values, one finds them again."""

    __slots__ = ("_enc", "_mac")

    def __init__(self, subject_key: bytes) -> None:
        self._enc = hkdf(subject_key, encode_fields("shopveil/vault/encrypt"))
        self._mac = hkdf(subject_key, encode_fields("shopveil/vault/lookup"))

    def lookup(self, purpose: str, value: bytes) -> str:
        return hmac_hex(self._mac, encode_fields(purpose, value))

    def seal(self, token: str, purpose: str, value: bytes) -> bytes:
        return seal(self._enc, value, encode_fields("shopveil/vault/value", token, purpose))

    def open(self, token: str, purpose: str, blob: bytes, where: str) -> str:
        try:
            plain = open_sealed(
                self._enc, blob, encode_fields("shopveil/vault/value", token, purpose)
            )
        except InvalidTag:
            raise IntegrityError(f"{where}: the stored value was altered or moved") from None
        return plain.decode("utf-8")
