"""FF3-1 format-preserving encryption (NIST SP 800-38G Rev. 1), vectorized over values.

Values of one length are enciphered together: each of the eight Feistel rounds is one
AES-ECB call over the round blocks of all values, and the radix arithmetic runs in
numpy whenever ``radix**ceil(n/2)`` fits in 32 bits (a 16-digit card number, a phone
number, an order id). Longer values take an exact big-integer path with the same
batched AES calls. Strings of symbols are represented as digit matrices (one row per
value, one column per symbol, symbol 0 first).
"""

from __future__ import annotations

import math

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shopveil.errors import ParameterError

__all__ = ["FF3Key", "length_limits"]

_ROUNDS = 8
_FAST_LIMIT = 2**32  # radix**u up to this: the numpy path's 64-bit arithmetic is exact


def length_limits(radix: int) -> tuple[int, int]:
    """FF3-1's shortest and longest message for ``radix`` (radix**minlen >= 10**6)."""
    minlen = max(2, math.ceil(math.log(1_000_000) / math.log(radix) - 1e-12))
    maxlen = 2 * math.floor(96 / math.log2(radix) + 1e-12)
    return minlen, maxlen


class FF3Key:
    """An FF3-1 key and tweak.

    Parameters
    ----------
    key
        AES key, 16, 24 or 32 bytes.
    tweak
        7 bytes (FF3-1). 8 bytes selects the original FF3 tweak split, kept only so that
        NIST's FF3 sample vectors can be checked; do not use it for data.
    radix
        Number of symbols in the alphabet, 2 to 65536.
    """

    __slots__ = ("_aes", "_tl", "_tr", "radix")

    def __init__(self, key: bytes, tweak: bytes, radix: int) -> None:
        if len(key) not in (16, 24, 32):
            raise ParameterError(f"an FF3-1 key is 16, 24 or 32 bytes, got {len(key)}")
        if not 2 <= radix <= 2**16:
            raise ParameterError(f"radix must be between 2 and 65536, got {radix}")
        if len(tweak) == 7:
            tl = tweak[:3] + bytes([tweak[3] & 0xF0])
            tr = tweak[4:7] + bytes([(tweak[3] & 0x0F) << 4])
        elif len(tweak) == 8:
            tl, tr = tweak[:4], tweak[4:]
        else:
            raise ParameterError(f"an FF3-1 tweak is 7 bytes, got {len(tweak)}")
        # FF3 encrypts with the byte-reversed key.
        self._aes = Cipher(algorithms.AES(key[::-1]), modes.ECB())
        self._tl, self._tr = tl, tr
        self.radix = radix

    def encrypt(self, digits: np.ndarray) -> np.ndarray:
        """Encipher each row of an ``(count, n)`` matrix of symbols in ``[0, radix)``."""
        return self._run(digits, decrypt=False)

    def decrypt(self, digits: np.ndarray) -> np.ndarray:
        """Invert :meth:`encrypt`."""
        return self._run(digits, decrypt=True)

    def _run(self, digits: np.ndarray, *, decrypt: bool) -> np.ndarray:
        digits = np.asarray(digits)
        count, n = digits.shape
        minlen, maxlen = length_limits(self.radix)
        if not minlen <= n <= maxlen:
            raise ParameterError(
                f"FF3-1 with radix {self.radix} takes {minlen} to {maxlen} symbols, got {n}"
            )
        if count == 0:
            return digits.copy()
        u = (n + 1) // 2
        if self.radix**u <= _FAST_LIMIT:
            return self._run_fast(digits.astype(np.uint64), u, decrypt)
        return self._run_exact(digits, u, decrypt)

    def _round_tweaks(self, rounds: range) -> list[bytes]:
        # Round i's tweak half, XORed with i, byte-reversed for the reversed-AES convention.
        out = []
        for i in rounds:
            w = bytearray(self._tr if i % 2 == 0 else self._tl)
            w[3] ^= i
            out.append(bytes(w[::-1]))
        return out

    def _aes_blocks(self, blocks: bytes) -> bytes:
        encryptor = self._aes.encryptor()
        return encryptor.update(blocks) + encryptor.finalize()

    def _run_fast(self, digits: np.ndarray, u: int, decrypt: bool) -> np.ndarray:
        radix = np.uint64(self.radix)
        count, n = digits.shape
        v = n - u
        modulus = {u: np.uint64(self.radix**u), v: np.uint64(self.radix**v)}

        def number(part: np.ndarray) -> np.ndarray:
            # NUM_radix(REV(X)): symbol j weighs radix**j.
            weights = radix ** np.arange(part.shape[1], dtype=np.uint64)
            return (part * weights).sum(axis=1, dtype=np.uint64)

        a, b = number(digits[:, :u]), number(digits[:, u:])
        blocks = np.zeros((count, 16), dtype=np.uint8)
        low = blocks[:, :8].view("<u8").reshape(count)
        order = range(_ROUNDS - 1, -1, -1) if decrypt else range(_ROUNDS)
        for i, tweak in zip(order, self._round_tweaks(order), strict=True):
            m = modulus[u if i % 2 == 0 else v]
            # REVB(P): the 12-byte number little-endian first, then the reversed tweak.
            low[:] = a if decrypt else b
            blocks[:, 12:] = np.frombuffer(tweak, dtype=np.uint8)
            limbs = np.frombuffer(self._aes_blocks(blocks.tobytes()), dtype="<u4").reshape(count, 4)
            y = limbs[:, 3].astype(np.uint64) % m
            for limb in (2, 1, 0):
                y = ((y << np.uint64(32)) + limbs[:, limb]) % m
            if decrypt:
                c = (b + m - y) % m
                a, b = c, a
            else:
                c = (a + y) % m
                a, b = b, c
        out = np.empty((count, n), dtype=np.uint64)
        for j in range(u):
            out[:, j] = a % radix
            a = a // radix
        for j in range(v):
            out[:, u + j] = b % radix
            b = b // radix
        return out.astype(digits.dtype if digits.dtype != np.uint64 else np.int64)

    def _run_exact(self, digits: np.ndarray, u: int, decrypt: bool) -> np.ndarray:
        radix = self.radix
        count, n = digits.shape
        v = n - u
        rows = digits.astype(np.int64).tolist()
        a = [sum(d * radix**j for j, d in enumerate(row[:u])) for row in rows]
        b = [sum(d * radix**j for j, d in enumerate(row[u:])) for row in rows]
        order = range(_ROUNDS - 1, -1, -1) if decrypt else range(_ROUNDS)
        for i, tweak in zip(order, self._round_tweaks(order), strict=True):
            m = radix ** (u if i % 2 == 0 else v)
            source = a if decrypt else b
            blocks = b"".join(x.to_bytes(12, "little") + tweak for x in source)
            out = self._aes_blocks(blocks)
            ys = [int.from_bytes(out[16 * k : 16 * k + 16], "little") for k in range(count)]
            if decrypt:
                a, b = [(bb - y) % m for bb, y in zip(b, ys, strict=True)], a
            else:
                a, b = b, [(aa + y) % m for aa, y in zip(a, ys, strict=True)]
        result = np.empty((count, n), dtype=np.int64)
        for k in range(count):
            x, z = a[k], b[k]
            for j in range(u):
                x, result[k, j] = divmod(x, radix)
            for j in range(v):
                z, result[k, u + j] = divmod(z, radix)
        return result
