"""Keys for erasable pseudonyms: derived from the vault's per-subject keys.

A keyed token (``token``) comes from a purpose key: whoever holds the keyring can
recompute it from the id at any time, erasure or not. An erasable pseudonym comes from
the subject's own vault key instead, so ``erase_subject`` (which shreds that key) makes
it impossible to recompute or to link back to the id, and no new key is ever made for
an erased subject.
"""

from __future__ import annotations

from collections.abc import Sequence

from shopveil.errors import StoreError
from shopveil.keys._crypto import encode_fields, hkdf, hmac_hex
from shopveil.keys._keyring import Keyring, check_name
from shopveil.keys._subjects import SUBJECT_REF_COMPONENT, StaleRead, SubjectKeys
from shopveil.keys._vault_checks import subject_bytes

__all__ = ["pseudonym_keys"]

_RETRIES = 5


def pseudonym_keys(
    keyring: Keyring, subject_ids: Sequence[str], *, purpose: str, domain: str, version: int
) -> dict[str, bytes | None]:
    """A key per subject id for ``(purpose, domain, version)``; None for an erased subject.

    Subjects seen for the first time get a vault subject key (the one erasure shreds).
    Ids are taken as they come: pass canonical ids, one per subject.
    """
    check_name(purpose, "purpose")
    check_name(domain, "domain")
    ref_key = keyring.system_key(SUBJECT_REF_COMPONENT)
    refs = {sid: hmac_hex(ref_key, subject_bytes(sid, "subject id")) for sid in subject_ids}
    info = encode_fields("shopveil/vault/pseudonym", purpose, domain, version)
    subjects = SubjectKeys(keyring)
    for _ in range(_RETRIES):
        try:
            version_now = subjects.current()
            with keyring.store.transaction() as conn:
                rows = subjects.rows(conn, list(refs.values()))
                missing = [ref for ref in dict.fromkeys(refs.values()) if ref not in rows]
                if missing:
                    subjects.create(conn, missing, version_now)
                    rows.update(subjects.rows(conn, missing))
                out: dict[str, bytes | None] = {}
                for sid, ref in refs.items():
                    row = rows[ref]
                    erased = row.erased_at is not None
                    out[sid] = None if erased else hkdf(subjects.unwrap(conn, row), info)
            return out
        except StaleRead:
            continue  # a rotation retired or superseded the version under us
    raise StoreError("the vault keys kept changing under this call (rotation?); try again")
