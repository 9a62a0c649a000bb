"""Homomorphic aggregation: clients encrypt their updates, the server multiplies the
ciphertexts, and a key holder decrypts only their sum (Paillier, through ``phe``).

The alternative to pairwise masking (:mod:`shopveil.federated._secagg`): one message per
client and no key agreement, shares or unmasking round, so a dropout costs nothing; in
exchange it trusts a second party. Roles:

* **Key holder** (:class:`KeyHolder`): makes a Paillier key pair (2048-bit modulus,
  primes from the OS CSPRNG), publishes the public key, and decrypts one aggregate per
  round, of at least ``min_clients`` updates. It never sees a client's ciphertext.
* **Clients** (:func:`encrypt_vector`): encode their integer vector (the same fixed-point
  grid as secure aggregation) and encrypt it under the public key.
* **Server** (:func:`add_encrypted`): multiplies the ciphertexts (Paillier is additively
  homomorphic: ``E(a)·E(b) = E(a + b)``) and sends the product to the key holder.

The server alone learns nothing about an update (Paillier is IND-CPA under the decisional
composite residuosity assumption: a ciphertext is re-randomized by ``r^n``, so encrypting
a guessed update does not reproduce a client's ciphertext); the key holder alone learns
only sums. The two together can read any one update: they must not collude, which
secure aggregation does not need (it tolerates a server colluding with fewer than its
threshold of clients). The key holder cannot tell a sum from a single client's
ciphertext relabelled as one; ``min_clients`` and one decryption per round limit what a
curious server may ask, not what a lying one may.

Packing: Paillier's plaintext space is 2047 bits and an update value 64, so each value
is offset to ``[0, 2⁶⁴)`` and given a slot of ``64 + 16`` bits (room for 65,535 clients'
carries); 25 values share one ciphertext (512 bytes), and decryption of a sum of
``count`` vectors removes ``count`` offsets per slot. Sums are mod 2⁶⁴, as secure
aggregation's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil.errors import ParameterError, PrivacyError

__all__ = [
    "KEY_BITS",
    "SLOTS",
    "KeyHolder",
    "add_encrypted",
    "ciphertext_bytes",
    "encrypt_vector",
    "encrypted_sum",
]

log = logging.getLogger("shopveil.federated")

KEY_BITS = 2048
"""Bits of the Paillier modulus ``n`` (about 112-bit security)."""
_VALUE, _HEADROOM = 64, 16
_SLOT = _VALUE + _HEADROOM
SLOTS = (KEY_BITS - 1) // _SLOT
"""Update values packed into one ciphertext."""
_OFFSET = 1 << (_VALUE - 1)
_CIPHER = 2 * KEY_BITS // 8  # bytes of one ciphertext, mod n²


def _phe() -> Any:
    with from_extra("fl"):
        from phe import paillier

    return paillier


def ciphertext_bytes(size: int) -> int:
    """Bytes on the wire of one encrypted vector of ``size`` values."""
    return -(-size // SLOTS) * _CIPHER


def _modulus(public: np.ndarray) -> int:
    raw = np.asarray(public)
    if raw.dtype != np.uint8 or raw.shape != (KEY_BITS // 8,):
        raise ParameterError(f"a public key is {KEY_BITS // 8} uint8 bytes, got {raw.shape}")
    n = int.from_bytes(raw.tobytes(), "big")
    if n.bit_length() != KEY_BITS or n % 2 == 0:
        raise ParameterError(f"a public key must be an odd {KEY_BITS}-bit modulus")
    return n


def encrypt_vector(public: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A client's int64 vector, packed and encrypted: ``(chunks, 512)`` uint8."""
    key = _phe().PaillierPublicKey(_modulus(public))
    words = (np.asarray(values).astype(np.int64).view(np.uint64).astype(object) + _OFFSET) % (
        1 << _VALUE
    )
    out = []
    for first in range(0, len(words), SLOTS):
        packed = 0
        for k, word in enumerate(words[first : first + SLOTS]):
            packed |= int(word) << (_SLOT * k)
        out.append(int(key.raw_encrypt(packed)).to_bytes(_CIPHER, "big"))
    return np.frombuffer(b"".join(out), dtype=np.uint8).reshape(-1, _CIPHER).copy()


