"""The reversible vault: random tokens for values that some purposes may re-identify.

Each value is encrypted (AES-GCM) under a key of its own subject, so erasing a subject
shreds one key and leaves every other subject intact. Tokens are random (they carry no
information about the value); the same value for the same subject and purpose gets the
same token, found by an HMAC of the value under the subject's key, never the plaintext.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from shopveil._core.reidentify import DEFAULT_REIDENTIFY_PURPOSES
from shopveil.errors import (
    AccessDenied,
    IntegrityError,
    ParameterError,
    StoreError,
    SubjectErased,
    UnknownKeyVersion,
)
from shopveil.keys._crypto import hmac_hex
from shopveil.keys._erase import Erasure, erase_refs
from shopveil.keys._keyring import Keyring, check_name
from shopveil.keys._subjects import (
    SUBJECT_REF_COMPONENT,
    VAULT_PURPOSE,
    StaleRead,
    SubjectCipher,
    SubjectKeys,
    SubjectRow,
    chunks,
)
from shopveil.keys._tokens import new_token, parse_token
from shopveil.keys._trail import AuditTrail
from shopveil.keys._vault_checks import (
    Refusal,
    check_value,
    legacy_subject_bytes,
    sequence,
    subject_bytes,
)
from shopveil.keys._vault_rotation import Rotation, rotate_subject_keys
from shopveil.store import Store, insert_ignore_many, vault_subjects, vault_values

__all__ = ["Erasure", "Rotation", "Vault", "VaultConfig"]

T = TypeVar("T")


@dataclass(frozen=True)
class VaultConfig:
    """Which purposes may turn tokens back into values.

    Attributes
    ----------
    reidentify_purposes
        Purposes allowed to call :meth:`Vault.detokenize` (order fulfilment and customer
        support by default). Every other purpose gets :class:`AccessDenied`.
    """

    reidentify_purposes: frozenset[str] = field(default=DEFAULT_REIDENTIFY_PURPOSES)

    def __post_init__(self) -> None:
        purposes = self.reidentify_purposes
        if isinstance(purposes, str) or not isinstance(purposes, Collection):
            raise ParameterError(
                f"reidentify_purposes must be a set of purpose names, got {purposes!r:.60}"
            )
        names = frozenset(check_name(p, "reidentify_purposes item") for p in purposes)
        object.__setattr__(self, "reidentify_purposes", names)


class Vault:
    """Reversible tokens, encrypted per subject, with audited re-identification.

    Parameters
    ----------
    store, keyring, audit
        The store holding the vault tables, its keyring, and the audit log
        (:class:`shopveil.audit.AuditLog`, an :class:`AuditTrail`) that records every
        tokenization batch, detokenization, denial, erasure and rotation.
    config
        Which purposes may re-identify.
    """

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        audit: AuditTrail,
        config: VaultConfig | None = None,
    ) -> None:
        urls = {str(part.engine.url) for part in (store, keyring.store, audit.store)}
        if len(urls) != 1:
            raise ParameterError(
                "the vault, its keyring and its audit log must share one store, so each "
                "change and its audit event commit together; open them on the same Store"
            )
        self.store = store
        self.keyring = keyring
        self.audit = audit
        self.config = config if config is not None else VaultConfig()
        self._subjects = SubjectKeys(keyring)
        self._ref_key = keyring.system_key(SUBJECT_REF_COMPONENT)

    def __repr__(self) -> str:
        purposes = sorted(self.config.reidentify_purposes)
        return f"Vault(store={self.store.engine.url!r}, reidentify_purposes={purposes})"

    def subject_ref(self, subject_id: str | int) -> str:
        """The pseudonymous reference under which a subject's keys are stored.

        It is a keyed HMAC of the canonical id, so every spelling of one id shares it.
        """
        return hmac_hex(self._ref_key, subject_bytes(subject_id, "subject_id"))

    def tokens_of(self, subject_id: str | int) -> list[tuple[str, str]]:
        """``(token, purpose)`` of every value the vault can still resolve for a subject
        (none once they are erased); an access request lists them, values stay encrypted."""
        t, s = vault_values, vault_subjects
        ref = self.subject_ref(subject_id)
        query = (
            sa.select(t.c.token, t.c.purpose)
            .join(s, s.c.subject_ref == t.c.subject_ref)
            .where(t.c.subject_ref == ref, s.c.erased_at.is_(None))
            .order_by(t.c.purpose, t.c.token)
        )
        with self.store.engine.connect() as conn:
            return [(str(r.token), str(r.purpose)) for r in conn.execute(query)]

    def tokenize(
        self,
        values: Sequence[str | bytes],
        *,
        subject_ids: Sequence[str | int],
        purpose: str,
        actor: str = "shopveil",
    ) -> list[str]:
        """Store each value encrypted under its subject's key; return one token per value.

        Raises
        ------
        ParameterError
            An empty, non-text or non-UTF-8 value, an empty subject id, or lengths differ.
        SubjectErased
            A subject was erased; nothing is stored for them again.
        """
        check_name(purpose, "purpose")
        self.audit.check(actor, "vault.tokenize")
        plain = [check_value(v, f"values[{i}]") for i, v in enumerate(sequence(values, "values"))]
        ids = sequence(subject_ids, "subject_ids")
        if len(ids) != len(plain):
            raise ParameterError(
                f"values and subject_ids must have the same length, got {len(plain)} and "
                f"{len(ids)}; pass one subject id per value"
            )
        refs = [
            hmac_hex(self._ref_key, subject_bytes(s, f"subject_ids[{i}]"))
            for i, s in enumerate(ids)
        ]
        if not plain:
            return []
        return _retry(lambda: self._tokenize(plain, refs, purpose, actor, self._subjects.current()))

    def detokenize(self, tokens: Sequence[str], *, purpose: str, actor: str) -> list[str]:
        """The values behind ``tokens``, for a purpose allowed to re-identify; audited.

        Every refusal below is audited as ``vault.detokenize.denied`` with the purpose
        and, except for a purpose that may not re-identify at all, a ``reason``
        (``malformed_token``, ``unknown_key_version``, ``unknown_token``,
        ``token_purpose``, ``subject_erased``, ``altered_value``) and the token count;
        never the tokens themselves. Probing the vault leaves a trail.

        Raises
        ------
        AccessDenied
            ``purpose`` may not re-identify, or a token was issued for another purpose.
        ParameterError
            A token is malformed or not in this vault.
        UnknownKeyVersion
            A token names a vault key version this store never had.
        SubjectErased
            A token belongs to an erased subject.
        IntegrityError
            A stored value was altered or moved.
        """
        check_name(purpose, "purpose")
        self.audit.check(actor, "vault.detokenize")
        if purpose not in self.config.reidentify_purposes:
            self.audit.append(actor, "vault.detokenize.denied", {"purpose": purpose})
            allowed = ", ".join(sorted(self.config.reidentify_purposes)) or "none"
            raise AccessDenied(
                f"purpose {purpose!r} may not re-identify vault tokens (allowed: {allowed})"
            )
        try:
            return self._detokenize_checked(tokens, purpose, actor)
        except Refusal as refusal:
            # The refused transaction rolled back; the denial gets a transaction of its own.
            count = len(tokens) if isinstance(tokens, list | tuple) else 0
            details = {"purpose": purpose, "reason": refusal.reason, "count": count}
            self.audit.append(actor, "vault.detokenize.denied", details)
            raise refusal.error from None

    def _detokenize_checked(self, tokens: Sequence[str], purpose: str, actor: str) -> list[str]:
        try:
            checked = sequence(tokens, "tokens")
            versions = {parse_token(t, f"tokens[{i}]") for i, t in enumerate(checked)}
        except ParameterError as exc:
            raise Refusal("malformed_token", exc) from None
        try:
            self._check_versions(versions)
        except UnknownKeyVersion as exc:
            raise Refusal("unknown_key_version", exc) from None
        if not checked:
            return []
        valid = [str(t) for t in checked]
        return _retry(lambda: self._detokenize(valid, purpose, actor))

    def erase_subject(self, subject_id: str | int, actor: str) -> Erasure:
        """Shred the subject's key: their vault values become unrecoverable. Idempotent.

        The id is canonical (``17850``, ``"17850.0"`` and ``" 17850"`` are one subject).
        It returns only once no copy of the key is left in the live store's files.

        Raises
        ------
        StoreError
            The key is deleted but SQLite could not empty its write-ahead log (another
            connection is reading); run the erasure again once that reader is gone.
        """
        ref = self.subject_ref(subject_id)
        legacy = legacy_subject_bytes(subject_id)
        refs = [ref] if legacy is None else [ref, hmac_hex(self._ref_key, legacy)]
        self.audit.check(actor, "vault.erase")
        return erase_refs(self.store, self.audit, refs, actor)

    def rotate(
        self,
        *,
        actor: str,
        batch_size: int = 500,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Rotation:
        """Move every subject key to a new vault key version, then retire the old ones.

        Keys are re-wrapped in small transactions, so readers and writers keep working
        during the rotation; values themselves are not re-encrypted. ``on_progress`` is
        called with (keys re-wrapped so far, keys to re-wrap) after each batch.
        """
        return rotate_subject_keys(
            self.store, self.keyring, self._subjects, self.audit, actor, batch_size, on_progress
        )

    def _tokenize(
        self, plain: list[bytes], refs: list[str], purpose: str, actor: str, version: int
    ) -> list[str]:
        with self.store.transaction() as conn:
            rows = self._subjects.rows(conn, refs)
            for i, ref in enumerate(refs):
                row = rows.get(ref)
                if row is not None and row.erased_at is not None:
                    raise SubjectErased(
                        f"subject_ids[{i}] was erased; the vault stores nothing for them again"
                    )
            missing = [ref for ref in dict.fromkeys(refs) if ref not in rows]
            if missing:
                self._subjects.create(conn, missing, version)
                rows.update(self._subjects.rows(conn, missing))
            keys = {ref: SubjectCipher(self._subjects.unwrap(conn, rows[ref])) for ref in set(refs)}
            lookups = [
                keys[ref].lookup(purpose, value) for ref, value in zip(refs, plain, strict=True)
            ]
            tokens = self._find(conn, refs, lookups, purpose)
            proposed: dict[tuple[str, str], dict[str, Any]] = {}
            for i, pair in enumerate(zip(refs, lookups, strict=True)):
                if pair in tokens or pair in proposed:
                    continue
                token = new_token(version)
                proposed[pair] = {
                    "token": token,
                    "subject_ref": pair[0],
                    "purpose": purpose,
                    "lookup": pair[1],
                    "ciphertext": keys[pair[0]].seal(token, purpose, plain[i]),
                }
            # A concurrent writer may store the same value first; reading back after the
            # insert gives every caller the one token that won.
            insert_ignore_many(conn, vault_values, list(proposed.values()))
            if proposed:
                tokens.update(
                    self._find(conn, [p[0] for p in proposed], [p[1] for p in proposed], purpose)
                )
            if any(pair not in tokens for pair in proposed):
                raise StaleRead()
            new = sum(tokens[pair] == row["token"] for pair, row in proposed.items())
            self.audit.append_in(
                conn, actor, "vault.tokenize", {"purpose": purpose, "count": len(refs), "new": new}
            )
        return [tokens[(ref, lookup)] for ref, lookup in zip(refs, lookups, strict=True)]

    def _find(
        self, conn: sa.Connection, refs: list[str], lookups: list[str], purpose: str
    ) -> dict[tuple[str, str], str]:
        v = vault_values
        found: dict[tuple[str, str], str] = {}
        for part in chunks(list(dict.fromkeys(lookups))):
            query = sa.select(v.c.subject_ref, v.c.lookup, v.c.token).where(
                v.c.purpose == purpose, v.c.lookup.in_(part)
            )
            for r in conn.execute(query):
                found[(r.subject_ref, r.lookup)] = r.token
        wanted = set(zip(refs, lookups, strict=True))
        return {k: t for k, t in found.items() if k in wanted}

    def _detokenize(self, tokens: list[str], purpose: str, actor: str) -> list[str]:
        v = vault_values
        with self.store.transaction() as conn:
            stored: dict[str, Any] = {}
            for part in chunks(list(dict.fromkeys(tokens))):
                query = sa.select(v.c.token, v.c.subject_ref, v.c.purpose, v.c.ciphertext)
                for r in conn.execute(query.where(v.c.token.in_(part))):
                    stored[r.token] = r
            for i, token in enumerate(tokens):
                if token not in stored:
                    missing = ParameterError(
                        f"tokens[{i}] is not in this vault; check it was issued by this store"
                    )
                    raise Refusal("unknown_token", missing)
                if stored[token].purpose != purpose:
                    other = AccessDenied(
                        f"tokens[{i}] was issued for purpose {stored[token].purpose!r}, "
                        f"not {purpose!r}; tokens re-identify only for their own purpose"
                    )
                    raise Refusal("token_purpose", other)
            subjects = self._subjects.rows(conn, [stored[t].subject_ref for t in tokens])
            values = []
            ciphers: dict[str, SubjectCipher] = {}
            for i, token in enumerate(tokens):
                row = stored[token]
                subject = subjects.get(row.subject_ref) or SubjectRow(
                    row.subject_ref, None, None, None
                )
                try:
                    cipher = ciphers.get(row.subject_ref) or SubjectCipher(
                        self._subjects.unwrap(conn, subject)
                    )
                    ciphers[row.subject_ref] = cipher
                except SubjectErased:
                    erased = SubjectErased(
                        f"tokens[{i}] belongs to an erased subject; its value is unrecoverable"
                    )
                    raise Refusal("subject_erased", erased) from None
                try:
                    values.append(cipher.open(token, purpose, row.ciphertext, f"tokens[{i}]"))
                except IntegrityError as exc:
                    raise Refusal("altered_value", exc) from None
            # The event commits with the read: no value leaves without its audit record.
            self.audit.append_in(
                conn, actor, "vault.detokenize", {"purpose": purpose, "count": len(tokens)}
            )
        return values

    def _check_versions(self, versions: set[int]) -> None:
        known = {info.version for info in self.keyring.data_key_versions(VAULT_PURPOSE)}
        for version in sorted(versions - known):
            raise UnknownKeyVersion(
                f"a token names vault key version {version}, which this store never had "
                f"(known: {sorted(known) or 'none'}); it comes from another store or was altered"
            )


def _retry(operation: Callable[[], T]) -> T:
    # A rotation may retire or supersede a key version between two reads; start over.
    for _ in range(5):
        try:
            return operation()
        except StaleRead:
            continue
    raise StoreError("the vault keys kept changing under this call (rotation?); try again")
