"""The simplest operators: keep a value, or redact it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError
from shopveil.mask._text import as_text

__all__ = ["Keep", "Redact", "RedactMode"]


@dataclass(frozen=True)
class Keep:
    """Pass the values through unchanged (for columns a purpose needs in clear)."""

    name: ClassVar[str] = "keep"

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        return values


class RedactMode(StrEnum):
    """What a redaction replaces: the whole value, or only the PII found inside text."""

    VALUE = "value"  # replace the whole value
    SPANS = "spans"  # replace only the PII found inside free text


@dataclass(frozen=True)
class Redact:
    """Replace values, or the PII spans inside free text, with a placeholder.

    In ``spans`` mode each detected span becomes ``[KIND]`` (``[EMAIL]``, ``[PHONE]``, …)
    and the rest of the text is kept, so a support transcript stays readable.
    """

    name: ClassVar[str] = "redact"

    mode: RedactMode = RedactMode.VALUE
    replacement: str = "[REDACTED]"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", RedactMode(self.mode))
        if not isinstance(self.replacement, str):
            raise ParameterError(f"replacement must be text, got {type(self.replacement).__name__}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        if self.mode is RedactMode.SPANS:
            from shopveil.detect import redact_text

            return redact_text(as_text(values, context.column))
        placeholder = pa.scalar(self.replacement, pa.string())
        return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), placeholder)
