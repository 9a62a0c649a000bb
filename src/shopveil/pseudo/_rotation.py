"""Rotating the key of keyed tokens: re-tokenize a column from version n to version m.

Keyed tokens are one-way, so a dataset that holds only tokens cannot be re-keyed by
itself. The holder of the original ids makes a rotation map once (old token → new token,
:func:`token_rotation_map`); every downstream copy is then re-keyed with
:func:`retokenize`, without ever seeing an original id. Old and new tokens carry their
version (``tk1_…``, ``tk2_…``), so during the switch consumers can tell them apart and
nothing has to stop: rotation needs no downtime.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil.errors import SchemaError, UnknownKeyVersion
from shopveil.pseudo._tokens import KeyedToken

__all__ = ["retokenize", "token_rotation_map"]


def token_rotation_map(
    originals: pa.Array, old: KeyedToken, new: KeyedToken, context: OperatorContext
) -> pa.Table:
    """A two-column table ``old_token → new_token`` for the distinct non-null originals."""
    if (old.version, old.normalize) == (new.version, new.normalize):
        raise SchemaError(
            f"old and new tokens share version {old.version} and normalization "
            f"{old.normalize}; choose a new version or normalization"
        )
    distinct = pc.unique(pc.drop_null(originals))
    return pa.table(
        {
            "old_token": old.apply(distinct, context),
            "new_token": new.apply(distinct, context),
        }
    )


def retokenize(tokens: pa.Array, rotation_map: pa.Table, *, column: str = "token") -> pa.Array:
    """Replace each old token by its new one; nulls stay null.

    Raises
    ------
    UnknownKeyVersion
        A token is not of the map's old version (its prefix says which version it is).
    SchemaError
        A token of the right version is missing from the map (the map was made from other
        data); the message gives the count, never the tokens.
    """
    old, new = rotation_map.column("old_token"), rotation_map.column("new_token")
    valid = pc.drop_null(tokens)
    if len(valid) == 0:
        return tokens.cast(pa.string())
    if len(old) == 0:
        raise SchemaError("the rotation map is empty; make it from the original ids")
    prefix = str(old[0].as_py()).split("_", 1)[0] + "_"
    wrong_version = pc.invert(pc.starts_with(valid.cast(pa.string()), prefix))
    stray = pc.sum(pc.cast(wrong_version, pa.int64())).as_py() or 0
    if stray:
        raise UnknownKeyVersion(
            f"column {column!r}: {stray} tokens are not version {prefix[:-1]} tokens, which "
            f"this map rotates; re-key each version with its own map"
        )
    index = pc.index_in(tokens, value_set=old.combine_chunks())
    missing = pc.sum(pc.cast(pc.and_(pc.is_valid(tokens), pc.is_null(index)), pa.int64()))
    if missing.as_py():
        raise SchemaError(
            f"column {column!r}: {missing.as_py()} tokens are not in the rotation map; "
            "make the map from the original ids these tokens were made from"
        )
    return pc.take(new.combine_chunks(), index)
