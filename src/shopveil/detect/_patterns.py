"""Value patterns and the checksums that confirm them, scalar and vectorized.

The regular expressions here are written in the subset that Python's ``re`` (with
``re.ASCII``) and RE2 (pyarrow.compute) read the same way, so a pattern matched over a
whole Arrow array finds what :func:`find_text_pii` finds in one string.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.luhn import luhn_valid
from shopveil.detect._ids import card_brand_ok, luhn_digits_ok

__all__ = [
    "CARD_CANDIDATE",
    "EMAIL",
    "IBAN_CANDIDATE",
    "IBAN_LENGTHS",
    "IPV4",
    "IPV6",
    "card_mask",
    "iban_mask",
    "iban_ok",
    "luhn_ok",
]

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"\b(?:{_OCTET}\.){{3}}{_OCTET}\b"

_HEX = r"[0-9A-Fa-f]{1,4}"
# Full eight-group form, or a compressed form with "::" and at least two groups.
IPV6 = (
    rf"\b(?:{_HEX}:){{7}}{_HEX}\b"
    rf"|\b(?:{_HEX}:){{1,6}}:{_HEX}(?::{_HEX}){{0,5}}\b"
)

# 12 to 19 digits, single spaces or dashes allowed between them.
CARD_CANDIDATE = r"\b[0-9](?:[ -]?[0-9]){11,18}\b"
IBAN_CANDIDATE = r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"

# IBAN length per country (ISO 13616 registry), so a grouped IBAN followed by more
# capitals or digits is cut at the right place before its checksum is tested.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` (digits only, 12 to 19 of them, not all zero) passes Luhn."""
    if not 12 <= len(digits) <= 19 or not digits.isascii() or not digits.isdigit():
        return False
    if digits.count("0") == len(digits):
        return False
    return luhn_digits_ok(digits)


def iban_ok(compact: str) -> bool:
    """True when ``compact`` (no spaces, upper case) is an IBAN with a valid mod-97 check."""
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    country = compact[:2]
    if not country.isalpha() or not compact[2:4].isdigit():
        return False
    expected = IBAN_LENGTHS.get(country)
    if expected is not None and len(compact) != expected:
        return False
    remainder = 0
    for char in compact[4:] + compact[:4]:
        if char.isdigit():
            remainder = (remainder * 10 + ord(char) - 48) % 97
        else:
            remainder = (remainder * 100 + ord(char) - 55) % 97
    return remainder == 1


def _char_matrix(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned byte matrix of ASCII strings no longer than ``width`` (zero padded),
    and the mask of rows that fit; longer or non-ASCII rows are left out."""
    values = values.cast(pa.large_string())
    lengths = pc.fill_null(pc.binary_length(values), 0).to_numpy(zero_copy_only=False)
    fits = (lengths > 0) & (lengths <= width)
    buffers = values.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[values.offset :]
    buffer = buffers[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    matrix = np.zeros((len(values), width), dtype=np.uint8)
    rows = np.flatnonzero(fits)
    for column in range(width):
        # Column ``column`` of a right-aligned row holds the byte at end - (width - column).
        take = rows[lengths[rows] >= width - column]
        if take.size == 0:
            continue
        ends = offsets[take + 1].astype(np.int64)
        matrix[take, column] = data[ends - (width - column)]
    return matrix, fits


def card_mask(values: pa.Array) -> np.ndarray:
    """For each value: is it, once spaces and dashes are removed, a Luhn-valid card number?

    12 digits count only with a brand's prefix (Maestro): Luhn alone passes one number in
    ten, as it does in text.
    """
    digits = pc.replace_substring_regex(values.cast(pa.large_string()), r"[ -]", "")
    shape = pc.fill_null(pc.match_substring_regex(digits, r"^[0-9]{12,19}$"), False)
    result = shape.to_numpy(zero_copy_only=False).copy()
    if not result.any():
        return result
    # Only values of the right shape go through the checksum.
    matrix, _ = _char_matrix(digits.filter(shape), 19)
    numbers = matrix.astype(np.int64) - 48
    numbers[matrix == 0] = 0
    valid = luhn_valid(numbers) & numbers.any(axis=1)
    candidates = digits.filter(shape).to_pylist()
    short = np.fromiter((len(d) == 12 for d in candidates), dtype=bool, count=len(candidates))
    for at in np.flatnonzero(valid & short):
        valid[at] = card_brand_ok(candidates[at])
    result[result] = valid
    return result


def iban_mask(values: pa.Array) -> np.ndarray:
    """For each value: is it, once spaces are removed, an IBAN with a valid mod-97 check?"""
    compact = pc.utf8_upper(pc.replace_substring(values.cast(pa.large_string()), " ", ""))
    shape = pc.fill_null(
        pc.match_substring_regex(compact, r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"), False
    )
    result = shape.to_numpy(zero_copy_only=False).copy()
    if not result.any():
        return result
    compact = compact.filter(shape)
    # Move the first four characters to the end, then fold digit by digit (letters are
    # two digits, A=10 ... Z=35); every intermediate value stays below 97 * 100.
    rotated = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(compact, 4),
        pc.utf8_slice_codeunits(compact, 0, 4),
        pa.scalar("", pa.large_string()),
    )
    matrix, _ = _char_matrix(rotated, 34)
    remainder = np.zeros(len(compact), dtype=np.int64)
    for column in range(matrix.shape[1]):
        chars = matrix[:, column].astype(np.int64)
        is_digit = (chars >= 48) & (chars <= 57)
        is_letter = (chars >= 65) & (chars <= 90)
        remainder = np.where(is_digit, (remainder * 10 + chars - 48) % 97, remainder)
        remainder = np.where(is_letter, (remainder * 100 + chars - 55) % 97, remainder)
    lengths = pc.utf8_length(compact).to_numpy(zero_copy_only=False)
    known = pa.array(list(IBAN_LENGTHS), pa.large_string())
    index = pc.index_in(pc.utf8_slice_codeunits(compact, 0, 2), value_set=known)
    index_np = pc.fill_null(index, -1).to_numpy(zero_copy_only=False)
    expected = np.append(np.array(list(IBAN_LENGTHS.values()), dtype=np.int64), -1)[index_np]
    length_ok = (index_np == -1) | (expected == lengths)
    result[result] = (remainder == 1) & length_ok
    return result


def compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled for Python with the same ASCII semantics RE2 gives it."""
    return re.compile(pattern, re.ASCII)
