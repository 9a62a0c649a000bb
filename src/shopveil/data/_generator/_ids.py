"""Identifiers with fixed shapes: customer ids, card numbers, IP addresses, device UUIDs.

Each is built as bytes or digits in numpy and formatted in one pass, so linked tables can
gather compact numbers instead of strings (gathering strings at random is slow).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.luhn import luhn_check_digits
from shopveil.data._generator._vec import chars_to_strings, concat, pick

__all__ = [
    "FIRST_CUSTOMER_ID",
    "card_numbers",
    "customer_ids",
    "device_bytes",
    "format_ips",
    "format_uuids",
    "ip_octets",
]


def card_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """16-digit Visa (4…) and Mastercard (51–55…) numbers with valid Luhn check digits."""
    payload = rng.integers(0, 10, size=(n, 15), dtype=np.uint8)
    visa = rng.random(n) < 0.6
    payload[:, 0] = np.where(visa, 4, 5)
    payload[:, 1] = np.where(visa, payload[:, 1], rng.integers(1, 6, n))
    check = luhn_check_digits(payload).astype(np.uint8)
    return chars_to_strings(np.column_stack([payload, check]) + 48)


# First octets of ordinary public unicast space (no private, loopback or multicast blocks).
_PUBLIC_FIRST = np.array(
    [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192)], dtype=np.uint8
)
FIRST_CUSTOMER_ID = 10_000_001


def customer_ids(index: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """The ``customer_id`` strings of customers at ``index`` (null where not ``valid``).

    Ids are numbers, so linked tables format them instead of gathering strings.
    """
    numbers = pa.array(
        index.astype(np.int64) + FIRST_CUSTOMER_ID, mask=None if valid is None else ~valid
    )
    return pc.cast(numbers, pa.string())


def ip_octets(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 4)`` octets of public IPv4 addresses."""
    octets = rng.integers(0, 255, size=(n, 4), dtype=np.uint8)
    octets[:, 0] = rng.choice(_PUBLIC_FIRST, n)
    octets[:, 3] = np.maximum(octets[:, 3], 1)
    return octets


@cache
def _octets() -> pa.StringArray:
    return pa.array([str(i) for i in range(256)], pa.string())


def format_ips(octets: np.ndarray) -> pa.Array:
    """Dotted-quad strings from ``(n, 4)`` octets."""
    n = len(octets)
    parts: list[pa.Array | str] = []
    for i in range(4):
        parts += ([] if i == 0 else ["."]) + [pick(_octets(), octets[:, i])]
    return concat(parts, n)


def device_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 16)`` random bytes with the version-4 UUID bits set."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw


def format_uuids(raw: np.ndarray) -> pa.Array:
    """Canonical lower-case UUID strings from ``(n, 16)`` bytes."""
    n = len(raw)
    # bytes.hex() runs at memory speed; the result is reshaped into 32 characters a row.
    hexchars = np.frombuffer(np.ascontiguousarray(raw).tobytes().hex().encode("ascii"), np.uint8)
    hexchars = hexchars.reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        out[:, dst : dst + width] = hexchars[:, src : src + width]
    return chars_to_strings(out)
