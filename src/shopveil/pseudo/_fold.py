"""Text folding shared by keyed tokens and record linkage: one value, one form.

``"Straße"``, ``"STRASSE"``, ``"strasse"`` (full case folding), ``"é"`` composed or
decomposed (Unicode normalization), ``"ａｎｎ"`` and ``"ann"`` (compatibility forms) and
``"ann  lee"`` and ``" ann lee "`` (blanks) each fold to one text.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
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
    fast = pc.utf8_trim(pc.ascii_lower(values), " ")
    # Replacing is slow and rarely needed, so look at the bytes first: every ASCII blank
    # but the space is a control byte, and trimmed values cannot put two spaces side by
    # side across a boundary. (A slice's buffer holds more than its values: a false
    # alarm only costs the slow path.)
    data = _bytes(fast)
    if (data < 0x20).any() or ((data[:-1] == 0x20) & (data[1:] == 0x20)).any():
        fast = pc.utf8_trim(pc.replace_substring_regex(fast, _ASCII_BLANKS, " "), " ")
    fast = fast.cast(pa.string())
    if not (_bytes(values) >= 0x80).any():
        return fast
    out = fast.to_pylist()
    for i, value in enumerate(values.to_pylist()):
        if value is not None and not value.isascii():
            out[i] = fold_text(value)
    return pa.array(out, pa.string())


def _bytes(values: pa.Array) -> np.ndarray:
    data = values.buffers()[2]
    return np.zeros(0, np.uint8) if data is None else np.frombuffer(data, dtype=np.uint8)
