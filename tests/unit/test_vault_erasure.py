"""Erasure that holds: no copy of a shredded key in the SQLite files, every spelling of
an id erased at once, and the same care for rotation and retirement."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.errors import StoreError, SubjectErased
from shopveil.keys import Keyring, Vault
from shopveil.keys._crypto import encode_fields, hmac_hex
from shopveil.keys._subjects import SubjectKeys
from shopveil.store import Store


def _vault(store: Store) -> Vault:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    return Vault(store, keyring, AuditLog(store, keyring))


def _files(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name)}


def _wrapped(store: Store, ref: str) -> bytes:
    with store.engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT wrapped_key FROM shopveil_vault_subjects WHERE subject_ref = :r"),
            {"r": ref},
        ).scalar()
    assert found
    return bytes(found)


def test_erasure_fails_loudly_while_a_reader_keeps_the_key_in_the_wal(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    store = Store.open(f"sqlite:///{db}")
    vault = _vault(store)
    vault.tokenize(["1 Main St"], subject_ids=["c1"], purpose="fulfilment")
    wrapped = _wrapped(store, vault.subject_ref("c1"))
    # Another process reading: its snapshot pins the WAL, so no checkpoint can finish.
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM shopveil_vault_subjects").fetchone()
    try:
        with pytest.raises(StoreError, match=r"could not checkpoint .*v\.db-wal.*run the same"):
            vault.erase_subject("c1", actor="dpo")
        # What the old code called a success: the key is still there to be read back.
        assert wrapped in _files(db)["v.db-wal"]
    finally:
        reader.rollback()
        reader.close()
    again = vault.erase_subject("c1", actor="dpo")
    assert again.already_erased and again.values == 1
    assert not any(wrapped in data for data in _files(db).values())
    assert _files(db).get("v.db-wal", b"") == b""
    store.close()


def test_retiring_a_data_key_leaves_no_copy_in_the_files(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = Store.open(f"sqlite:///{db}")
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    keyring.current_data_key("orders")
    keyring.rotate_data_key("orders")
    with store.engine.connect() as conn:
        old = bytes(
            conn.execute(
                sa.text(
                    "SELECT wrapped FROM shopveil_data_keys "
                    "WHERE purpose = 'orders' AND version = 1"
                )
            ).scalar_one()
        )
    keyring.retire_data_key("orders", 1)
    assert not any(old in data for data in _files(db).values())
    store.close()


def test_vault_rotation_leaves_no_copy_of_the_old_wrappings(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store = Store.open(f"sqlite:///{db}")
    vault = _vault(store)
    vault.tokenize(["a", "b"], subject_ids=["c1", "c2"], purpose="support")
    before = [_wrapped(store, vault.subject_ref(s)) for s in ("c1", "c2")]
    vault.rotate(actor="ops")
    files = _files(db)
    assert not any(w in data for w in before for data in files.values())
    store.close()


@pytest.mark.parametrize("erased_as", ["17850", 17850, "17850.0", " 17850 "])
def test_erasing_one_spelling_of_an_id_erases_every_spelling(
    store: Store, erased_as: object
) -> None:
    vault = _vault(store)
    spellings: list[str | int] = ["17850", "17850.0", " 17850", 17850]
    tokens = vault.tokenize(["a", "a", "a", "b"], subject_ids=spellings, purpose="support")
    assert len(set(tokens)) == 2  # one subject: the same value gets one token
    kept = vault.tokenize(["c"], subject_ids=["17851"], purpose="support")
    result = vault.erase_subject(erased_as, actor="dpo")  # type: ignore[arg-type]
    assert result.values == 2
    for spelling in spellings:
        with pytest.raises(SubjectErased):
            vault.tokenize(["x"], subject_ids=[spelling], purpose="support")
    with pytest.raises(SubjectErased):
        vault.detokenize(tokens, purpose="support", actor="a")
    assert vault.detokenize(kept, purpose="support", actor="a") == ["c"]


def test_erasure_reaches_keys_stored_under_the_exact_text_by_older_versions(store: Store) -> None:
    vault = _vault(store)
    # A subject an older version keyed by its exact text "17850.0".
    legacy = hmac_hex(vault.keyring.system_key("vault.subject-ref"), encode_fields("17850.0"))
    subjects = SubjectKeys(vault.keyring)
    version = subjects.current()
    with store.transaction() as conn:
        subjects.create(conn, [legacy], version)
    assert legacy != vault.subject_ref("17850.0")
    vault.erase_subject("17850.0", actor="dpo")
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT wrapped_key, erased_at FROM shopveil_vault_subjects WHERE subject_ref = :r"
            ),
            {"r": legacy},
        ).one()
    assert row.wrapped_key is None and row.erased_at
