"""PII inside free text: find spans in one string, redact them in a whole Arrow array.

Detection runs in a fixed order of stages; each stage sees the text with the spans the
earlier stages found blanked out, so spans never overlap:

1. emails, IPv6 and IPv4 addresses: plain regular expressions;
2. IBANs (country length and mod-97), card numbers (Luhn; 12 digits only with a Maestro
   prefix), national ids with their checks, dates of birth, order and loyalty numbers
   after their context words, phone numbers (digit count, not a date or an SSN),
   postcodes and ZIP codes, ages, street addresses (:mod:`._addresses`) and person
   names (a title before capitalized words, a greeting before a known first name, or
   known first name + known last name): candidates that a check or a context confirms;
3. with ``engine=TextEngine.MODEL``, a named-entity model (:mod:`._entities`) adds the
   person names, places and organisations the rules miss.

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
from shopveil.detect._addresses import address_spans
from shopveil.detect._entities import TextEngine, entity_spans
from shopveil.detect._ids import card_brand_ok
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
from shopveil.detect._persons import INTRODUCERS, lone_first_names, person_spans
from shopveil.detect._structured import CONTEXT_WORDS, STRUCTURED_STAGES
from shopveil.errors import ParameterError, SchemaError

__all__ = ["TEXT_KINDS", "TextEngine", "find_text_pii", "redact_text"]


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
    Kind.NATIONAL_ID,
    Kind.BIRTH_DATE,
    Kind.AGE,
    Kind.POSTCODE,
    Kind.RECORD_ID,
    Kind.LOYALTY_ID,
    Kind.STREET_ADDRESS,
    Kind.CITY,
    Kind.COUNTRY,
    Kind.ORGANIZATION,
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
_DIGIT = re.compile("[0-9]")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

# Values that may hold a stage-2 candidate. A superset of what stage 2 accepts: any
# accepted phone or card has seven digits joined by short separators; an IBAN starts
# with two capitals and two digits; a name needs a title or an introducing word before a
# capital, a capitalized word (one with a lower-case letter, so ALL-CAPS labels stay
# out) before another, or a single word set off by a comma and a full stop.
_WORDS = "|".join(sorted(TITLES | INTRODUCERS))
_CONTEXT = "|".join(sorted(word.replace(".", r"\.").replace(" ", r"\s*") for word in CONTEXT_WORDS))
_PREFILTER = (
    r"[0-9](?:[ .()-]{0,3}[0-9]){6,}"
    rf"|(?i:\b(?:{_CONTEXT})\b)"
    r"|\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b"
    r"|[0-9]{1,5}[A-Za-z]?,? +\p{Lu}\p{Ll}"
    r"|\p{Lu}\p{Ll}+ +[0-9]{1,5}\b"
    r"|[A-Z]{2}[0-9]{2}"
    rf"|(?i:\b(?:{_WORDS})\b)[.,]*[ \t]*\p{{Lu}}"
    r"|\p{Lu}[\p{L}'’-]*\p{Ll}[\p{L}'’-]*[ \t]+\p{Lu}"
    r"|,[ \t]*\p{Lu}[\p{L}'’-]*(?:[.!?,]|$)"
)


def find_text_pii(text: str, *, engine: TextEngine = TextEngine.RULES) -> list[TextSpan]:
    """Find the personal data of :data:`TEXT_KINDS` in ``text``.

    Parameters
    ----------
    text
        Any string.
    engine
        ``RULES`` (patterns, checks and word lists: fast, no extra needed) or ``MODEL``
        (the rules plus a named-entity model for names, places and organisations; needs
        the ``text`` extra).

    Returns
    -------
    list[TextSpan]
        Non-overlapping spans sorted by start; offsets are code points, end exclusive.
    """
    if not isinstance(text, str):
        raise ParameterError(f"find_text_pii needs a str, got {type(text).__name__}")
    if not isinstance(engine, TextEngine):
        raise ParameterError(
            f"engine={engine!r} is not a TextEngine; use TextEngine.RULES or TextEngine.MODEL"
        )
    original = text
    spans: list[TextSpan] = []
    for kind, pattern in _COMPILED_REGEX_STAGES:
        found = [TextSpan(m.start(), m.end(), kind) for m in pattern.finditer(text)]
        spans.extend(found)
        text = _blank(text, found)
    spans.extend(_validated_spans(text))
    if engine is TextEngine.MODEL:
        spans = _merge_entities(original, spans)
    return sorted(spans)


def _merge_entities(text: str, spans: list[TextSpan]) -> list[TextSpan]:
    """Add the model's entities that overlap no span the rules found; a rule name inside
    a longer model name is widened to it ("Faina D. Yefremova" over "Faina")."""
    kept = list(spans)
    found = entity_spans(text, [(s.start, s.end) for s in spans])
    found += [(start, end, Kind.PERSON_NAME) for start, end in lone_first_names(text)]
    for start, end, kind in found:
        overlapping = [s for s in kept if s.start < end and start < s.end]
        if not overlapping:
            kept.append(TextSpan(start, end, kind))
        elif kind is Kind.PERSON_NAME and all(
            s.kind is Kind.PERSON_NAME and start <= s.start and s.end <= end for s in overlapping
        ):
            kept = [s for s in kept if s not in overlapping]
            kept.append(TextSpan(start, end, kind))
    return kept + _repeated_names(text, kept)


def _repeated_names(text: str, spans: list[TextSpan]) -> list[TextSpan]:
    """A word of a person's name, seen again alone elsewhere in the text, names them too."""
    words = {
        word
        for span in spans
        if span.kind is Kind.PERSON_NAME
        for word in _NAME_WORD.findall(text[span.start : span.end])
        if len(word) > 2
    }
    if not words:
        return []
    found = []
    for match in _NAME_WORD.finditer(text):
        start, end = match.span()
        if match.group() in words and not any(s.start < end and start < s.end for s in spans):
            found.append(TextSpan(start, end, Kind.PERSON_NAME))
    return found


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
    # Every stage but names needs a digit: text without one (most chat) skips them all.
    stages = _STAGES if _DIGIT.search(text) else _NAME_STAGE
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
        # Luhn passes one number in ten: a 12-digit one must also carry a Maestro prefix.
        if luhn_ok(digits) and (len(digits) > 12 or card_brand_ok(digits)):
            yield TextSpan(match.start(), match.end(), Kind.CARD_NUMBER)


def _structured_stage(index: int) -> Callable[[str], Iterator[TextSpan]]:
    stage = STRUCTURED_STAGES[index]

    def spans(text: str) -> Iterator[TextSpan]:
        for start, end, kind in stage(text):
            yield TextSpan(start, end, kind)

    return spans


def _address_spans(text: str) -> Iterator[TextSpan]:
    for start, end in address_spans(text):
        yield TextSpan(start, end, Kind.STREET_ADDRESS)


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
    international = core.startswith("+") or bool(re.match(r"00[1-9]", core)) or "(" in core
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


_Stage = Callable[[str], Iterator[TextSpan]]
_NAME_STAGE: tuple[_Stage, ...] = (_name_spans,)
_STAGES: tuple[_Stage, ...] = (
    _iban_spans,
    _structured_stage(0),  # Chinese resident ids before cards: 18 digits
    _card_spans,
    *(_structured_stage(i) for i in range(1, 7)),  # other ids, births, orders
    _phone_spans,
    _address_spans,  # before postcodes: an address takes its postcode along
    *(_structured_stage(i) for i in range(7, len(STRUCTURED_STAGES))),
    *_NAME_STAGE,
)
"""Stage 2 in precedence order; each sees the text with earlier stages' spans blanked."""


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
