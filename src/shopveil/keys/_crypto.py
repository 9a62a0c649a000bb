"""The few primitives the keyring builds on: HKDF, HMAC and AES-GCM sealing.

Everything here comes from ``cryptography`` and :mod:`secrets`; nothing from
:mod:`random` or numpy. Inputs to HKDF and HMAC are length-prefixed, so two different
tuples of fields can never encode to the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "KEY_BYTES",
    "InvalidTag",
    "encode_fields",
    "hkdf",
    "hmac_hex",
    "new_key",
    "open_sealed",
    "seal",
]

KEY_BYTES = 32
_NONCE_BYTES = 12
_SEAL_FORMAT = b"\x01"


def new_key() -> bytes:
    """32 fresh bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def encode_fields(*fields: str | bytes | int) -> bytes:
    """Length-prefix each field (type tag, 4-byte length, bytes): an unambiguous encoding."""
    out = bytearray()
    for field in fields:
        if isinstance(field, bool):
            raise TypeError("booleans are not key-derivation fields")
        if isinstance(field, int):
            tag, data = b"i", str(field).encode("ascii")
        elif isinstance(field, str):
            tag, data = b"s", field.encode("utf-8")
        else:
            tag, data = b"b", bytes(field)
        out += tag + len(data).to_bytes(4, "big") + data
    return bytes(out)


def hkdf(ikm: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 of ``ikm`` bound to ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def hmac_hex(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 as 64 lowercase hex characters."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a random nonce; ``aad`` binds the ciphertext to where it is stored."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _SEAL_FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Reverse :func:`seal`. Raises :class:`InvalidTag` for a wrong key, AAD or a changed blob."""
    if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _SEAL_FORMAT:
        raise InvalidTag()
    nonce = blob[1 : 1 + _NONCE_BYTES]
    return AESGCM(key).decrypt(nonce, blob[1 + _NONCE_BYTES :], aad)
