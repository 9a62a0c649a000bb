"""Every refused detokenization leaves an audit record, whatever the cause."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.errors import (
    AccessDenied,
    IntegrityError,
    ParameterError,
    ShopVeilError,
    SubjectErased,
    UnknownKeyVersion,
)
from shopveil.keys import Keyring, Vault
from shopveil.store import Store


@pytest.fixture
def vault(store: Store) -> Vault:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    return Vault(store, keyring, AuditLog(store, keyring))


def _other_purpose(vault: Vault, token: str) -> list[str]:
    return vault.tokenize(["x"], subject_ids=["c2"], purpose="support")


def _unknown(vault: Vault, token: str) -> list[str]:
    return ["vt1_" + "A" * 24]


def _malformed(vault: Vault, token: str) -> list[str]:
    return [token, token[:-1]]


def _unknown_version(vault: Vault, token: str) -> list[str]:
    return ["vt7_" + token.split("_", 1)[1]]


def _erased(vault: Vault, token: str) -> list[str]:
    vault.erase_subject("c1", actor="steward")
    return [token]


def _altered(vault: Vault, token: str) -> list[str]:
    with vault.store.transaction() as conn:
        blob = conn.execute(
            sa.text("SELECT ciphertext FROM shopveil_vault_values WHERE token = :t"), {"t": token}
        ).scalar_one()
        flipped = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
        conn.execute(
            sa.text("UPDATE shopveil_vault_values SET ciphertext = :c WHERE token = :t"),
            {"c": flipped, "t": token},
        )
    return [token]


CASES: list[tuple[str, Callable[[Vault, str], list[str]], type[ShopVeilError]]] = [
    ("token_purpose", _other_purpose, AccessDenied),
    ("unknown_token", _unknown, ParameterError),
    ("malformed_token", _malformed, ParameterError),
    ("unknown_key_version", _unknown_version, UnknownKeyVersion),
    ("subject_erased", _erased, SubjectErased),
    ("altered_value", _altered, IntegrityError),
]


@pytest.mark.parametrize(("reason", "make", "error"), CASES, ids=[c[0] for c in CASES])
def test_each_refusal_is_audited_without_the_tokens(
    vault: Vault,
    reason: str,
    make: Callable[[Vault, str], list[str]],
    error: type[ShopVeilError],
) -> None:
    token = vault.tokenize(["1 Main St"], subject_ids=["c1"], purpose="fulfilment")[0]
    tokens = make(vault, token)
    with pytest.raises(error):
        vault.detokenize(tokens, purpose="fulfilment", actor="agent-7")
    denied = vault.audit.events(action="vault.detokenize.denied")
    assert [(e.actor, e.details) for e in denied] == [
        ("agent-7", {"purpose": "fulfilment", "reason": reason, "count": len(tokens)})
    ]
    assert vault.audit.events(action="vault.detokenize") == []
    written = json.dumps([e.to_dict() for e in vault.audit.events()])
    assert not any(t in written for t in tokens) and "1 Main St" not in written
    assert vault.audit.verify() == len(vault.audit.events())


def test_a_refused_batch_releases_nothing_and_a_good_one_still_works(vault: Vault) -> None:
    good = vault.tokenize(["a", "b"], subject_ids=["c1", "c2"], purpose="fulfilment")
    (foreign,) = vault.tokenize(["c"], subject_ids=["c3"], purpose="support")
    with pytest.raises(AccessDenied, match=r"tokens\[1\] was issued for purpose 'support'"):
        vault.detokenize([good[0], foreign, good[1]], purpose="fulfilment", actor="agent")
    assert vault.detokenize(good, purpose="fulfilment", actor="agent") == ["a", "b"]
    actions = [e.action for e in vault.audit.events()]
    assert actions[-2:] == ["vault.detokenize.denied", "vault.detokenize"]
