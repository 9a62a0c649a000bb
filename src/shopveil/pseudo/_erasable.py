"""Erasable pseudonyms: tokens keyed per subject, so erasing the subject erases them.

A keyed token (``token``) is computed under a purpose key; anyone with the keyring can
recompute an erased customer's token from their id and link it again. An erasable
token is computed under a key derived from the subject's own vault key: after
``shopveil erase`` shreds that key, the token can no longer be recomputed or linked to
the id, and the subject's rows come out null in every later release.

A token reads ``et<version>_<22 base64url characters>`` (132 bits of an HMAC-SHA-256 of
the canonical id). Within one purpose and domain, every spelling of an id (``17850``,
``"17850.0"``, ``" 17850"``) gets one token, stable across runs; purposes and domains
are unlinkable, as with keyed tokens. Apply it to the column that holds the subject's
id (the customer id); each distinct id costs one vault look-up per batch.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from shopveil._core.operators import OperatorContext
from shopveil._core.prf import TOKEN_CHARS
from shopveil._core.subjects import canonical_id
from shopveil.errors import KeyringError, ParameterError, SchemaError

__all__ = ["ErasableToken"]


@dataclass(frozen=True)
class ErasableToken:
    """Replace each subject id by a pseudonym keyed with that subject's vault key.

    Parameters
    ----------
    domain
        The key's context: columns that share a domain share pseudonyms. Defaults to the
        column name.
    version
        Written into every token; a new version gives unlinkable new pseudonyms.
    """

    name: ClassVar[str] = "erasable_token"

    domain: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if self.domain is not None and (
            not isinstance(self.domain, str) or not self.domain.strip()
        ):
            raise ParameterError("domain must be a non-empty name, e.g. 'customer_id'")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ParameterError(f"version must be an integer >= 1, got {self.version!r}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        # On use: a policy names this operator without opening the keyring's store.
        from shopveil.keys import Keyring, encode_fields, pseudonym_keys

        keyring = context.require_keys()
        if not isinstance(keyring, Keyring):
            raise KeyringError(
                f"column {context.column!r} uses erasable_token, whose keys are the vault's "
                "subject keys: run it with the store's keyring (Keyring.open(store))"
            )
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        raw = values.to_pylist()
        canonical: dict[object, str] = {}
        for value in dict.fromkeys(v for v in raw if v is not None):
            try:
                canonical[value] = canonical_id(value)
            except (ParameterError, UnicodeError):
                raise SchemaError(
                    f"column {context.column!r} holds a value that is not a subject id "
                    "(empty, not finite, or not text); erasable_token applies to id columns"
                ) from None
        keys = pseudonym_keys(
            keyring,
            list(dict.fromkeys(canonical.values())),
            purpose=context.purpose,
            domain=self.domain or context.column,
            version=self.version,
        )
        prefix = f"et{self.version}_"
        tokens: dict[str, str | None] = {}
        for subject, key in keys.items():
            if key is None:
                tokens[subject] = None  # erased: nothing to compute it from, ever again
                continue
            mac = hmac.digest(key, encode_fields(subject), "sha256")
            tokens[subject] = prefix + base64.urlsafe_b64encode(mac[:17]).decode()[:TOKEN_CHARS]
        return pa.array([None if v is None else tokens[canonical[v]] for v in raw], pa.string())
