"""Hypothesis properties of the vault: round trip, tokens never equal inputs, rotation
keeps every value readable, erasure is irreversible and touches no other subject."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.subjects import canonical_id
from shopveil.audit import AuditLog
from shopveil.errors import SubjectErased
from shopveil.keys import Keyring, Vault
from shopveil.store import Store

# Fewer examples: each example writes and reads a real vault store.
PROPERTY = settings(
    max_examples=15,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# No lone surrogates: they cannot be UTF-8 encoded (refusing them is tested elsewhere).
text_st = st.characters(blacklist_categories=("Cs",))
values_st = st.text(text_st, min_size=1, max_size=40)
subjects_st = st.sampled_from(["s1", "s2", "s3"]) | st.text(text_st, min_size=1, max_size=8).filter(
    str.strip
)
records_st = st.lists(st.tuples(subjects_st, values_st), min_size=1, max_size=8)


@pytest.fixture
def vault(store_url: str) -> Iterator[Vault]:
    store = Store.open(store_url)
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    yield Vault(store, keyring, AuditLog(store, keyring))
    store.close()


def _scoped(records: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    # Examples share one store: a fresh prefix keeps their subjects apart.
    prefix = secrets.token_hex(4)
    return [f"{prefix}:{s}" for s, _ in records], [v for _, v in records]


@PROPERTY
@given(records=records_st)
def test_round_trip_and_tokens_never_equal_inputs(
    vault: Vault, records: list[tuple[str, str]]
) -> None:
    subjects, values = _scoped(records)
    tokens = vault.tokenize(values, subject_ids=subjects, purpose="support")
    assert vault.detokenize(tokens, purpose="support", actor="t") == values
    assert all(t != v for t, v in zip(tokens, values, strict=True))
    # Same subject (spellings of one id are one subject) and value → same token;
    # different pairs → different tokens.
    pairs = list(zip(map(canonical_id, subjects), values, strict=True))
    for i, j in [(i, j) for i in range(len(pairs)) for j in range(len(pairs))]:
        assert (tokens[i] == tokens[j]) == (pairs[i] == pairs[j])


# Fewer examples: each example rotates keys in a real vault store.
@settings(PROPERTY, max_examples=8)
@given(records=records_st, rotations=st.integers(1, 2))
def test_rotation_keeps_every_value_readable(
    vault: Vault, records: list[tuple[str, str]], rotations: int
) -> None:
    subjects, values = _scoped(records)
    tokens = vault.tokenize(values, subject_ids=subjects, purpose="fulfilment")
    for _ in range(rotations):
        report = vault.rotate(actor="t", batch_size=3)
        assert report.retired  # every older version is gone afterwards
    assert vault.detokenize(tokens, purpose="fulfilment", actor="t") == values
    # New tokens carry the new version; old tokens still map to the same values.
    assert vault.tokenize(values, subject_ids=subjects, purpose="fulfilment") == tokens


@PROPERTY
@given(records=records_st, victim=st.integers(0, 7))
def test_erasure_is_irreversible_and_touches_no_other_subject(
    vault: Vault, records: list[tuple[str, str]], victim: int
) -> None:
    subjects, values = _scoped(records)
    tokens = vault.tokenize(values, subject_ids=subjects, purpose="support")
    erased = subjects[victim % len(subjects)]
    result = vault.erase_subject(erased, actor="dpo")
    same = [canonical_id(s) == canonical_id(erased) for s in subjects]
    assert result.values == len({v for v, hit in zip(values, same, strict=True) if hit})
    for hit, value, token in zip(same, values, tokens, strict=True):
        if hit:
            with pytest.raises(SubjectErased):
                vault.detokenize([token], purpose="support", actor="t")
        else:
            assert vault.detokenize([token], purpose="support", actor="t") == [value]
    # Irreversible: a fresh keyring with the same master key, a rotation, nothing helps.
    vault.rotate(actor="t")
    with pytest.raises(SubjectErased):
        vault.tokenize(["anything"], subject_ids=[erased], purpose="support")
    victim_tokens = [t for t, hit in zip(tokens, same, strict=True) if hit]
    with pytest.raises(SubjectErased):
        vault.detokenize(victim_tokens, purpose="support", actor="t")
