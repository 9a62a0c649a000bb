"""Text folding shared by keyed tokens and record linkage: one value, one form.

``"Straße"``, ``"STRASSE"``, ``"strasse"`` (full case folding), ``"é"`` composed or
decomposed (Unicode normalization), ``"ａｎｎ"`` and ``"ann"`` (compatibility forms) and
``"ann  lee"`` and ``" ann lee "`` (blanks) each fold to one text.
"""

from __future__ import annotations

import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["fold_array", "fold_text"]

_BLANKS = re.compile(r"\s+")
# Python's \s restricted to ASCII (str.isspace): RE2's \s lacks \v and \x1c-\x1f.
_ASCII_BLANKS = r"[\t\n\x0b\x0c\r\x1c-\x1f ]+"


def fold_text(value: str, *, accents: bool = True) -> str:
    """NFKC, full case folding and collapsed, trimmed blanks.

    With ``accents=False`` accents are stripped too (NFKD without combining marks), as
    record linkage wants: ``"José"`` and ``"Jose"`` are then one name.
    """
    if accents:
        # Case folding can leave text that is not NFKC again (e.g. "ǰ"), so normalize twice.
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    else:
        decomposed = unicodedata.normalize("NFKD", value)
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _BLANKS.sub(" ", folded).strip()


def fold_array(values: pa.Array) -> pa.Array:
    """:func:`fold_text` (accents kept) over a string array; nulls stay null.

    ASCII values, most ids and emails, are folded by Arrow kernels (for ASCII, lower
    case is the case folding and NFKC changes nothing); the others go through Python.
    """
    ascii_ = pc.string_is_ascii(values)
    fast = pc.utf8_trim(pc.replace_substring_regex(pc.ascii_lower(values), _ASCII_BLANKS, " "), " ")
    slow_rows = pc.and_kleene(pc.invert(ascii_), pc.is_valid(values))
    if not pc.any(slow_rows).as_py():
        return fast.cast(pa.string())
    out = fast.cast(pa.string()).to_pylist()
    for i, value in enumerate(values.to_pylist()):
        if value is not None and not value.isascii():
            out[i] = fold_text(value)
    return pa.array(out, pa.string())
