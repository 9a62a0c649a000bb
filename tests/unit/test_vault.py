"""The vault: round trips, access control, audit records, bad input, tampering."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.errors import (
    AccessDenied,
    IntegrityError,
    ParameterError,
    UnknownKeyVersion,
)
from shopveil.keys import Keyring, Vault, VaultConfig, is_token
from shopveil.store import Store


@pytest.fixture
def vault(store: Store) -> Vault:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    return Vault(store, keyring, AuditLog(store, keyring))


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_round_trip_and_stable_tokens(vault: Vault) -> None:
    values = ["1 Main St", "ann@example.com", "1 Main St", "Ünïcode ☃"]
    tokens = vault.tokenize(values, subject_ids=["c1", "c1", "c1", "c2"], purpose="fulfilment")
    assert all(is_token(t) and t.startswith("vt1_") for t in tokens)
    assert tokens[0] == tokens[2] and len(set(tokens)) == 3
    assert vault.detokenize(tokens, purpose="fulfilment", actor="agent") == values
    again = vault.tokenize(["1 Main St"], subject_ids=["c1"], purpose="fulfilment")
    assert again == tokens[:1]


def test_same_value_other_subject_or_purpose_gets_another_token(vault: Vault) -> None:
    a = vault.tokenize(["x"], subject_ids=["c1"], purpose="fulfilment")
    b = vault.tokenize(["x"], subject_ids=["c2"], purpose="fulfilment")
    c = vault.tokenize(["x"], subject_ids=["c1"], purpose="support")
    assert len({a[0], b[0], c[0]}) == 3


def test_int_and_str_subject_ids_are_one_subject(vault: Vault) -> None:
    a = vault.tokenize(["x"], subject_ids=[17850], purpose="support")
    assert vault.tokenize(["x"], subject_ids=["17850"], purpose="support") == a


def test_utf8_bytes_come_back_as_text(vault: Vault) -> None:
    tokens = vault.tokenize([b"caf\xc3\xa9"], subject_ids=["c1"], purpose="support")
    assert vault.detokenize(tokens, purpose="support", actor="a") == ["café"]


def test_empty_batches(vault: Vault) -> None:
    assert vault.tokenize([], subject_ids=[], purpose="support") == []
    assert vault.detokenize([], purpose="support", actor="a") == []


def test_values_are_encrypted_at_rest(vault: Vault) -> None:
    vault.tokenize(["needle-value-123"], subject_ids=["cust-alpha"], purpose="support")
    with vault.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM shopveil_vault_values")).all()
        subjects = conn.execute(sa.text("SELECT * FROM shopveil_vault_subjects")).all()
    dump = repr(rows) + repr(subjects)
    assert "needle-value-123" not in dump and b"needle-value-123".hex() not in dump
    assert "cust-alpha" not in dump


def test_purpose_not_allowed_is_denied_and_audited(vault: Vault) -> None:
    tokens = vault.tokenize(["x"], subject_ids=["c1"], purpose="marketing")
    with pytest.raises(AccessDenied, match="'marketing' may not re-identify"):
        vault.detokenize(tokens, purpose="marketing", actor="mallory")
    denied = vault.audit.events(action="vault.detokenize.denied")
    assert [(e.actor, e.details) for e in denied] == [("mallory", {"purpose": "marketing"})]


def test_token_of_another_purpose_is_denied(vault: Vault) -> None:
    tokens = vault.tokenize(["x"], subject_ids=["c1"], purpose="fulfilment")
    with pytest.raises(AccessDenied, match="issued for purpose 'fulfilment'"):
        vault.detokenize(tokens, purpose="support", actor="agent")


def test_custom_reidentify_purposes(store: Store) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    config = VaultConfig(reidentify_purposes=frozenset({"returns"}))
    vault = Vault(store, keyring, AuditLog(store, keyring), config)
    tokens = vault.tokenize(["x"], subject_ids=["c1"], purpose="returns")
    assert vault.detokenize(tokens, purpose="returns", actor="a") == ["x"]
    with pytest.raises(AccessDenied):
        vault.detokenize(tokens, purpose="support", actor="a")


def test_config_coerces_and_validates() -> None:
    assert VaultConfig(reidentify_purposes={"a", "b"}).reidentify_purposes == {"a", "b"}  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="set of purpose names"):
        VaultConfig(reidentify_purposes="support")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        VaultConfig(reidentify_purposes=frozenset({""}))


def test_every_detokenization_is_audited_without_values(vault: Vault) -> None:
    tokens = vault.tokenize(
        ["secret-addr", "x"], subject_ids=["cust-alpha", "cust-beta"], purpose="support"
    )
    vault.detokenize(tokens, purpose="support", actor="agent-7")
    [event] = vault.audit.events(action="vault.detokenize")
    assert event.actor == "agent-7"
    assert event.details == {"purpose": "support", "count": 2}
    everything = json.dumps([e.to_dict() for e in vault.audit.events()])
    assert "secret-addr" not in everything and "cust-alpha" not in everything
    assert tokens[0] not in everything
    assert vault.audit.verify() == 2


@pytest.mark.parametrize(
    ("values", "subject_ids", "match"),
    [
        ([""], ["c1"], r"values\[0\] is empty"),
        (["ok", b"\xff\xfe"], ["c1", "c1"], r"values\[1\] is not valid UTF-8"),
        (["\ud800"], ["c1"], "lone surrogate"),
        ([None], ["c1"], "must be str or UTF-8 bytes"),
        ([1], ["c1"], "must be str or UTF-8 bytes"),
        (["x"], [""], r"subject_ids\[0\] is empty"),
        (["x"], [None], "must be a str or int"),
        (["x"], [True], "must be a str or int"),
        (["x", "y"], ["c1"], "same length"),
        ("xy", ["c1", "c1"], "must be a list"),
    ],
)
def test_bad_tokenize_input_is_refused_and_changes_nothing(
    vault: Vault, values: object, subject_ids: object, match: str
) -> None:
    vault.tokenize(["seed"], subject_ids=["c0"], purpose="support")
    before = (_count(vault.store, "shopveil_vault_values"), len(vault.audit.events()))
    with pytest.raises(ParameterError, match=match) as info:
        vault.tokenize(values, subject_ids=subject_ids, purpose="support")  # type: ignore[arg-type]
    assert "seed" not in str(info.value)
    after = (_count(vault.store, "shopveil_vault_values"), len(vault.audit.events()))
    assert after == before


@pytest.mark.parametrize(
    "token",
    ["", "vt1_short", "vt0_" + "A" * 24, "xx1_" + "A" * 24, "vt1_" + "A" * 23 + "!", "1 Main St"],
)
def test_malformed_token_is_a_parameter_error(vault: Vault, token: str) -> None:
    with pytest.raises(ParameterError, match=r"tokens\[0\] is not a vault token") as info:
        vault.detokenize([token], purpose="support", actor="a")
    if token:
        assert token not in str(info.value)


def test_token_of_an_unknown_key_version(vault: Vault) -> None:
    [token] = vault.tokenize(["x"], subject_ids=["c1"], purpose="support")
    forged = "vt9" + token[3:]
    with pytest.raises(UnknownKeyVersion, match="version 9"):
        vault.detokenize([forged], purpose="support", actor="a")


def test_token_not_in_this_vault(vault: Vault) -> None:
    vault.tokenize(["x"], subject_ids=["c1"], purpose="support")
    with pytest.raises(ParameterError, match="not in this vault"):
        vault.detokenize(["vt1_" + "A" * 24], purpose="support", actor="a")


def test_a_bad_token_in_a_batch_returns_nothing_and_audits_nothing(vault: Vault) -> None:
    tokens = vault.tokenize(["x"], subject_ids=["c1"], purpose="support")
    with pytest.raises(ParameterError):
        vault.detokenize([*tokens, "vt1_" + "B" * 24], purpose="support", actor="a")
    assert vault.audit.events(action="vault.detokenize") == []


def test_altered_ciphertext_is_an_integrity_error(vault: Vault) -> None:
    tokens = vault.tokenize(["x", "y"], subject_ids=["c1", "c1"], purpose="support")
    # Move y's ciphertext under x's token: authenticated data binds it to its token.
    with vault.store.transaction() as conn:
        blob = conn.execute(
            sa.text("SELECT ciphertext FROM shopveil_vault_values WHERE token = :t"),
            {"t": tokens[1]},
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE shopveil_vault_values SET ciphertext = :b WHERE token = :t"),
            {"b": blob, "t": tokens[0]},
        )
    with pytest.raises(IntegrityError, match="altered or moved"):
        vault.detokenize(tokens[:1], purpose="support", actor="a")


def test_swapped_subject_keys_are_an_integrity_error(vault: Vault) -> None:
    tokens = vault.tokenize(["x", "y"], subject_ids=["c1", "c2"], purpose="support")
    refs = [vault.subject_ref("c1"), vault.subject_ref("c2")]
    with vault.store.transaction() as conn:
        key2 = conn.execute(
            sa.text("SELECT wrapped_key FROM shopveil_vault_subjects WHERE subject_ref = :r"),
            {"r": refs[1]},
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE shopveil_vault_subjects SET wrapped_key = :k WHERE subject_ref = :r"),
            {"k": key2, "r": refs[0]},
        )
    with pytest.raises(IntegrityError, match="subject key"):
        vault.detokenize(tokens[:1], purpose="support", actor="a")


def test_vault_parts_must_share_one_store(store: Store, tmp_path: Path) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    other_keyring = Keyring.open(other, master_key=secrets.token_bytes(32))
    with pytest.raises(ParameterError, match="share one store"):
        Vault(store, keyring, AuditLog(other, other_keyring))
    other.close()


def test_repr_shows_no_secrets(vault: Vault) -> None:
    assert "reidentify_purposes=['fulfilment', 'support']" in repr(vault)
