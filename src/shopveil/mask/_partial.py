"""Partial masking and nulling: show the part a task needs, hide the rest.

A card keeps its last four digits (``**** **** **** 9398``), an email keeps its domain
(``***@gmail.com``), a phone its last digits. Separators stay where they are so the
masked value still reads as what it was.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError
from shopveil.mask._text import as_text

__all__ = ["MaskCard", "MaskEmail", "Nullify", "PartialMask"]


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError(f"{name} must be an integer >= 0, got {value!r}")


def _check_char(char: object) -> None:
    if not isinstance(char, str) or len(char) != 1:
        raise ParameterError(f"char must be one character, e.g. '*', got {char!r}")


@functools.lru_cache(maxsize=1)
def _alnum_table() -> np.ndarray:
    """``str.isalnum`` for every character of the Basic Multilingual Plane."""
    return np.array([chr(p).isalnum() for p in range(0x10000)], dtype=bool)


def _map_distinct(values: pa.Array, transform: object, column: str) -> pa.Array:
    """Apply a Python function to each distinct value once (ids and cards repeat)."""
    text = as_text(values, column)
    encoded = pc.dictionary_encode(text)
    mapped = pa.array([transform(v) for v in encoded.dictionary.to_pylist()], pa.string())  # type: ignore[operator]
    return pc.take(mapped, encoded.indices)


@dataclass(frozen=True)
class PartialMask:
    """Replace every letter and digit by ``char`` except the first and last few.

    Parameters
    ----------
    keep_first, keep_last
        How many letters or digits stay in clear at each end.
    char
        The mask character.
    keep_separators
        Keep spaces, dashes and other punctuation in place (``**** **** **** 9398``).

    A value with no more than ``keep_first + keep_last`` letters and digits is masked
    whole: a short value would otherwise be shown entire.
    """

    name: ClassVar[str] = "partial_mask"

    keep_first: int = 0
    keep_last: int = 4
    char: str = "*"
    keep_separators: bool = True

    def __post_init__(self) -> None:
        _check_count("keep_first", self.keep_first)
        _check_count("keep_last", self.keep_last)
        _check_char(self.char)

    def mask(self, value: str) -> str:
        """Mask one value (the rule :meth:`apply` runs vectorized)."""
        symbols = [i for i, c in enumerate(value) if c.isalnum() or not self.keep_separators]
        shown = set()
        if len(symbols) > self.keep_first + self.keep_last:
            shown = set(symbols[: self.keep_first])
            shown.update(symbols[len(symbols) - self.keep_last :])
        hidden = set(symbols) - shown
        return "".join(self.char if i in hidden else c for i, c in enumerate(value))

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        encoded = pc.dictionary_encode(as_text(values, context.column))
        distinct = encoded.dictionary.to_pylist()
        if not distinct or any("\0" in v for v in distinct):
            # NUL characters do not survive numpy's fixed-width strings: go value by value.
            masked = pa.array([self.mask(v) for v in distinct], pa.string())
        else:
            masked = pa.array(self._mask_all(distinct), pa.string())
        return pc.take(masked, encoded.indices)

    def _mask_all(self, values: list[str]) -> np.ndarray:
        text = np.array(values, dtype=str)
        points = text.view(np.uint32).reshape(len(text), -1)
        present = points != 0
        symbol = _alnum_table()[np.minimum(points, 0xFFFF)] if self.keep_separators else present
        astral = points > 0xFFFF
        if (
            self.keep_separators and astral.any()
        ):  # outside the BMP: ask Python, character by character
            symbol = symbol.copy()
            symbol[astral] = [chr(p).isalnum() for p in points[astral]]
        symbol &= present
        rank = np.cumsum(symbol, axis=1)
        total = rank[:, -1:]
        long_enough = total > self.keep_first + self.keep_last
        shown = symbol & long_enough & ((rank <= self.keep_first) | (rank > total - self.keep_last))
        out = np.where(symbol & ~shown, np.uint32(ord(self.char)), points)
        return out.astype(np.uint32).view(text.dtype).reshape(-1)


@dataclass(frozen=True)
class MaskCard:
    """A payment card showing only its last four digits, separators kept."""

    name: ClassVar[str] = "mask_card"

    keep_last: int = 4
    char: str = "*"

    def __post_init__(self) -> None:
        _check_count("keep_last", self.keep_last)
        _check_char(self.char)
        if self.keep_last > 4:
            # PCI DSS allows at most the first six and last four digits to be shown.
            raise ParameterError(f"keep_last may be at most 4 for a card, got {self.keep_last}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        return PartialMask(keep_last=self.keep_last, char=self.char).apply(values, context)


_EMAIL = re.compile(r"^(?P<local>[^@\s]+)@(?P<domain>[^@\s]+\.[^@\s]+)$")


@dataclass(frozen=True)
class MaskEmail:
    """An email keeping its domain: ``***@gmail.com``.

    The local part becomes ``width`` mask characters (so its length is not shown), after
    ``keep_first`` characters in clear. A value that is not an email is masked whole.
    """

    name: ClassVar[str] = "mask_email"

    keep_first: int = 0
    width: int = 3
    char: str = "*"

    def __post_init__(self) -> None:
        _check_count("keep_first", self.keep_first)
        _check_count("width", self.width)
        _check_char(self.char)

    def mask(self, value: str) -> str:
        """One address masked."""
        match = _EMAIL.match(value.strip())
        if match is None:
            return self.char * self.width
        local = match["local"]
        head = local[: self.keep_first] if len(local) > self.keep_first else ""
        return f"{head}{self.char * self.width}@{match['domain']}"

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        return _map_distinct(values, self.mask, context.column)


@dataclass(frozen=True)
class Nullify:
    """Replace every value by null, keeping the column and its type."""

    name: ClassVar[str] = "null"

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        return pa.nulls(len(values), values.type)
