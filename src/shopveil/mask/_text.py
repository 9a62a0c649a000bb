"""Values as UTF-8 text, with a clear error for bytes that are not text."""

from __future__ import annotations

import pyarrow as pa

from shopveil.errors import SchemaError

__all__ = ["as_text"]


def as_text(values: pa.Array, column: str) -> pa.Array:
    """``values`` as a string array; bytes that are not UTF-8 are refused, not mangled."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_string(values.type):
        return values
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        raise SchemaError(
            f"column {column!r} holds bytes that are not UTF-8 text; decode it first "
            "(or tokenize it, which works on raw bytes)"
        ) from None
    except pa.ArrowNotImplementedError:
        raise SchemaError(f"column {column!r} holds {values.type}, which is not text") from None