def add_encrypted(public: np.ndarray, encrypted: Sequence[np.ndarray]) -> np.ndarray:
    """The server's step: the encryption of the sum, from the clients' encryptions."""
    if not encrypted:
        raise ParameterError("no encrypted update to add")
    n_square = _modulus(public) ** 2
    shape = np.asarray(encrypted[0]).shape
    totals = [1] * shape[0]
    for vector in encrypted:
        rows = np.asarray(vector, dtype=np.uint8)
        if rows.shape != shape:
            raise ParameterError(f"encrypted updates differ in shape: {rows.shape} != {shape}")
        for k in range(shape[0]):
            totals[k] = totals[k] * int.from_bytes(rows[k].tobytes(), "big") % n_square
    raw = b"".join(t.to_bytes(_CIPHER, "big") for t in totals)
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()


class KeyHolder:
    """The Paillier key pair's holder: decrypts aggregates, once per round, never less
    than ``min_clients`` updates."""

    def __init__(self, *, min_clients: int = 2) -> None:
        if isinstance(min_clients, bool) or not isinstance(min_clients, int) or min_clients < 1:
            raise ParameterError(f"min_clients must be an int >= 1, got {min_clients!r}")
        self._public, self._private = _phe().generate_paillier_keypair(n_length=KEY_BITS)
        self._min = min_clients
        self._rounds: set[int] = set()

    def __repr__(self) -> str:
        return f"KeyHolder(min_clients={self._min})"

    @property
    def min_clients(self) -> int:
        """The fewest updates an aggregate it decrypts may hold."""
        return self._min

    @property
    def public(self) -> np.ndarray:
        """The public key (the modulus ``n``, big-endian bytes) to send to the clients."""
        raw = int(self._public.n).to_bytes(KEY_BITS // 8, "big")
        return np.frombuffer(raw, dtype=np.uint8).copy()

    def decrypt_sum(self, total: np.ndarray, count: int, size: int, round_id: int) -> np.ndarray:
        """The int64 sum of ``count`` encrypted vectors of ``size`` values (mod 2⁶⁴)."""
        if count < self._min:
            raise PrivacyError(
                f"asked to decrypt an aggregate of {count} updates, fewer than "
                f"min_clients={self._min}: that could be one client's update; refused"
            )
        if count >= 1 << _HEADROOM:
            raise ParameterError(f"at most {(1 << _HEADROOM) - 1} updates fit one sum")
        if round_id in self._rounds:
            raise PrivacyError(f"round {round_id}'s aggregate was decrypted before; refused")
        rows = np.asarray(total, dtype=np.uint8)
        if rows.shape != (-(-size // SLOTS), _CIPHER):
            raise ParameterError(f"an encrypted sum of {size} values is not {rows.shape}")
        self._rounds.add(round_id)
        out = []
        for k, row in enumerate(rows):
            packed = int(self._private.raw_decrypt(int.from_bytes(row.tobytes(), "big")))
            for slot in range(min(SLOTS, size - k * SLOTS)):
                word = (packed >> (_SLOT * slot)) & ((1 << _SLOT) - 1)
                out.append((word - count * _OFFSET) % (1 << _VALUE))
        return np.array(out, dtype=np.uint64).view(np.int64)


def encrypted_sum(
    replies: dict[int, Any],
    holder: KeyHolder,
    width: int,
    round_id: int,
    valid: Callable[[Any, str, tuple[int, ...], Any], np.ndarray | None],
) -> tuple[np.ndarray, int, int]:
    """A round at the server: the well-formed encrypted replies (``valid`` checks each)
    multiplied, and their sum decrypted by ``holder``; (sum, updates in it, uplink bytes).

    With fewer well-formed replies than the key holder's ``min_clients`` the round adds
    nothing (logged): decrypting them could reveal one client's update.
    """
    shape = (-(-width // SLOTS), _CIPHER)
    parts = [v for v in (valid(r, "encrypted", shape, np.uint8) for r in replies.values())]
    kept = [p for p in parts if p is not None]
    if len(kept) < holder.min_clients:
        log.warning(
            "round %s: %s encrypted updates, fewer than the key holder's %s; round skipped",
            round_id, len(kept), holder.min_clients,
        )  # fmt: skip
        return np.zeros(width, dtype=np.int64), 0, sum(p.nbytes for p in kept)
    total = add_encrypted(holder.public, kept)
    return (
        holder.decrypt_sum(total, len(kept), width, round_id),
        len(kept),
        sum(p.nbytes for p in kept),
    )
