"""Batch HMAC-SHA-256 over Arrow arrays: the native kernel when built, pure Python otherwise.

The keyed PRF that keyed tokens (``pseudo``), consistent fakes and date shifts (``mask``)
and the ledger's person hashes (``dp``) share. Both paths give byte-identical results
(tests compare them with :func:`hmac.digest`). The native kernel
(``_native/hmac_sha256.c``) walks an Arrow array's offsets and data buffers without
making a Python object per value, and uses the CPU's SHA extensions where present.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
from collections.abc import Iterable
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.errors import ParameterError

__all__ = [
    "TOKEN_CHARS",
    "hmac_sha256_array",
    "hmac_sha256_batch",
    "hmac_tokens",
    "kernel_name",
]

_BLOCK = 64  # SHA-256 block size: HMAC pads the key to it
TOKEN_CHARS = 22  # base64url characters of the MAC in a token: 132 bits
_MAX_STRING_BYTES = 2**31 - 1  # an Arrow string array's int32 offsets


def _load_native() -> ModuleType | None:
    try:
        return importlib.import_module("shopveil._core._hmac_native")
    except ImportError:
        return None


_NATIVE = _load_native()


def kernel_name() -> str:
    """``sha-ni`` or ``portable`` (the C kernel), or ``python`` when it is not built."""
    return "python" if _NATIVE is None else str(_NATIVE.kernel())


def _python_batch(key: bytes, messages: Iterable[bytes]) -> list[bytes]:
    # The padded inner and outer key states are hashed once and copied per message,
    # about twice as fast in CPython as hmac.digest in a loop.
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    digests = []
    for message in messages:
        h_in = inner.copy()
        h_in.update(message)
        h_out = outer.copy()
        h_out.update(h_in.digest())
        digests.append(h_out.digest())
    return digests


def hmac_sha256_batch(key: bytes, messages: Iterable[bytes]) -> list[bytes]:
    """HMAC-SHA-256 of each message, byte-identical to :func:`hmac.digest`."""
    if _NATIVE is None:
        return _python_batch(key, messages)
    items = list(messages)
    # Offsets and data built directly: pa.array would import pandas on first use.
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum([len(m) for m in items], out=offsets[1:])
    raw = _NATIVE.hmac_many(key, offsets, b"".join(items), 0, len(items), True, None)
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def _binary_view(values: pa.Array) -> pa.Array:
    """The same values as binary or large binary, without copying the data."""
    if pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type):
        return values.view(pa.large_binary())
    if pa.types.is_string(values.type) or pa.types.is_binary(values.type):
        return values.view(pa.binary())
    raise TypeError(f"expected a string or binary array, got {values.type}")


def _native_call(key: bytes, values: pa.Array, prefix: bytes | None) -> bytes:
    assert _NATIVE is not None
    binary = _binary_view(values)
    buffers = binary.buffers()
    wide = pa.types.is_large_binary(binary.type)
    empty = pa.py_buffer(b"")
    data = buffers[2] if buffers[2] is not None else empty
    return _NATIVE.hmac_many(key, buffers[1], data, binary.offset, len(binary), wide, prefix)


def hmac_sha256_array(key: bytes, values: pa.Array) -> np.ndarray:
    """MACs of every slot of a string or binary array, as an ``(n, 32)`` uint8 array.

    Null slots get the MAC of their (empty) bytes; callers mask them.
    """
    if _NATIVE is not None:
        raw = _native_call(key, values, None)
    else:
        items = _binary_view(values).to_pylist()
        raw = b"".join(_python_batch(key, (b"" if v is None else v for v in items)))
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), 32)


def hmac_tokens(key: bytes, values: pa.Array, prefix: str) -> pa.Array:
    """``prefix`` + 22 base64url characters of each value's MAC, as a string array.

    Nulls stay null. The tokens are identical whichever kernel makes them.
    """
    n = len(values)
    width = len(prefix.encode("ascii")) + TOKEN_CHARS
    if n * width > _MAX_STRING_BYTES:
        raise ParameterError(
            f"a batch of {n:,} values makes more than 2 GiB of tokens; "
            f"pass batches of at most {_MAX_STRING_BYTES // width:,} values"
        )
    if _NATIVE is not None:
        data = _native_call(key, values, prefix.encode("ascii"))
    else:
        items = _binary_view(values).to_pylist()
        macs = _python_batch(key, (b"" if v is None else v for v in items))
        head = prefix.encode("ascii")
        data = b"".join(head + base64.urlsafe_b64encode(m[:17])[:TOKEN_CHARS] for m in macs)
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
    tokens = pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(data)])
    if values.null_count:
        tokens = pc.if_else(pc.is_valid(values), tokens, None)
    return tokens
