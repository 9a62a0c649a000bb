"""Where DP noise gets its randomness: raw 64-bit words, a CSPRNG keystream by default.

The default source is AES-256 in counter mode under a fresh key from :mod:`secrets`:
a cryptographically secure keystream at GB/s. A caller may pass a NumPy
``Generator`` instead (``shopveil.insecure_seeded_rng(seed)`` for reproducible tests,
which warns); its bit generator's raw words are used as they are.
"""

from __future__ import annotations

import secrets
import warnings
from typing import Protocol

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shopveil._core.rng import InsecureRandomnessWarning
from shopveil.errors import ParameterError

__all__ = ["AesCtrBits", "GeneratorBits", "RandomBits", "Rng", "as_bits"]


class RandomBits(Protocol):
    """A source of independent, uniform 64-bit words."""

    def words(self, n: int) -> np.ndarray:
        """``n`` uniform ``uint64`` words."""
        ...


class AesCtrBits:
    """AES-256-CTR keystream under a key drawn from :mod:`secrets`.

    A given ``key`` makes the stream reproducible, hence predictable: it warns with
    :class:`~shopveil._core.rng.InsecureRandomnessWarning`, like a seeded generator.
    """

    def __init__(self, key: bytes | None = None) -> None:
        if key is None:
            key = secrets.token_bytes(32)
        else:
            warnings.warn(
                "AesCtrBits with a fixed key is reproducible and predictable; "
                "do not use it for a release",
                InsecureRandomnessWarning,
                stacklevel=2,
            )
        if len(key) != 32:
            raise ParameterError(f"AesCtrBits needs a 32-byte key, got {len(key)} bytes")
        self._encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()

    def words(self, n: int) -> np.ndarray:
        """``n`` uniformly random 64-bit words from the keystream."""
        stream = self._encryptor.update(bytes(8 * n))
        return np.frombuffer(stream, dtype=np.uint64).copy()


class GeneratorBits:
    """Raw words of a NumPy generator's bit generator."""

    def __init__(self, generator: np.random.Generator) -> None:
        self._bit_generator = generator.bit_generator

    def words(self, n: int) -> np.ndarray:
        return np.asarray(self._bit_generator.random_raw(n), dtype=np.uint64)


Rng = np.random.Generator | RandomBits | None


def as_bits(rng: Rng) -> RandomBits:
    """The random source for ``rng=``: a fresh CSPRNG keystream when ``None``."""
    if rng is None:
        return AesCtrBits()
    if isinstance(rng, np.random.Generator):
        return GeneratorBits(rng)
    return rng
