"""The batch HMAC kernel: byte-identical to hmac.digest on every path, tokens unchanged."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core import prf as _kernel
from shopveil._core.operators import OperatorContext
from shopveil._core.prf import hmac_tokens
from shopveil.errors import SchemaError
from shopveil.keys import Keyring
from shopveil.pseudo import KeyedToken, hmac_sha256_array, hmac_sha256_batch, kernel_name

texts = st.lists(st.one_of(st.none(), st.text(max_size=150)), max_size=60)
keys = st.binary(min_size=1, max_size=130)


def reference_token(key: bytes, value: bytes, prefix: str) -> str:
    mac = hmac.digest(key, value, "sha256")
    return prefix + base64.urlsafe_b64encode(mac[:17]).decode("ascii")[:22]


PATHS = ["native", "portable", "python"]


@contextmanager
def using(path: str) -> Iterator[None]:
    """Run the kernel down one path: the best native one, the portable C one, or Python."""
    native = _kernel._NATIVE
    if path != "python" and native is None:
        pytest.skip("the native kernel is not built here")
    try:
        if path == "python":
            _kernel._NATIVE = None
        elif path == "portable":
            native.use_portable(True)
        yield
    finally:
        _kernel._NATIVE = native
        if native is not None:
            native.use_portable(False)


@pytest.mark.parametrize("path", PATHS)
@given(key=keys, values=texts, start=st.integers(0, 5))
def test_macs_match_hmac_on_every_path(path: str, key: bytes, values: list, start: int) -> None:
    array = pa.array(values, pa.string()).slice(min(start, len(values)))
    with using(path):
        macs = hmac_sha256_array(key, array)
    for row, value in enumerate(array.to_pylist()):
        data = (value or "").encode("utf-8")
        assert macs[row].tobytes() == hmac.digest(key, data, "sha256")


@pytest.mark.parametrize("path", PATHS)
@given(key=keys, values=texts)
def test_tokens_match_the_reference_formula(path: str, key: bytes, values: list) -> None:
    with using(path):
        out = hmac_tokens(key, pa.array(values, pa.large_string()), "tk7_").to_pylist()
    for value, token in zip(values, out, strict=True):
        if value is None:
            assert token is None
        else:
            assert token == reference_token(key, value.encode("utf-8"), "tk7_")


@pytest.mark.parametrize("path", PATHS)
# Fewer examples: runs once per HMAC path on up to 30 values of 300 bytes.
@settings(max_examples=25)
@given(key=keys, values=st.lists(st.binary(max_size=300), max_size=30))
def test_raw_bytes_including_invalid_utf8(path: str, key: bytes, values: list) -> None:
    with using(path):
        macs = hmac_sha256_array(key, pa.array(values, pa.binary()))
    assert [m.tobytes() for m in macs] == [hmac.digest(key, v, "sha256") for v in values]


@pytest.mark.parametrize("path", PATHS)
def test_batch_api_and_kernel_name(path: str) -> None:
    messages = [b"", b"a" * 55, b"b" * 56, b"c" * 64, b"d" * 1000]
    with using(path):
        assert hmac_sha256_batch(b"key", messages) == [
            hmac.digest(b"key", m, "sha256") for m in messages
        ]
        assert kernel_name() == {"native": kernel_name(), "portable": "portable"}.get(
            path, "python"
        )


def test_non_utf8_bytes_are_tokenized_as_bytes(keyring: Keyring) -> None:
    context = OperatorContext(purpose="analytics", column="raw", keys=keyring)
    values = pa.array([b"\xff\xfe", b"17850", None], pa.binary())
    out = KeyedToken().apply(values, context).to_pylist()
    text = KeyedToken().apply(pa.array(["17850"]), context).to_pylist()
    assert out[1] == text[0]  # valid UTF-8 bytes tokenize like the equal text
    assert out[0].startswith("tk1_") and out[2] is None
    with pytest.raises(SchemaError, match="not UTF-8"):
        KeyedToken(normalize="casefold").apply(values, context)  # type: ignore[arg-type]


def test_tokens_of_dictionary_and_chunked_input(keyring: Keyring) -> None:
    context = OperatorContext(purpose="analytics", column="id", keys=keyring)
    plain = KeyedToken().apply(pa.array(["a", "b", "a", None]), context)
    encoded = pa.array(["a", "b", "a", None]).dictionary_encode()
    assert KeyedToken().apply(encoded, context).equals(plain)
    assert KeyedToken().apply(pa.array([None, None], pa.null()), context).null_count == 2


def test_empty_string_gets_a_token_of_its_own(keyring: Keyring) -> None:
    context = OperatorContext(purpose="analytics", column="id", keys=keyring)
    out = KeyedToken().apply(pa.array(["", " ", ""]), context).to_pylist()
    assert out[0] == out[2] != out[1] and out[0] != ""


def test_mac_matrix_shape_for_an_empty_array() -> None:
    assert hmac_sha256_array(b"k" * 32, pa.array([], pa.string())).shape == (0, 32)
    assert isinstance(hmac_sha256_array(b"k", pa.array(["x"])), np.ndarray)
