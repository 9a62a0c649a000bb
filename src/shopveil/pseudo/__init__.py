"""Pseudonymization: keyed tokens bound to a purpose."""

from shopveil.pseudo._kernel import hmac_sha256_array, kernel_name
from shopveil.pseudo._tokens import KeyedToken, Normalization, hmac_sha256_batch

__all__ = [
    "KeyedToken",
    "Normalization",
    "hmac_sha256_array",
    "hmac_sha256_batch",
    "kernel_name",
]
