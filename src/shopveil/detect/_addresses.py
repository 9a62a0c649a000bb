"""Street addresses in free text, found from house numbers and street-type words.

These written forms are recognised:

- number first, type last: "1668 Glyn St", "221B Baker Street";
- type first, number last: "Rua do Arenque 1634", "Via Roma 12", "Avenida Paulista, 1578";
- one word with a Germanic suffix, then the number: "Hauptstraße 5", "Kalverstraat 92";
- a number, a name, a number: "62314 Mellemvej 32";
- US military and post-office boxes: "PSC 3294, Box 9168 APO AA 61487", "P.O. Box 287";
- whatever follows an introducing phrase ("lives at", "address:", "ship it to") up to
  the first lower-case word, when it holds a number.

Each is extended over what follows it on the same or the next line: a flat or suite,
towns, regions, countries and postcodes, up to the first lower-case word.

The street-type words come from the same lists the name finder uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from shopveil.detect._names import street_types

__all__ = ["address_spans"]

_CAP = r"(?:[^\W\d_][\w'’.-]*)"
_CAPWORD = r"(?:[A-ZÀ-ÖØ-ÞΑ-Ω][\w'’-]*\.?)"
_JOIN = r"(?:de|do|da|dos|das|del|della|di|des|du|la|le|les|of|the|van|von|der|den|y)"
_NUMBER = r"[0-9]{1,5}(?:[-/][0-9]{1,4})?[A-Za-z]?"
_UNIT = r"(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|box|#)\.?\s*#?[0-9][0-9A-Za-z-]{0,5}"
_GERMANIC = (
    "straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|ufer|laan|straat|gracht|kade"
    "|plein|singel|gatan|vägen|vej|gade|veien|katu|tie|kuja"
)
_LEADING_TYPES = (
    "rua|rue|calle|c/|avenida|av\\.|avenue|via|viale|piazza|corso|plaza|paseo|camino|carrera"
    "|travessa|praça|largo|estrada|alameda|chemin|allée|impasse|quai|boulevard|bd\\."
    "|ulica|ul\\.|aleja|strada|calea|piata|trg|λεωφόρος|οδός"
)
# Words that introduce an address in a sentence: what follows them, up to the first
# lower-case word, is the address when it holds a number.
_INTRODUCERS = (
    r"(?i:\baddress(?:es)?(?:\s+is)?\s*[:>-]?|\b(?:lives?|living|located|situated|based)"
    r"\s+(?:at|on|in)|\b(?:send|sent|ship|shipped|deliver|delivered|return|post|mail)"
    r"(?:\s+(?:it|them|this|the\s+\w+))?\s+to|\b(?:is|it's|it’s|it\s+is)\s+(?:at|in)"
    r"|\bmeet\s+(?:\w+\s+)?at|\baddress\s+with)"
)
# After an address: flats and suites, towns, regions, countries and postcodes, on the
# same line or the next, up to the first lower-case word.
_TAIL_TOKEN = (
    r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?\s?[0-9][A-Z]{2}\b"  # a UK postcode
    rf"|(?i:{_UNIT})|{_CAPWORD}|[A-Z]{{2,}}|[0-9]{{2,6}}(?:-[0-9]{{3,4}})?|nan)"
)
_SEPARATOR = r"(?:[ \t]*[,>]?[ \t]*(?:\n[ \t]*>?[ \t]*)?)"
_TAIL = rf"(?:{_SEPARATOR}{_TAIL_TOKEN}){{0,8}}"
_LEAD = rf"(?<![\w.,-])(?:(?i:{_UNIT})\s+)?(?:[0-9]{{1,5}}\s+)?"


@cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    types = sorted(
        (re.escape(word) for word in street_types() if len(word) > 1), key=len, reverse=True
    )
    trailing = "|".join(types)
    number_first = re.compile(
        rf"{_LEAD}{_NUMBER},?\s+(?:{_CAPWORD}\s+|{_JOIN}\s+){{0,4}}"
        # A capitalized word right after the type means a product title ("12 Ivory Rose
        # Peg Place Settings"), not an address.
        rf"(?i:{trailing})\b\.?(?![ \t]+[A-Z][a-z])"
    )
    type_first = re.compile(
        rf"(?<![\w.,-])(?:[0-9]{{1,5}}\s+)?(?i:{_LEADING_TYPES})\s+(?:{_JOIN}\s+){{0,2}}"
        rf"{_CAPWORD}(?:\s+(?:{_JOIN}\s+)?{_CAPWORD}){{0,3}},?\s+(?:n[º°o.]\s*)?{_NUMBER}\b"
    )
    germanic = re.compile(rf"{_LEAD}\b{_CAP}(?:{_GERMANIC})\s+{_NUMBER}\b")
    # "62314 Mellemvej 32", "172 Maneeži 75": a number, a name, a number.
    numbered_name = re.compile(
        rf"{_LEAD}[0-9]{{1,5}}\s+{_CAPWORD}(?:\s+{_CAPWORD}){{0,2}}\s+[0-9]{{1,5}}[A-Z]?\b"
    )
    military = re.compile(
        r"\b(?:(?i:unit)\s+[0-9]{4}\s+(?i:box)\s+[0-9]{4}|PSC\s+[0-9]{4},?\s+Box\s+[0-9]{4}"
        r"|USNS\s+\w+|USNV\s+\w+|USS\s+\w+|USCGC\s+\w+)\s+(?i:(?:apo|fpo|dpo)\s+a[aep])"
        r"\s+[0-9]{5}\b"
    )
    po_box = re.compile(r"\b(?:(?i:p\.?\s?o\.?\s*box)|(?i:postbox)|Postfach)\s+[0-9]{1,6}\b")
    introduced = re.compile(
        rf"{_INTRODUCERS}\s+(?:the\s+corner\s+of\s+)?(?P<v>(?:[0-9]{{1,5}}[A-Za-z]?|{_CAPWORD})"
        rf"(?:{_SEPARATOR}(?:{_TAIL_TOKEN}|{_JOIN}|and)){{0,10}})"
    )
    return type_first, germanic, military, po_box, numbered_name, number_first, introduced


@cache
def _needed_words() -> tuple[frozenset[str] | None, ...]:
    """Per pattern of :func:`_patterns`, words (letters only, folded) of which the text
    must hold one for the pattern to match at all; ``None``: no such test."""
    leading = frozenset(
        word.casefold() for word in re.sub(r"[^\w|]", "", _LEADING_TYPES).split("|") if word
    )
    letters = re.compile(r"[^\W\d_]+")
    types = frozenset(w for t in street_types() for w in letters.findall(t.casefold()))
    return (
        leading,
        None,  # Germanic compounds: tested by suffix in address_spans
        frozenset(("apo", "fpo", "dpo")),
        frozenset(("box", "pobox", "postbox", "postfach")),
        None,
        types,
        None,
    )


_TAIL_PATTERN = re.compile(_TAIL)
_LETTERS = re.compile(r"[^\W\d_]+")
_GERMANIC_SUFFIX = re.compile(rf"(?i:{_GERMANIC})\s+[0-9]")


def address_spans(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of each street address in ``text`` (see the module docstring)."""
    taken: list[tuple[int, int]] = []
    words = frozenset(_LETTERS.findall(text.casefold()))
    for pattern, needed in zip(_patterns(), _needed_words(), strict=True):
        # A cheap test first: most patterns need one of a few words in the text.
        if needed is not None and words.isdisjoint(needed):
            continue
        if pattern is _patterns()[1] and _GERMANIC_SUFFIX.search(text) is None:
            continue
        for match in pattern.finditer(text):
            group = "v" if "v" in pattern.groupindex else 0
            start, end = match.start(group), match.end(group)
            value = match.group(group)
            if group == "v" and not any(char.isdigit() for char in value):
                continue
            if not any(char.islower() for char in value):
                continue  # ALL-CAPS product labels ("3 TIER CAKE TIN GREEN") are not streets
            tail = _TAIL_PATTERN.match(text, end)
            if tail is not None:
                end = tail.end()
            while end > start and text[end - 1] in " \t\n,.>":
                end -= 1
            if end <= start or any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
    yield from sorted(taken)
