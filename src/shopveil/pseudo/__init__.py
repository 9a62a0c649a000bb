"""Pseudonymization: keyed tokens, format-preserving encryption, private record linkage,
and consistent pseudonyms for PII in chat messages."""

from shopveil._core.prf import hmac_sha256_array, kernel_name
from shopveil.pseudo._chat import (
    ChatRedactor,
    Conversation,
    TextAction,
    TextPolicy,
    redact_columns,
)
from shopveil.pseudo._erasable import ErasableToken
from shopveil.pseudo._fpe import FormatPreservingEncrypt, luhn_valid
from shopveil.pseudo._free_text import RedactText, redact_messages
from shopveil.pseudo._linkage import (
    ClkEncoder,
    ClkHashing,
    LinkQuality,
    LinkResult,
    exact_match,
    link_quality,
    link_tables,
    match_clks,
)
from shopveil.pseudo._rotation import retokenize, token_rotation_map
from shopveil.pseudo._tokens import KeyedToken, Normalization, hmac_sha256_batch
from shopveil.pseudo._typos import LinkTestSet, add_typos, link_test_set

__all__ = [
    "ChatRedactor",
    "ClkEncoder",
    "ClkHashing",
    "Conversation",
    "ErasableToken",
    "FormatPreservingEncrypt",
    "KeyedToken",
    "LinkQuality",
    "LinkResult",
    "LinkTestSet",
    "Normalization",
    "RedactText",
    "TextAction",
    "TextPolicy",
    "add_typos",
    "exact_match",
    "hmac_sha256_array",
    "hmac_sha256_batch",
    "kernel_name",
    "link_quality",
    "link_tables",
    "link_test_set",
    "luhn_valid",
    "match_clks",
    "redact_columns",
    "redact_messages",
    "retokenize",
    "token_rotation_map",
]
