"""Erasable pseudonyms: after erasure an id's pseudonym can no longer be recomputed,
while a keyed token (which erasure does not reach) still can."""

from __future__ import annotations

import secrets

import pyarrow as pa
import pytest
import sqlalchemy as sa

from shopveil._core.classes import Kind
from shopveil._core.operators import OperatorContext
from shopveil.audit import AuditLog
from shopveil.errors import KeyringError, ParameterError, SchemaError
from shopveil.keys import Keyring, Vault
from shopveil.policy._registry import build_operator
from shopveil.pseudo import ErasableToken, KeyedToken
from shopveil.store import Store


def _context(keyring: object, column: str = "CustomerID") -> OperatorContext:
    return OperatorContext(purpose="analytics", column=column, keys=keyring)  # type: ignore[arg-type]


def test_erasure_makes_the_pseudonym_uncomputable_but_not_a_keyed_token(store: Store) -> None:
    master = secrets.token_bytes(32)
    keyring = Keyring.open(store, master_key=master)
    ids = pa.array(["17850.0", " 17850", "13047", None, "17850"])
    erasable = ErasableToken(domain="customer_id")
    before = erasable.apply(ids, _context(keyring)).to_pylist()
    assert before[0] == before[1] == before[4] and before[0].startswith("et1_")
    assert before[2] != before[0] and before[3] is None
    keyed_before = KeyedToken(domain="customer_id").apply(pa.array(["17850"]), _context(keyring))

    vault = Vault(store, keyring, AuditLog(store, keyring))
    vault.erase_subject(17850, actor="dpo")

    # The attack erasure does not stop: a keyed token is recomputed from the id alone.
    keyed_after = KeyedToken(domain="customer_id").apply(pa.array(["17850"]), _context(keyring))
    assert keyed_after.equals(keyed_before)
    # An erasable pseudonym is not: any spelling of the id comes out null, even through a
    # fresh keyring on the same master key, and the kept subject keeps their pseudonym.
    reopened = Keyring.open(store, master_key=master)
    after = erasable.apply(ids, _context(reopened)).to_pylist()
    assert after == [None, None, before[2], None, None]
    assert before[0] not in set(erasable.apply(pa.array([17850]), _context(reopened)).to_pylist())
    # And no new key was made for the erased subject.
    with store.engine.connect() as conn:
        erased = conn.execute(
            sa.text("SELECT count(*) FROM shopveil_vault_subjects WHERE wrapped_key IS NULL")
        ).scalar()
    assert erased == 1


def test_pseudonyms_are_stable_across_runs_and_rotation_and_apart_across_purposes(
    store: Store,
) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    ids = pa.array([1, 2, 3, 1], pa.int64())
    first = ErasableToken().apply(ids, _context(keyring)).to_pylist()
    assert first[0] == first[3] and len(set(first)) == 3
    Vault(store, keyring, AuditLog(store, keyring)).rotate(actor="ops")
    assert ErasableToken().apply(ids, _context(keyring)).to_pylist() == first
    other = OperatorContext(purpose="marketing", column="CustomerID", keys=keyring)
    assert not set(ErasableToken().apply(ids, other).to_pylist()) & set(first)
    assert not set(ErasableToken(version=2).apply(ids, _context(keyring)).to_pylist()) & set(first)


def test_the_policy_names_it_and_it_needs_the_stores_keyring(keyring: Keyring) -> None:
    operator = build_operator("erasable_token", {}, Kind.CUSTOMER_ID)
    assert operator == ErasableToken(domain="customer_id")

    class DerivedOnly:
        def derive(self, purpose: str, context: str, *, version: int = 1) -> bytes:
            return bytes(32)

    with pytest.raises(KeyringError, match=r"'CustomerID'.*Keyring\.open"):
        ErasableToken().apply(pa.array(["1"]), _context(DerivedOnly()))
    with pytest.raises(SchemaError, match="'CustomerID' holds a value that is not a subject id"):
        ErasableToken().apply(pa.array(["17850", "  "]), _context(keyring))
    with pytest.raises(ParameterError, match="version"):
        ErasableToken(version=0)
