"""The contract every record-level operator meets.

A record-level operator is a frozen dataclass (its parameters, validated when it is
made) with one method, ``apply``, that maps an Arrow array to an Arrow array of the same
length. Nulls stay null. Operators never see other columns or other rows' positions, so
the same code runs in one process, in a Spark ``mapInArrow`` job, or in the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Protocol

import pyarrow as pa

from shopveil.errors import KeyringError, SchemaError

__all__ = ["KeySource", "OperatorContext", "RecordOperator", "string_values"]


class KeySource(Protocol):
    """Anything that derives purpose-bound keys (the keyring does)."""

    def derive(self, purpose: str, context: str, *, version: int = 1) -> bytes: ...


@dataclass(frozen=True)
class OperatorContext:
    """What an operator may know about the run it is part of."""

    purpose: str
    column: str
    keys: KeySource | None = field(default=None, repr=False)
    as_of: date = field(default_factory=date.today)

    def require_keys(self) -> KeySource:
        if self.keys is None:
            raise KeyringError(
                f"column {self.column!r} needs a key but the run has no keyring; "
                "open one with Keyring.open(store)"
            )
        return self.keys


class RecordOperator(Protocol):
    """Maps one column's values to their protected form, row for row."""

    name: ClassVar[str]

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array: ...


def string_values(values: pa.Array | pa.ChunkedArray, column: str, needs: str) -> pa.Array:
    """``values`` as one string (or large-string) array; other types are refused with
    a message saying the column ``needs`` (e.g. "free text")."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise SchemaError(f"column {column!r} holds {values.type}, not text; it needs {needs}")
    return values
