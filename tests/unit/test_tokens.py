"""Keyed tokens: consistent within a purpose, unlinkable across purposes, never the input."""

from __future__ import annotations

import base64
import hmac

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.errors import KeyringError, ParameterError
from shopveil.keys import Keyring
from shopveil.pseudo import KeyedToken, Normalization, hmac_sha256_batch

ids = st.lists(st.one_of(st.none(), st.text(max_size=20)), min_size=1, max_size=40)


def tokens(keyring: Keyring, values: list[str | None], purpose: str, **params: object) -> list:
    context = OperatorContext(purpose=purpose, column="customer_id", keys=keyring)
    return KeyedToken(**params).apply(pa.array(values, pa.string()), context).to_pylist()  # type: ignore[arg-type]


@given(
    key=st.binary(min_size=1, max_size=100),
    messages=st.lists(st.binary(max_size=200), max_size=20),
)
def test_batch_hmac_is_byte_identical_to_hmac(key: bytes, messages: list[bytes]) -> None:
    assert hmac_sha256_batch(key, messages) == [hmac.digest(key, m, "sha256") for m in messages]


@given(values=ids)
def test_tokens_are_consistent_never_the_input_and_keep_nulls(
    keyring: Keyring, values: list
) -> None:
    out = tokens(keyring, values, "marketing")
    for value, token in zip(values, out, strict=True):
        assert (value is None) == (token is None)
        if value is not None:
            assert token != value
            assert token.startswith("tk1_") and len(token) == 26
    mapping: dict[str, str] = {}
    for value, token in zip(values, out, strict=True):
        if value is not None:
            assert mapping.setdefault(value, token) == token


# Fewer examples: each example derives keys and tokenizes three times.
@settings(max_examples=30)
@given(values=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30, unique=True))
def test_tokens_differ_across_purposes_and_versions(keyring: Keyring, values: list[str]) -> None:
    marketing = tokens(keyring, values, "marketing")
    fulfilment = tokens(keyring, values, "fulfilment")
    version2 = tokens(keyring, values, "marketing", version=2)
    assert not set(marketing) & set(fulfilment)
    assert not set(marketing) & set(version2)
    assert all(t.startswith("tk2_") for t in version2)
    assert len(set(marketing)) == len(values)  # no collisions among distinct inputs


def test_domains_share_tokens_across_columns(keyring: Keyring) -> None:
    def token_in(column: str) -> str:
        context = OperatorContext(purpose="analytics", column=column, keys=keyring)
        return KeyedToken(domain="customer_id").apply(pa.array(["17850"]), context)[0].as_py()

    assert token_in("CustomerID") == token_in("customer_id")


def test_integral_floats_tokenize_like_integers(keyring: Keyring) -> None:
    context = OperatorContext(purpose="analytics", column="id", keys=keyring)
    from_float = KeyedToken().apply(pa.array([17850.0, 2.5]), context).to_pylist()
    from_int = KeyedToken().apply(pa.array([17850]), context).to_pylist()
    assert from_float[0] == from_int[0]
    assert from_float[1] != from_float[0]


def test_casefold_normalization(keyring: Keyring) -> None:
    out = tokens(keyring, [" Ann@Example.com", "ann@example.com"], "m", normalize="casefold")
    assert out[0] == out[1]
    assert KeyedToken(normalize="casefold").normalize is Normalization.CASEFOLD


def test_a_token_needs_a_keyring() -> None:
    context = OperatorContext(purpose="analytics", column="customer_id", keys=None)
    with pytest.raises(KeyringError, match="customer_id"):
        KeyedToken().apply(pa.array(["1"]), context)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"version": 0}, "version"),  # versions start at 1
        ({"domain": "  "}, "domain"),  # a blank domain would merge unrelated columns
        ({"normalize": "upper"}, "upper"),  # not a normalization
    ],
)
def test_bad_parameters_are_refused(params: dict, message: str) -> None:
    with pytest.raises((ParameterError, ValueError), match=message):
        KeyedToken(**params)


@settings(max_examples=20, deadline=None)
@given(
    pool=st.lists(st.text(max_size=8), min_size=1, max_size=50, unique=True),
    picks=st.lists(st.integers(0, 60), min_size=1, max_size=60),
    normalize=st.sampled_from(list(Normalization)),
)
def test_repeated_ids_hashed_once_give_each_row_its_own_token(
    keyring: Keyring, pool: list[str], picks: list[int], normalize: Normalization
) -> None:
    # Past the first rows' sample, repeated ids are hashed once each and mapped back;
    # every row must still get exactly the token it gets on its own (nulls stay null).
    values = [pool[p] if p < len(pool) else None for p in picks] * (5_000 // len(picks) + 1)
    out = tokens(keyring, values, "marketing", normalize=normalize)
    alone = {v: tokens(keyring, [v], "marketing", normalize=normalize)[0] for v in set(values)}
    assert out == [alone[v] for v in values]
    key = keyring.derive("marketing", "token:customer_id")
    if normalize is Normalization.EXACT and pool[0] in values:
        mac = hmac.digest(key, pool[0].encode(), "sha256")
        assert alone[pool[0]] == "tk1_" + base64.urlsafe_b64encode(mac[:17]).decode()[:22]


def test_distinct_ids_past_the_sample_are_tokenized_like_one_by_one(keyring: Keyring) -> None:
    values = [f"c{i}" for i in range(6_000)] + [None, "c1"]
    out = tokens(keyring, values, "marketing")
    assert out[:3] == [tokens(keyring, [v], "marketing")[0] for v in values[:3]]
    assert out[-2] is None and out[-1] == out[1]
    assert len(set(out[:6_000])) == 6_000
