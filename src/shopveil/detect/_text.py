"""PII inside free text: find spans in one string, redact them in a whole Arrow array.

Detection runs in a fixed order of stages; each stage sees the text with the spans the
earlier stages found blanked out, so spans never overlap:

1. emails, IPv6 and IPv4 addresses: plain regular expressions;
2. IBANs (country length and mod-97), card numbers (Luhn), phone numbers (digit count,
   not a date or an SSN), person names (a title before capitalized words, a greeting
   before a known first name, or known first name + known last name): candidates that
   a check confirms.

:func:`redact_text` runs stage 1 over the whole array with RE2
(``pyarrow.compute.replace_substring_regex``) and stage 2 in Python only for the values
a cheap RE2 pre-filter says may hold a candidate, so product descriptions and other
text with no digits runs or capitalized word pairs never reach Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core import Kind
from shopveil._core.spans import TextSpan
from shopveil.detect._names import TITLES
from shopveil.detect._patterns import (
    CARD_CANDIDATE,
    EMAIL,
    IBAN_CANDIDATE,
    IBAN_LENGTHS,
    IPV4,
    IPV6,
    compiled,
    iban_ok,
    luhn_ok,
)
from shopveil.detect._persons import INTRODUCERS, person_spans
from shopveil.errors import ParameterError, SchemaError

__all__ = ["TEXT_KINDS", "find_text_pii", "redact_text"]


# Stage 1: plain patterns, in precedence order.
_REGEX_STAGES: tuple[tuple[Kind, str], ...] = (
    (Kind.EMAIL, EMAIL),
    (Kind.IP_ADDRESS, IPV6),
    (Kind.IP_ADDRESS, IPV4),
)
TEXT_KINDS: tuple[Kind, ...] = (
    Kind.EMAIL,
    Kind.IP_ADDRESS,
    Kind.IBAN,
    Kind.CARD_NUMBER,
    Kind.PHONE,
    Kind.PERSON_NAME,
)
"""The kinds :func:`find_text_pii` reports."""

_COMPILED_REGEX_STAGES = tuple((kind, compiled(pattern)) for kind, pattern in _REGEX_STAGES)
_IBAN = compiled(IBAN_CANDIDATE)
_CARD = compiled(CARD_CANDIDATE)
_PHONE = re.compile(
    r"(?<![\w+.\-])"
    r"(?:(?:\+|00)[1-9][0-9]{0,2}[ .\-]?)?"  # country code
    r"(?:\(0\)[ .\-]?)?"  # "(0)" trunk prefix, as in +44 (0)20
    r"(?:\([0-9]{1,5}\)[ .\-]?)?"  # area code in parentheses
    r"[0-9]+(?:[ .\-][0-9]+)*"
    r"(?:[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6})?"  # extension
    r"(?![\w]|[.\-][0-9])",
    re.ASCII,
)
_PHONE_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6}$", re.ASCII)
_DATE_SHAPE = re.compile(
    r"^(?:[0-9]{4}[.\-][0-9]{1,2}[.\-][0-9]{1,2}|[0-9]{1,2}[.\-][0-9]{1,2}[.\-][0-9]{2,4})$",
    re.ASCII,
)
_SSN_SHAPE = re.compile(r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$", re.ASCII)
_BLANK = "\ue000"

# Values that may hold a stage-2 candidate. A superset of what stage 2 accepts: any
# accepted phone or card has seven digits joined by short separators; an IBAN starts
# with two capitals and two digits; a name needs a title or an introducing word before a
# capital, a capitalized word (one with a lower-case letter, so ALL-CAPS labels stay
# out) before another, or a single word set off by a comma and a full stop.
_WORDS = "|".join(sorted(TITLES | INTRODUCERS))
_PREFILTER = (
    r"[0-9](?:[ .()-]{0,3}[0-9]){6,}"
    r"|[A-Z]{2}[0-9]{2}"
    rf"|(?i:\b(?:{_WORDS})\b)[.,]*[ \t]*\p{{Lu}}"
    r"|\p{Lu}[\p{L}'’-]*\p{Ll}[\p{L}'’-]*[ \t]+\p{Lu}"
    r"|,[ \t]*\p{Lu}[\p{L}'’-]*(?:[.!?,]|$)"
)


def find_text_pii(text: str) -> list[TextSpan]:
    """Find emails, phones, card numbers, IBANs, IP addresses and person names in ``text``.

    Parameters
    ----------
    text
        Any string.

    Returns
    -------
    list[TextSpan]
        Non-overlapping spans sorted by start; offsets are code points, end exclusive.
    """
    if not isinstance(text, str):
        raise ParameterError(f"find_text_pii needs a str, got {type(text).__name__}")
    spans: list[TextSpan] = []
    for kind, pattern in _COMPILED_REGEX_STAGES:
        found = [TextSpan(m.start(), m.end(), kind) for m in pattern.finditer(text)]
        spans.extend(found)
        text = _blank(text, found)
    spans.extend(_validated_spans(text))
    return sorted(spans)


def _blank(text: str, spans: list[TextSpan]) -> str:
    """Overwrite ``spans`` with a filler no stage matches, keeping every offset."""
    if not spans:
        return text
    parts: list[str] = []
    cursor = 0
    for span in sorted(spans):
        parts.append(text[cursor : span.start])
        parts.append(_BLANK * (span.end - span.start))
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def _validated_spans(text: str) -> list[TextSpan]:
    spans: list[TextSpan] = []
    stages: tuple[Callable[[str], Iterator[TextSpan]], ...] = (
        _iban_spans,
        _card_spans,
        _phone_spans,
        _name_spans,
    )
    for stage in stages:
        found = list(stage(text))
        spans.extend(found)
        text = _blank(text, found)
    return spans


def _iban_spans(text: str) -> Iterator[TextSpan]:
    for match in _IBAN.finditer(text):
        value = match.group()
        expected = IBAN_LENGTHS.get(value[:2])
        if expected is None:
            if iban_ok(value.replace(" ", "")):
                yield TextSpan(match.start(), match.end(), Kind.IBAN)
            continue
        # Cut a grouped IBAN at its country's length: more groups may follow it.
        seen = 0
        for offset, char in enumerate(value):
            if char != " ":
                seen += 1
            if seen == expected:
                end = offset + 1
                break
        else:
            continue
        following = value[end : end + 1]
        if following not in ("", " ") or not iban_ok(value[:end].replace(" ", "")):
            continue
        yield TextSpan(match.start(), match.start() + end, Kind.IBAN)


def _card_spans(text: str) -> Iterator[TextSpan]:
    for match in _CARD.finditer(text):
        digits = match.group().replace(" ", "").replace("-", "")
        if luhn_ok(digits):
            yield TextSpan(match.start(), match.end(), Kind.CARD_NUMBER)


def _name_spans(text: str) -> Iterator[TextSpan]:
    for start, end in person_spans(text):
        yield TextSpan(start, end, Kind.PERSON_NAME)


def _phone_spans(text: str) -> Iterator[TextSpan]:
    for match in _PHONE.finditer(text):
        if _is_phone(match.group()):
            yield TextSpan(match.start(), match.end(), Kind.PHONE)


def _is_phone(candidate: str) -> bool:
    core = _PHONE_EXTENSION.sub("", candidate)
    digits = sum(char.isdigit() for char in core)
    if not 7 <= digits <= 15:
        return False
    international = core.startswith(("+", "00")) or "(" in core
    groups = re.split(r"[ .\-]+", core.replace("(", "").replace(")", " ").strip())
    if not international:
        if len(groups) == 1:
            # A bare run of digits is a phone only in national trunk form (0 + 9-10 digits).
            return core.startswith("0") and 10 <= digits <= 11
        if _DATE_SHAPE.match(core) or _SSN_SHAPE.match(core):
            return False
        if len(groups) == 2 and not (
            groups[0].startswith("0") or re.fullmatch(r"[0-9]{3}-[0-9]{4}", core)
        ):
            return False  # house numbers, postcodes, decimals: too often two number groups
    return True


def _sentinel(kind: Kind) -> str:
    # Private-use characters only: no stage can match them and no template can contain them
    # by accident, so replacing them last cannot touch real text.
    return "\ue000" + chr(0xE100 + TEXT_KINDS.index(kind)) + "\ue001"


def _splice(text: str, spans: list[TextSpan]) -> str:
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(_sentinel(span.kind))
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def redact_text(array: pa.Array, *, template: str = "[{kind}]") -> pa.Array:
    """Replace every span :func:`find_text_pii` finds, in every value of a string array.

    Parameters
    ----------
    array
        A string or large-string Arrow array (or chunked array). Nulls stay null.
    template
        What each span becomes; ``{kind}`` is replaced by the span's kind, e.g.
        ``"[email]"``.

    Returns
    -------
    pa.Array
        A new array of the same type and length; the input is not modified.
    """
    try:
        replacements = {kind: template.format(kind=kind.value) for kind in TEXT_KINDS}
    except (KeyError, IndexError, ValueError) as exc:
        raise ParameterError(
            f"template={template!r} is not usable ({type(exc).__name__}: {exc}); "
            'use text with an optional "{kind}" placeholder, e.g. "[{kind}]"'
        ) from None
    if isinstance(array, pa.ChunkedArray):
        chunks = [redact_text(chunk, template=template) for chunk in array.chunks]
        return pa.chunked_array(chunks, type=array.type)
    if not isinstance(array, pa.Array) or not (
        pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
    ):
        found = array.type if isinstance(array, pa.Array) else type(array).__name__
        raise SchemaError(f"redact_text needs a string array, got {found}; cast it to string")
    result = array
    for kind, pattern in _REGEX_STAGES:
        result = pc.replace_substring_regex(result, pattern, _sentinel(kind))
    candidates = pc.fill_null(pc.match_substring_regex(result, _PREFILTER), False)
    mask = candidates.to_numpy(zero_copy_only=False)
    if mask.any():
        rows = result.filter(candidates).to_pylist()
        redacted = [_splice(text, sorted(_validated_spans(text))) for text in rows]
        result = pc.replace_with_mask(result, pa.array(mask), pa.array(redacted, type=array.type))
    for kind, replacement in replacements.items():
        result = pc.replace_substring(result, _sentinel(kind), replacement)
    return result


def _rows_with_candidates(array: pa.Array) -> np.ndarray:
    """Indices of the values that may hold PII of any kind (used by column scanning)."""
    pattern = "|".join([f"(?:{p})" for _, p in _REGEX_STAGES] + [_PREFILTER])
    hits = pc.fill_null(pc.match_substring_regex(array, pattern), False)
    result: np.ndarray = np.flatnonzero(hits.to_numpy(zero_copy_only=False))
    return result
