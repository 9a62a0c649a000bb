"""Vault erasure (crypto-shredding), rotation without downtime, and concurrent use."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.errors import SubjectErased
from shopveil.keys import Keyring, Vault
from shopveil.store import Store


def _vault(store: Store, master: bytes | None = None) -> Vault:
    keyring = Keyring.open(store, master_key=master or secrets.token_bytes(32))
    return Vault(store, keyring, AuditLog(store, keyring))


def test_erasure_deletes_the_key_and_is_audited(store: Store) -> None:
    vault = _vault(store)
    tokens = vault.tokenize(["a", "b"], subject_ids=["gone", "kept"], purpose="support")
    result = vault.erase_subject("gone", actor="dpo")
    assert (result.values, result.already_erased) == (1, False)
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT wrapped_key, key_version, erased_at FROM shopveil_vault_subjects "
                "WHERE subject_ref = :r"
            ),
            {"r": result.subject_ref},
        ).one()
    assert row.wrapped_key is None and row.key_version is None and row.erased_at
    [event] = vault.audit.events(action="vault.erase")
    assert event.seq == result.audit_seq and event.actor == "dpo"
    assert event.details == {
        "subject_ref": result.subject_ref,
        "values": 1,
        "already_erased": False,
    }
    assert "gone" not in repr(event.to_dict())
    with pytest.raises(SubjectErased, match=r"tokens\[0\] belongs to an erased subject"):
        vault.detokenize(tokens[:1], purpose="support", actor="a")
    assert vault.detokenize(tokens[1:], purpose="support", actor="a") == ["b"]
    assert vault.audit.verify() == len(vault.audit.events())


def test_erasure_is_idempotent_and_blocks_new_values(store: Store) -> None:
    vault = _vault(store)
    vault.tokenize(["a"], subject_ids=["c1"], purpose="support")
    vault.erase_subject("c1", actor="dpo")
    again = vault.erase_subject("c1", actor="dpo")
    assert again.already_erased and again.values == 1
    with pytest.raises(SubjectErased, match=r"subject_ids\[1\] was erased"):
        vault.tokenize(["x", "y"], subject_ids=["c2", "c1"], purpose="support")
    # The refused batch stored nothing for c2 either.
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM shopveil_vault_values")).scalar() == 1


def test_erasing_an_unknown_subject_records_it(store: Store) -> None:
    vault = _vault(store)
    result = vault.erase_subject("never-seen", actor="dpo")
    assert (result.values, result.already_erased) == (0, False)
    with pytest.raises(SubjectErased):
        vault.tokenize(["x"], subject_ids=["never-seen"], purpose="support")


def test_erased_key_survives_reopening_as_erased(store: Store) -> None:
    master = secrets.token_bytes(32)
    vault = _vault(store, master)
    tokens = vault.tokenize(["a"], subject_ids=["c1"], purpose="support")
    vault.erase_subject("c1", actor="dpo")
    with pytest.raises(SubjectErased):
        _vault(store, master).detokenize(tokens, purpose="support", actor="a")


def test_sqlite_file_keeps_no_copy_of_the_shredded_key(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'v.db'}")
    vault = _vault(store)
    vault.tokenize(["a"], subject_ids=["c1"], purpose="support")
    with store.engine.connect() as conn:
        wrapped = conn.execute(sa.text("SELECT wrapped_key FROM shopveil_vault_subjects")).scalar()
    assert wrapped
    vault.erase_subject("c1", actor="dpo")
    store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("v.db"))
    assert bytes(wrapped) not in on_disk


def test_rotation_moves_keys_and_retires_the_old_version(store: Store) -> None:
    vault = _vault(store)
    ids = [f"c{i}" for i in range(7)]
    tokens = vault.tokenize([f"v{i}" for i in range(7)], subject_ids=ids, purpose="support")
    vault.erase_subject("c3", actor="dpo")
    report = vault.rotate(actor="ops", batch_size=2)
    assert (report.new_version, report.rewrapped, report.retired) == (2, 6, (1,))
    states = [(i.version, i.state) for i in vault.keyring.data_key_versions("shopveil.vault")]
    assert states == [(1, "retired"), (2, "active")]
    readable = [t for i, t in enumerate(tokens) if i != 3]
    assert vault.detokenize(readable, purpose="support", actor="a") == [
        f"v{i}" for i in range(7) if i != 3
    ]
    [new] = vault.tokenize(["fresh"], subject_ids=["c9"], purpose="support")
    assert new.startswith("vt2_")
    [event] = vault.audit.events(action="keys.rotate")
    assert event.details["rewrapped"] == 6 and event.details["retired"] == [1]


def test_master_rotation_keeps_the_vault_readable(store: Store) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    vault = _vault(store, old)
    tokens = vault.tokenize(["a", "b"], subject_ids=["c1", "c2"], purpose="support")
    vault.keyring.rotate_master(new)
    assert _vault(store, new).detokenize(tokens, purpose="support", actor="a") == ["a", "b"]


def test_readers_keep_working_during_rotation(store: Store) -> None:
    vault = _vault(store)
    ids = [f"c{i}" for i in range(12)]
    values = [f"value-{i}" for i in range(12)]
    tokens = vault.tokenize(values, subject_ids=ids, purpose="support")
    # A second process-like reader with its own keyring and caches.
    reader = Vault(store, vault.keyring, vault.audit)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                assert reader.detokenize(tokens, purpose="support", actor="r") == values
                reader.tokenize(
                    ["new"], subject_ids=[f"w{secrets.token_hex(2)}"], purpose="support"
                )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        vault.rotate(actor="ops", batch_size=4)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert reader.detokenize(tokens, purpose="support", actor="r") == values
    assert vault.audit.verify() > 0


def test_threads_tokenizing_the_same_values_agree(store: Store) -> None:
    vault = _vault(store)
    values = [f"v{i}" for i in range(10)]
    ids = [f"c{i % 3}" for i in range(10)]
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(vault.tokenize(values, subject_ids=ids, purpose="support"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(r == results[0] for r in results)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM shopveil_vault_values")).scalar() == 10
        assert conn.execute(sa.text("SELECT count(*) FROM shopveil_vault_subjects")).scalar() == 3
