"""Rotating keyed tokens from one key version to the next, without the original ids."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.errors import SchemaError, UnknownKeyVersion
from shopveil.keys import Keyring
from shopveil.pseudo import KeyedToken, retokenize, token_rotation_map

V1, V2 = KeyedToken(domain="customer_id", version=1), KeyedToken(domain="customer_id", version=2)


def context(keyring: Keyring) -> OperatorContext:
    return OperatorContext(purpose="analytics", column="customer_id", keys=keyring)


@given(
    ids=st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=10)), min_size=1, max_size=50)
)
def test_retokenized_column_equals_tokenizing_the_originals_with_the_new_key(
    keyring: Keyring, ids: list[str | None]
) -> None:
    originals = pa.array(ids, pa.string())
    downstream = V1.apply(originals, context(keyring))  # what a copy holding tokens has
    rotation = token_rotation_map(originals, V1, V2, context(keyring))
    rotated = retokenize(downstream, rotation)
    assert rotated.to_pylist() == V2.apply(originals, context(keyring)).to_pylist()
    assert all(t is None or t.startswith("tk2_") for t in rotated.to_pylist())


def test_tokens_of_another_version_or_missing_from_the_map_are_refused(keyring: Keyring) -> None:
    originals = pa.array(["a", "b"])
    rotation = token_rotation_map(originals, V1, V2, context(keyring))
    already_v2 = V2.apply(originals, context(keyring))
    with pytest.raises(UnknownKeyVersion, match="2 tokens are not version tk1"):
        retokenize(already_v2, rotation)
    stranger = V1.apply(pa.array(["c"]), context(keyring))
    with pytest.raises(SchemaError, match="1 tokens are not in the rotation map"):
        retokenize(stranger, rotation)
    with pytest.raises(SchemaError, match="share version"):
        token_rotation_map(originals, V1, V1, context(keyring))
