"""Irreversible keyed tokens: HMAC-SHA-256 under a key bound to a purpose and a domain.

A token reads ``tk<version>_<22 base64url characters>`` (132 bits of the MAC), or
``tk<version>n2_…`` when it was made with version-2 case folding (see
:class:`Normalization`). The same
value gets the same token within one purpose and domain (joins survive across tables and
runs); the keys of two purposes are independent HKDF outputs, so tokens made for
``marketing`` cannot be joined with tokens made for ``fulfilment``. Unlike a plain or
salted hash, a dictionary of candidate ids is useless without the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil._core.prf import TOKEN_CHARS, hmac_sha256_batch, hmac_tokens
from shopveil.errors import ParameterError, SchemaError
from shopveil.pseudo._fold import fold_array

__all__ = ["KeyedToken", "Normalization", "hmac_sha256_batch", "token_prefix"]


class Normalization(StrEnum):
    """How a value is canonicalized before it is tokenized.

    ``casefold`` (normalization version 2) folds what people write differently for one
    value: NFKC, full case folding (``ß`` is ``ss``), blanks collapsed and trimmed; its
    tokens read ``tk<version>n2_…``. ``casefold_v1`` is the version-1 folding (lower case
    and trimmed only), kept so that tokens released with it stay reproducible; its
    tokens, like ``exact`` ones, read ``tk<version>_…``. Re-key v1 tokens to v2 with
    :func:`~shopveil.pseudo.token_rotation_map`.
    """

    EXACT = "exact"
    CASEFOLD = "casefold"
    CASEFOLD_V1 = "casefold_v1"


def token_prefix(version: int, normalize: Normalization = Normalization.EXACT) -> str:
    """``tk<version>_``, with ``n2`` before the ``_`` for version-2 case folding."""
    return f"tk{version}n2_" if normalize is Normalization.CASEFOLD else f"tk{version}_"


@dataclass(frozen=True)
class KeyedToken:
    """Replace each value by its keyed token.

    Parameters
    ----------
    domain
        The key's context: columns that share a domain share tokens (``customers.id`` and
        ``orders.customer_id`` both use ``"customer_id"``). Defaults to the column name.
    version
        Key version; it is written into every token.
    normalize
        Canonicalization applied before the MAC.
    """

    name: ClassVar[str] = "token"

    domain: str | None = None
    version: int = 1
    normalize: Normalization = Normalization.EXACT

    def __post_init__(self) -> None:
        if self.domain is not None and not self.domain.strip():
            raise ParameterError("domain must be a non-empty name, e.g. 'customer_id'")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ParameterError(f"version must be an integer >= 1, got {self.version!r}")
        object.__setattr__(self, "normalize", Normalization(self.normalize))

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        key = context.require_keys().derive(
            context.purpose, f"token:{self.domain or context.column}", version=self.version
        )
        prefix = token_prefix(self.version, self.normalize)

        def tokens(text: pa.Array) -> pa.Array:
            if self.normalize is Normalization.CASEFOLD:
                text = fold_array(_utf8(text, context.column, self.normalize))
            elif self.normalize is Normalization.CASEFOLD_V1:
                text = pc.utf8_lower(
                    pc.utf8_trim_whitespace(_utf8(text, context.column, self.normalize))
                )
            return hmac_tokens(key, text, prefix)

        return _per_distinct(_as_text(values), tokens, len(prefix) + TOKEN_CHARS)


_SAMPLE_ROWS = 4096
_MAX_STRING_BYTES = 2**31 - 1  # a string array's int32 offsets


def _per_distinct(values: pa.Array, tokens: Callable[[pa.Array], pa.Array], width: int) -> pa.Array:
    """``tokens`` of each distinct value once, mapped back to the rows with ``take``.

    An id column repeats its ids (a customer's many order lines), and hashing is the cost;
    finding the distinct values costs more than hashing them all when most are distinct,
    so the first rows decide: at most one distinct value in four there, or every row
    is hashed.
    """
    sample = values.slice(0, _SAMPLE_ROWS)
    if (
        len(values) <= _SAMPLE_ROWS
        or 4 * pc.count_distinct(sample, mode="all").as_py() > len(sample)
        or len(values) * width > _MAX_STRING_BYTES  # hmac_tokens says how to batch
    ):
        return tokens(values)
    encoded = pc.dictionary_encode(values)
    return pc.take(tokens(encoded.dictionary), encoded.indices)


def _utf8(values: pa.Array, column: str, normalize: Normalization) -> pa.Array:
    if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        return values
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        raise SchemaError(
            f"column {column!r} holds bytes that are not UTF-8 text, which normalize="
            f"'{normalize}' cannot fold; use normalize='exact' to tokenize the raw bytes"
        ) from None


def _as_text(values: pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        # Raw bytes are tokenized as they are, valid UTF-8 or not; valid text gets the
        # same token as the equal string would.
        return values
    if pa.types.is_floating(values.type):
        # 17850.0 and 17850 are one id: integral floats tokenize like integers.
        as_int = pc.cast(values, pa.int64(), safe=False)
        integral = pc.equal(pc.cast(as_int, values.type), values)
        return pc.if_else(integral, pc.cast(as_int, pa.string()), pc.cast(values, pa.string()))
    return pc.cast(values, pa.string())
