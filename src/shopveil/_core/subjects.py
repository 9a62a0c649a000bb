"""One canonical form for subject ids, shared by the ledger, the vault, erasure and opt-out.

A customer id arrives as ``17850``, ``"17850"``, ``" 17850 "`` or ``"17850.0"`` (UCI
Online Retail stores ids as float strings). All of them are one person, so every place
that keys anything by a person first turns the id into its canonical text:

- ``IdType.INTEGER``: an integral number, written in base 10 without sign noise,
  leading zeros or a fractional part (``"017850"``, ``17850.0`` and ``"1.785e4"`` are
  ``"17850"``); anything else is refused.
- ``IdType.STRING``: Unicode NFKC, surrounding white space trimmed, inner runs of white
  space folded to one space. Case is kept: ``"AB12"`` and ``"ab12"`` stay two ids.
- ``IdType.AUTO`` (the default): an id that reads as an integer is one, else a string.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from shopveil.errors import ParameterError

__all__ = ["IdType", "canonical_id"]

_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class IdType(StrEnum):
    """How a dataset's subject ids are written."""

    AUTO = "auto"
    INTEGER = "integer"
    STRING = "string"


def canonical_id(value: object, id_type: IdType = IdType.AUTO) -> str:
    """The canonical text of subject id ``value``.

    Raises :class:`ParameterError` for a missing id, a boolean, a non-finite number, or
    (with ``IdType.INTEGER``) a value that is not an integral number. The message names
    the id's type, never the id.
    """
    id_type = IdType(id_type)
    if value is None or isinstance(value, bool):
        raise ParameterError(f"a subject id must be a number or text, got {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ParameterError("a numeric subject id must be a finite whole number")
        if id_type is IdType.STRING:
            raise ParameterError("this dataset's subject ids are text, got a number")
        return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="strict")
    if not isinstance(value, str):
        value = str(value)
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()
    if not text:
        raise ParameterError("a subject id must not be empty or only white space")
    if id_type is IdType.STRING:
        return text
    integral = _integral(text)
    if integral is not None:
        return integral
    if id_type is IdType.INTEGER:
        raise ParameterError(
            "this dataset's subject ids are integers, got text that is not a whole number; "
            "declare the id type as string"
        )
    return text


def _integral(text: str) -> str | None:
    if not _NUMBER.fullmatch(text):
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if number != number.to_integral_value() or abs(number.adjusted()) > 30:
        return None
    return str(int(number))
