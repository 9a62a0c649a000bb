"""Structured PII in free text that a shape alone does not prove: national ids, dates of
birth, ages, postcodes, order and loyalty numbers.

Ids with a check (SSN blocks, UK NI prefixes, CPF and Chinese resident id check digits)
are accepted in their written forms; the same digits bare, and values with no check at
all (dates of birth, ages, ZIP codes, order numbers), are accepted only after a context
word that says what they are ("born", "aged", "zip", "order no."). Each stage yields
``(start, end, kind)`` over the value alone, not its context word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from shopveil._core import Kind
from shopveil.detect._ids import china_id_ok, cpf_ok, ssn_ok, uk_nino_ok

__all__ = ["CONTEXT_WORDS", "STRUCTURED_STAGES"]

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:[0-9]{4}[./-][0-9]{1,2}[./-][0-9]{1,2}"
    r"|[0-9]{1,2}[./-][0-9]{1,2}[./-](?:[0-9]{4}|[0-9]{2})"
    rf"|[0-9]{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS},?\s+[0-9]{{4}}"
    rf"|{_MONTHS}\s+[0-9]{{1,2}}(?:st|nd|rd|th)?,?\s+[0-9]{{4}}"
    r"|(?<=in\s)[0-9]{4})"
)
_US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR",
)  # fmt: skip

# Context words any stage here needs, for the RE2 pre-filter of ``redact_text``.
CONTEXT_WORDS = (
    "ssn", "social security", "cpf", "born", "dob", "d.o.b", "birth", "birthday", "age",
    "aged", "old", "yo", "y/o", "zip", "postcode", "post code", "postal", "plz", "cep",
    "order", "invoice", "tracking", "shipment", "parcel", "booking", "loyalty", "member",
    "membership", "rewards", "club",
)  # fmt: skip

_SSN = re.compile(
    r"(?<![\w-])(?P<v>[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4})(?![\w-])"
    r"|(?i:\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\b[\s:#]*(?:is\s+)?)"
    r"(?P<w>[0-9]{9})\b",
    re.ASCII,
)
_NINO = re.compile(
    r"\b(?P<v>[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D])\b",
    re.ASCII,
)
_CPF = re.compile(
    r"(?<![\w.-])(?P<v>[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2})(?![\w-])"
    r"|(?i:\bcpf\b[\s:#]*(?:is\s+)?)(?P<w>[0-9]{11}|[0-9]{9}-[0-9]{2})\b",
    re.ASCII,
)
_CHINA = re.compile(r"(?<![\w-])(?P<v>[1-9][0-9]{16}[0-9Xx])(?![\w-])", re.ASCII)
_BIRTH = re.compile(
    r"(?i:\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday)"
    r"(?:\s+(?:is|was))?[\s:,-]*)"
    rf"(?P<v>(?i:{_DATE}))(?![\w/.-][0-9])",
)
_AGE = re.compile(
    r"(?<![\w.,-])(?P<v>[0-9]{1,3})(?:\s*-\s*|\s+)(?i:years?|yrs?)[\s-]*(?i:old)\b"
    r"|(?<![\w.,-])(?P<w>[0-9]{1,3})\s*(?i:y/?o)\b"
    r"|(?i:\b(?:aged?|age\s*(?:is|:|of)|i\s+am|i'm|turned|turning)\s*:?\s*)"
    r"(?P<x>[0-9]{1,3})(?![\w/%-]|[.,][0-9]|\s+(?i:years?\s+(?!old)|[a-z]*s\b|%))",
)
_UK_POSTCODE = re.compile(
    r"\b(?P<v>GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][A-HJKPSTUW0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2})\b",
    re.ASCII,
)
_US_ZIP = re.compile(
    rf"\b(?:{'|'.join(_US_STATES)}),?\s+(?P<v>[0-9]{{5}}(?:-[0-9]{{4}})?)\b", re.ASCII
)
_POSTCODE_CONTEXT = re.compile(
    r"(?i:\b(?:zip(?:\s*code)?|post\s*code|postal\s*code|plz|cep|pin\s*code)\b"
    r"(?:\s+(?:is|was))?[\s:#]*)"
    r"(?P<v>[A-Za-z0-9](?:[A-Za-z0-9]|[ -](?=[A-Za-z0-9])){1,9})",
    re.ASCII,
)
_ID_VALUE = r"#?(?P<v>[A-Za-z0-9](?:[A-Za-z0-9]|[-/](?=[A-Za-z0-9])){3,23})\b"
_ORDER = re.compile(
    r"(?i:\b(?:order|invoice|tracking|shipment|parcel|booking|return|rma)"
    r"(?:\s*(?:(?:number|num|nr|id|ref(?:erence)?|code)\b|no\b\.?))?[\s:]*(?:is\s+)?)" + _ID_VALUE,
    re.ASCII,
)
_ORDER_WORDS = r"(?i:order|invoice|tracking|shipment|parcel|booking|return|rma)"
_LOYALTY_WORDS = r"(?i:loyalty|member|reward|club|bonus)"
_LOYALTY = re.compile(
    r"(?i:\b(?:loyalty|member(?:ship)?|rewards?|club\s*card|bonus\s*card)"
    r"(?:\s*(?:(?:card|account|number|num|nr|id|code)\b|no\b\.?))*[\s:]*(?:is\s+)?)" + _ID_VALUE,
    re.ASCII,
)


def _digits(value: str) -> str:
    return "".join(char for char in value if char.isdigit())


def _value(match: re.Match[str]) -> tuple[int, int, str]:
    for group in ("v", "w", "x"):
        if group in match.re.groupindex and match.group(group) is not None:
            return match.start(group), match.end(group), match.group(group)
    raise AssertionError("every structured pattern has a value group")


def _checked(
    pattern: re.Pattern[str],
    kind: Kind,
    check: Callable[[str], bool],
    gate: str,
    *,
    prose: bool = False,
) -> Callable[[str], Iterator[tuple[int, int, Kind]]]:
    """A stage of ``pattern`` whose value passes ``check``; with ``prose``, only in text
    with some lower-case letter (ALL-CAPS product labels: "CARDS OUT OF ORDER 17216").
    ``gate`` is a simpler pattern that every match of ``pattern`` contains: text without
    it is passed over before the costlier pattern runs."""
    cheap = re.compile(gate)

    def stage(text: str) -> Iterator[tuple[int, int, Kind]]:
        if cheap.search(text) is None:
            return
        if prose and not any(char.islower() for char in text):
            return
        for match in pattern.finditer(text):
            start, end, value = _value(match)
            if check(value):
                yield start, end, kind

    return stage


def _ssn(value: str) -> bool:
    return ssn_ok(_digits(value))


def _nino(value: str) -> bool:
    return uk_nino_ok(value.replace(" ", ""))


def _cpf(value: str) -> bool:
    return cpf_ok(_digits(value))


def _china(value: str) -> bool:
    return china_id_ok(value.upper())


def _age(value: str) -> bool:
    return int(value) <= 120


def _has_digit(value: str) -> bool:
    return any(char.isdigit() for char in value)


def _id_number(value: str) -> bool:
    # An order or loyalty number has at least four digits; words ("status") do not count.
    return sum(char.isdigit() for char in value) >= 4


def _anything(value: str) -> bool:
    return True


STRUCTURED_STAGES: tuple[Callable[[str], Iterator[tuple[int, int, Kind]]], ...] = (
    _checked(_CHINA, Kind.NATIONAL_ID, _china, r"[0-9]{17}"),
    _checked(_CPF, Kind.NATIONAL_ID, _cpf, r"[0-9]{3}\.[0-9]{3}\.|(?i:cpf)"),
    _checked(_SSN, Kind.NATIONAL_ID, _ssn, r"[0-9]{3}[ -][0-9]{2}[ -]|(?i:ssn|social)"),
    _checked(_NINO, Kind.NATIONAL_ID, _nino, r"[A-Z]{2} ?[0-9]{2}"),
    _checked(_BIRTH, Kind.BIRTH_DATE, _anything, r"(?i:born|d\.?o\.?b|birth)"),
    _checked(_ORDER, Kind.RECORD_ID, _id_number, _ORDER_WORDS, prose=True),
    _checked(_LOYALTY, Kind.LOYALTY_ID, _id_number, _LOYALTY_WORDS, prose=True),
    _checked(_UK_POSTCODE, Kind.POSTCODE, _anything, r"[0-9][A-Z]{2}"),
    _checked(_US_ZIP, Kind.POSTCODE, _anything, r"[0-9]{5}"),
    _checked(_POSTCODE_CONTEXT, Kind.POSTCODE, _has_digit, r"(?i:zip|post|plz|cep|pin)"),
    _checked(_AGE, Kind.AGE, _age, r"(?i:year|yr|[0-9]\s*y/?o|age|i\s*['a]|turn)"),
)
"""Stages in precedence order; each sees the text with earlier stages' spans blanked."""
