"""Format-preserving encryption as an operator: a card stays a card, a phone a phone.

The symbols of each value that belong to ``alphabet`` are enciphered with FF3-1; the
characters listed in ``passthrough`` (spaces, dashes, a leading ``+``) stay where they
are, so ``+44 7700 900123`` becomes another ``+44 …`` number of the same layout and a
16-digit card stays 16 digits (with a valid Luhn check digit when ``luhn=True``).
Anything else is refused, never silently altered. Unlike a keyed token, FPE is
reversible with the key: :meth:`FormatPreservingEncrypt.decrypt` is for the purposes
allowed to re-identify.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.luhn import luhn_check_digits, luhn_valid
from shopveil._core.operators import OperatorContext
from shopveil._core.reidentify import DEFAULT_REIDENTIFY_PURPOSES, require_reidentify
from shopveil.errors import ParameterError, SchemaError
from shopveil.pseudo._ff3 import FF3Key, length_limits

__all__ = ["FormatPreservingEncrypt", "luhn_valid"]

_DIGITS = "0123456789"
_MAX_CHARS = 256  # longer values cannot be FF3-1 messages plus a sane amount of layout


@dataclass(frozen=True)
class FormatPreservingEncrypt:
    """Encrypt values with FF3-1 (AES-256) while keeping their length and layout.

    Parameters
    ----------
    alphabet
        The symbols that are enciphered (digits by default). Order matters: it fixes
        the mapping between symbols and numbers.
    passthrough
        Characters kept in place. Any other character is an error.
    luhn
        Treat the last digit as a Luhn check digit: encrypt the others and recompute it,
        so a card number stays a valid card number. Needs the digit alphabet.
    keep_first
        Leading symbols kept in clear (a country code, a card's issuer prefix).
    domain
        The key's context; columns sharing a domain encrypt alike. Defaults to the column.
    version
        Key version. FPE output has no room for it: record it in the policy.
    """

    name: ClassVar[str] = "fpe"

    alphabet: str = _DIGITS
    passthrough: str = " -+()./:#_"
    luhn: bool = False
    keep_first: int = 0
    domain: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.alphabet, str) or len(set(self.alphabet)) != len(self.alphabet):
            raise ParameterError(
                "alphabet must be a string of distinct characters, e.g. '0123456789'"
            )
        if not 2 <= len(self.alphabet) <= 2**16:
            raise ParameterError(f"alphabet needs 2 to 65536 symbols, got {len(self.alphabet)}")
        if not isinstance(self.passthrough, str) or set(self.passthrough) & set(self.alphabet):
            raise ParameterError("passthrough must be a string sharing no character with alphabet")
        if not isinstance(self.luhn, bool):
            raise ParameterError(f"luhn must be true or false, got {self.luhn!r}")
        if self.luhn and self.alphabet != _DIGITS:
            raise ParameterError("luhn=True needs alphabet='0123456789'")
        for name, low in (("keep_first", 0), ("version", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.domain is not None and not str(self.domain).strip():
            raise ParameterError("domain must be a non-empty name, e.g. 'card_number'")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        return self._transform(values, context, decrypt=False)

    def decrypt(
        self,
        values: pa.Array,
        context: OperatorContext,
        *,
        reidentify_purposes: Collection[str] = DEFAULT_REIDENTIFY_PURPOSES,
    ) -> pa.Array:
        """Recover the values :meth:`apply` encrypted under the same context.

        Decryption re-identifies, so the context's purpose must be one of
        ``reidentify_purposes`` (the vault's rule and default: fulfilment, support).

        Raises
        ------
        AccessDenied
            The purpose may not re-identify; nothing is decrypted.
        """
        require_reidentify(context.purpose, reidentify_purposes, "format-preserving ciphertext")
        return self._transform(values, context, decrypt=True)

    def _key(self, context: OperatorContext) -> FF3Key:
        keys = context.require_keys()
        label = f"fpe:{self.domain or context.column}"
        key = keys.derive(context.purpose, label, version=self.version)
        tweak = keys.derive(context.purpose, label + ":tweak", version=self.version)[:7]
        return FF3Key(key, tweak, len(self.alphabet))

    def _transform(self, values: pa.Array, context: OperatorContext, *, decrypt: bool) -> pa.Array:
        column = context.column
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            if pa.types.is_integer(values.type) or pa.types.is_null(values.type):
                values = pc.cast(values, pa.string())
            else:
                raise SchemaError(
                    f"column {column!r} holds {values.type}; FPE needs text or integers "
                    "(decode bytes to UTF-8 first)"
                )
        key = self._key(context)
        lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
        lengths = np.nan_to_num(lengths.astype(np.float64)).astype(np.int64)
        if len(values) == 0 or lengths.max(initial=0) == 0:
            return values.cast(pa.string())
        if lengths.max() > _MAX_CHARS:
            raise SchemaError(
                f"column {column!r}: {int((lengths > _MAX_CHARS).sum())} values are longer "
                f"than {_MAX_CHARS} characters; FPE is for short identifiers"
            )
        text = np.array(pc.fill_null(values, "").to_pylist(), dtype=f"<U{lengths.max()}")
        points = text.view(np.uint32).reshape(len(text), -1)
        if not np.array_equal((points != 0).sum(axis=1), lengths):
            raise SchemaError(f"column {column!r} holds NUL characters; FPE cannot keep them")
        points = self._encipher(points, lengths, key, column, decrypt=decrypt)
        out = pa.array(points.view(text.dtype).reshape(-1), pa.string())
        if values.null_count:
            out = pc.if_else(pc.is_valid(values), out, pa.scalar(None, pa.string()))
        return out

    def _encipher(
        self, points: np.ndarray, lengths: np.ndarray, key: FF3Key, column: str, *, decrypt: bool
    ) -> np.ndarray:
        alphabet = np.array([ord(c) for c in self.alphabet], dtype=np.uint32)
        # One lookup table over the code points present: symbol index, -1 kept, -2 refused.
        size = int(max(points.max(), alphabet.max())) + 1
        lut = np.full(size, -2, dtype=np.int32)
        lut[[ord(c) for c in self.passthrough if ord(c) < size] + [0]] = -1
        lut[alphabet] = np.arange(len(alphabet), dtype=np.int32)
        symbol = lut[points]
        is_symbol = symbol >= 0
        bad_rows = int((symbol == -2).any(axis=1).sum())
        if bad_rows:
            raise SchemaError(
                f"column {column!r}: {bad_rows} values hold characters outside the FPE alphabet "
                f"({self.alphabet[:12]!r}…) and passthrough ({self.passthrough!r}); add them "
                "to passthrough or clean the column"
            )
        counts = is_symbol.sum(axis=1)
        minlen, maxlen = length_limits(len(self.alphabet))
        reserved = self.keep_first + (1 if self.luhn else 0)
        out = points.copy()
        for n_symbols in np.unique(counts):
            if n_symbols == 0:
                continue  # nothing to encipher: an empty value stays empty
            rows = np.flatnonzero(counts == n_symbols)
            usable = int(n_symbols) - reserved
            luhn_note = " and the Luhn digit" if self.luhn else ""
            if not minlen <= usable <= maxlen:
                raise SchemaError(
                    f"column {column!r}: {len(rows)} values have {n_symbols} symbols, which "
                    f"leaves {usable} to encrypt; FF3-1 needs {minlen} to {maxlen} "
                    f"(after keep_first={self.keep_first}{luhn_note})"
                )
            cols = np.nonzero(is_symbol[rows])[1].reshape(len(rows), int(n_symbols))
            digits = symbol[rows[:, None], cols].astype(np.int64)
            if self.luhn:
                invalid = int((~luhn_valid(digits)).sum())
                if invalid:
                    raise SchemaError(
                        f"column {column!r}: {invalid} values fail the Luhn check; "
                        "pass luhn=false to encrypt every digit"
                    )
            end = int(n_symbols) - (1 if self.luhn else 0)
            part = digits[:, self.keep_first : end]
            digits[:, self.keep_first : end] = key.decrypt(part) if decrypt else key.encrypt(part)
            if self.luhn:
                digits[:, -1] = luhn_check_digits(digits[:, :-1])
            out[rows[:, None], cols] = alphabet[digits]
        return out
