"""Check digits and shapes of card numbers and national ids.

Each check takes the value with its separators removed and says whether it is a
well-formed id: a payment card of a known brand and length (Luhn), a US social security
number (the blocks the SSA never issues), a UK National Insurance number (the prefixes
HMRC never allocates), a Brazilian CPF (two mod-11 check digits) and a Chinese resident
identity number (ISO 7064 MOD 11-2 check character and a real birth date).
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["card_brand_ok", "china_id_ok", "cpf_ok", "luhn_digits_ok", "ssn_ok", "uk_nino_ok"]

# Issuer prefixes (IIN ranges) and the lengths each brand issues, after ISO/IEC 7812 and
# the brands' published tables. Longest prefix first within a brand does not matter: a
# number is accepted when any range admits its prefix and length.
_BRANDS: tuple[tuple[tuple[int, int], frozenset[int]], ...] = (
    ((4, 4), frozenset({13, 16, 19})),  # Visa
    ((51, 55), frozenset({16})),  # Mastercard
    ((2221, 2720), frozenset({16})),  # Mastercard 2-series
    ((34, 34), frozenset({15})),  # American Express
    ((37, 37), frozenset({15})),
    ((6011, 6011), frozenset({16, 17, 18, 19})),  # Discover
    ((644, 649), frozenset({16, 17, 18, 19})),
    ((65, 65), frozenset({16, 17, 18, 19})),
    ((622126, 622925), frozenset({16, 17, 18, 19})),  # Discover / UnionPay co-brand
    ((300, 305), frozenset(range(14, 20))),  # Diners Club International
    ((36, 36), frozenset(range(14, 20))),
    ((38, 39), frozenset(range(16, 20))),
    ((3528, 3589), frozenset(range(16, 20))),  # JCB
    ((62, 62), frozenset(range(16, 20))),  # UnionPay
    ((50, 50), frozenset(range(12, 20))),  # Maestro
    ((56, 69), frozenset(range(12, 20))),
    ((2200, 2204), frozenset(range(16, 20))),  # Mir
    ((60, 60), frozenset({16})),  # RuPay
    ((81, 82), frozenset({16})),
    ((508, 508), frozenset({16})),
    ((9792, 9792), frozenset({16})),  # Troy
    ((1, 1), frozenset({15})),  # UATP
)


def luhn_digits_ok(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn mod-10 check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand_ok(digits: str) -> bool:
    """True when ``digits`` has the prefix and length of a card brand that issues it."""
    length = len(digits)
    if digits.startswith("0604") and 12 <= length <= 19:
        return True  # Maestro's one prefix with a leading zero
    for (low, high), lengths in _BRANDS:
        width = len(str(low))
        if length in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def ssn_ok(digits: str) -> bool:
    """True for a 9-digit US SSN outside the never-issued blocks (000, 666, 9xx; 00; 0000)."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$")
_NINO_NEVER = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def uk_nino_ok(compact: str) -> bool:
    """True for a UK National Insurance number (upper case, no spaces) HMRC can allocate."""
    return bool(_NINO.match(compact)) and compact[:2] not in _NINO_NEVER


def cpf_ok(digits: str) -> bool:
    """True for an 11-digit Brazilian CPF whose two mod-11 check digits are right."""
    if len(digits) != 11 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    numbers = [ord(char) - 48 for char in digits]
    for size in (9, 10):
        total = sum(value * (size + 1 - i) for i, value in enumerate(numbers[:size]))
        check = total * 10 % 11 % 10
        if check != numbers[size]:
            return False
    return True


_CHINA_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHINA_CHECK = "10X98765432"


def china_id_ok(compact: str) -> bool:
    """True for an 18-character Chinese resident id: region, a real birth date, MOD 11-2."""
    if len(compact) != 18 or not compact[:17].isdigit() or compact[17] not in "0123456789X":
        return False
    if compact[0] not in "123456789":
        return False
    try:
        born = dt.date(int(compact[6:10]), int(compact[10:12]), int(compact[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= 2100:
        return False
    total = sum(int(char) * weight for char, weight in zip(compact, _CHINA_WEIGHTS, strict=False))
    return _CHINA_CHECK[total % 11] == compact[17]
