"""One canonical form for subject ids, shared by the ledger, the vault, erasure and opt-out.

A customer id arrives as ``17850``, ``"17850"``, ``" 17850 "`` or ``"17850.0"`` (UCI
Online Retail stores ids as float strings). All of them are one person, so every place
that keys anything by a person first turns the id into its canonical text:

- ``IdType.INTEGER``: a whole number written in base 10, with leading zeros, a ``+``
  and a zero fraction dropped (``"017850"``, ``17850.0`` and ``"17850.00"`` are
  ``"17850"``); anything else is refused.
- ``IdType.STRING``: Unicode NFKC, surrounding white space trimmed, inner runs of white
  space folded to one space. Case is kept: ``"AB12"`` and ``"ab12"`` stay two ids.
- ``IdType.AUTO`` (the default): an id that reads as an integer is one, else a string.
"""

from __future__ import annotations

import math
import re
import unicodedata
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from shopveil.errors import ParameterError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["IdType", "SubjectFilter", "canonical_id", "canonical_ids"]

# White space as str.isspace() knows it, written out so Python's re and Arrow's RE2 agree.
_SPACES = "[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
# A whole number as text: sign, digits, optionally a fraction of zeros ("17850.0").
_INTEGRAL = r"^[+-]?[0-9]+(\.0*)?$"


class IdType(StrEnum):
    """How a dataset's subject ids are written."""

    AUTO = "auto"
    INTEGER = "integer"
    STRING = "string"


class SubjectFilter(Protocol):
    """Whose rows one use of the data may read: the consent register's answer for a purpose.

    Techniques below the governance layer (DP queries, training) take one and drop the
    rows of the subjects it does not allow before anything is computed.
    """

    @property
    def requires_grant(self) -> bool:
        """True when only a recorded grant allows a subject (the law asks for consent):
        rows without a subject id, and ids with no record, are then left out."""
        ...

    def allowed(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """One bool per id (nulls included): True where that subject's rows may be used."""
        ...

    def describe(self) -> str:
        """One line for an answer's notes: the purpose, the law and what it asks."""
        ...


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
    text = re.sub(_SPACES, " ", unicodedata.normalize("NFKC", value)).strip(" ")
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
    if not re.fullmatch(_INTEGRAL, text):
        return None
    return str(int(text.split(".", 1)[0]))


def canonical_ids(values: pa.Array | pa.ChunkedArray, id_type: IdType = IdType.AUTO) -> pa.Array:
    """:func:`canonical_id` of every value of an Arrow array, as a string array.

    Vectorized, for millions of ids. Nulls, empty text and values that are not ids of
    ``id_type`` (a fractional number, text where integers are declared) come out null:
    the caller decides whether that is an error (registering data) or an excluded row
    (a release).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    id_type = IdType(id_type)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_integer(kind):
        out = pc.cast(values, pa.string()) if id_type is not IdType.STRING else None
        return out if out is not None else pa.nulls(len(values), pa.string())
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        if id_type is IdType.STRING:
            return pa.nulls(len(values), pa.string())
        as_float = pc.cast(values, pa.float64())
        whole = pc.and_(pc.is_finite(as_float), pc.equal(as_float, pc.floor(as_float)))
        whole = pc.and_(whole, pc.less(pc.abs(as_float), 2.0**63))
        kept = pc.if_else(whole, as_float, None)
        return pc.cast(pc.cast(kept, pa.int64()), pa.string())
    if pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if not pa.types.is_string(kind):
        values = pc.cast(values, pa.string())
    text = pc.utf8_normalize(values, "NFKC")
    text = pc.utf8_trim(pc.replace_substring_regex(text, _SPACES, " "), " ")
    text = pc.if_else(pc.equal(text, ""), None, text)
    if id_type is IdType.STRING:
        return text
    integral = pc.match_substring_regex(text, _INTEGRAL)
    # "+017850.00" -> "17850": drop the zero fraction, the plus sign and leading zeros.
    number = pc.replace_substring_regex(text, r"\.0*$", "")
    number = pc.replace_substring_regex(number, r"^\+", "")
    number = pc.replace_substring_regex(number, r"^(-?)0+([0-9])", r"\1\2")
    number = pc.if_else(pc.equal(number, "-0"), "0", number)
    if id_type is IdType.INTEGER:
        return pc.if_else(integral, number, None)
    return pc.if_else(integral, number, text)
