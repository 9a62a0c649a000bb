"""Vertical FL with the labels hidden from the partner: encrypted residuals, masked
gradients (Hardy et al. 2017, with the retailer as the key holder).

Split logistic regression sends the partner the residuals ``p − y`` of each batch, whose
signs are the churn labels. Here the retailer sends them encrypted under its own
Paillier key instead; the partner computes its gradient ``Σ_i x_ij · r_i`` under
encryption (a ciphertext raised to a fixed-point feature value, ``E(r)^x = E(x·r)``),
adds a uniformly random mask ``R_j`` mod ``n`` and sends that back; the retailer decrypts
``g_j + R_j`` (uniform: nothing about the partner's features) and returns it; the
partner removes its mask and steps. The partner learns its batch gradient and nothing
per customer; the retailer still learns the partner's partial scores.

Fixed point: residuals and features are rounded to multiples of 2⁻²⁰ (features are in
``[-0.5, 0.5]``, so exponents have 20 bits), which moves the gradient by about 1e-6 of
its size. The cost is one Paillier encryption per training customer and epoch, at the
retailer.
"""

from __future__ import annotations

import secrets

import numpy as np

from shopveil.errors import ParameterError
from shopveil.federated._homomorphic import KEY_BITS, _phe

__all__ = ["LabelKey", "MaskedGradient"]

_SCALE = 1 << 20
_CIPHER, _PLAIN = 2 * KEY_BITS // 8, KEY_BITS // 8


def _rows(values: list[int], width: int) -> np.ndarray:
    raw = b"".join(v.to_bytes(width, "big") for v in values)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width).copy()


def _ints(array: np.ndarray, width: int, what: str) -> list[int]:
    rows = np.asarray(array)
    if rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != width:
        raise ParameterError(f"{what} must be (n, {width}) uint8, got {rows.shape} {rows.dtype}")
    return [int.from_bytes(r.tobytes(), "big") for r in rows]


class LabelKey:
    """The retailer's side: its Paillier key pair, encrypting residuals and decrypting
    masked gradients."""

    def __init__(self) -> None:
        self._public, self._private = _phe().generate_paillier_keypair(n_length=KEY_BITS)

    def __repr__(self) -> str:
        return "LabelKey()"

    @property
    def public(self) -> np.ndarray:
        """The public key (modulus ``n``) for the partner."""
        return _rows([int(self._public.n)], _PLAIN)[0]

    def encrypt(self, residuals: np.ndarray) -> np.ndarray:
        """``E(round(r · 2²⁰))`` per customer of the batch: ``(m, 512)`` uint8."""
        n = int(self._public.n)
        fixed = np.rint(np.asarray(residuals, dtype=np.float64) * _SCALE).astype(np.int64)
        return _rows([int(self._public.raw_encrypt(int(v) % n)) for v in fixed.tolist()], _CIPHER)

    def decrypt(self, masked: np.ndarray) -> np.ndarray:
        """The masked gradient's plaintexts, ``(g_j + R_j) mod n``: ``(d, 256)`` uint8."""
        values = _ints(masked, _CIPHER, "a masked gradient")
        return _rows([int(self._private.raw_decrypt(c)) for c in values], _PLAIN)


class MaskedGradient:
    """The partner's side: its gradient under the retailer's key, masked, then unmasked."""

    def __init__(self, public: np.ndarray) -> None:
        (n,) = _ints(np.asarray(public).reshape(1, -1), _PLAIN, "the retailer's public key")
        self._key = _phe().PaillierPublicKey(n)
        self._masks: list[int] = []

    def __repr__(self) -> str:
        return "MaskedGradient()"

    def masked(self, x: np.ndarray, encrypted: np.ndarray) -> np.ndarray:
        """``E(Σ_i x_ij · r_i + R_j)`` per column ``j`` of ``x`` (the batch's rows)."""
        residuals = _ints(encrypted, _CIPHER, "the encrypted residuals")
        if len(residuals) != len(x):
            raise ParameterError(f"{len(residuals)} encrypted residuals for {len(x)} rows")
        n, n_square = int(self._key.n), int(self._key.nsquare)
        inverse = [pow(c, -1, n_square) for c in residuals]
        fixed = np.rint(np.asarray(x, dtype=np.float64) * _SCALE).astype(np.int64)
        out, self._masks = [], []
        for column in fixed.T.tolist():
            total = 1
            for c, c_inv, value in zip(residuals, inverse, column, strict=True):
                if value:
                    total = total * pow(c if value > 0 else c_inv, abs(value), n_square) % n_square
            mask = secrets.randbelow(n)
            self._masks.append(mask)
            out.append(total * int(self._key.raw_encrypt(mask)) % n_square)
        return _rows(out, _CIPHER)

    def gradient(self, plain: np.ndarray) -> np.ndarray:
        """``Σ_i x_ij · r_i`` per column, from the retailer's decryption of :meth:`masked`."""
        values = _ints(plain, _PLAIN, "the decrypted masked gradient")
        if len(values) != len(self._masks):
            raise ParameterError(f"{len(values)} gradient values for {len(self._masks)} columns")
        n = int(self._key.n)
        out = []
        for value, mask in zip(values, self._masks, strict=True):
            g = (value - mask) % n
            out.append((g - n if g > n // 2 else g) / _SCALE**2)
        self._masks = []
        return np.array(out, dtype=np.float64)
