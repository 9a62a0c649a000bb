"""Person names from the words around them, where no name list has to know the name.

- an introduction: "my name is Csanád", "call me višeslav", "known as Dreux";
- a speaker label in a transcript: "Ubul: what a ...", once the text has two labels or
  the word is a known first name;
- a possessive before a family or social relation: "I'm Amanda's daughter", "Koppány's
  boss" (and before "address", "phone", "email" when the word is a known name);
- the shape first word + initial + last word: "Brad L Key", "Csanád P. Gere" (the
  first word no everyday word);
- a known first name and a known last name in lower case, at the start of a line or
  after a word such as "with", "ask", "hi": "follow up with eva lindqvist".

A word that is an everyday English word ("Address:", "Thanks Team") never counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from shopveil.detect._names import (
    common_words,
    first_names,
    last_names,
    text_first_names,
    text_last_names,
)

__all__ = ["cue_name_spans"]

_W = r"[^\W\d_]+(?:[-'’][^\W\d_]{2,})*"
_INTRODUCED = re.compile(
    r"(?i:\b(?:my\s+name\s+is|my\s+name['’]s|call\s+me|known\s+as|i\s+go\s+by)[ \t]+)"
    rf"(?P<n>{_W}(?:[ \t]+(?:[^\W\d_]\.?[ \t]+)?{_W}){{0,2}})"
)
_LABEL = re.compile(rf"(?m)(?:^|(?<=[.!?\"”)])[ \t]*)[ \t]*(?P<n>{_W}(?:[ \t]+{_W})?)[ \t]*:(?!//)")
_RELATIONS = (
    "daughter|son|wife|husband|mother|mom|mum|father|dad|brother|sister|friend|boyfriend"
    "|girlfriend|partner|fianc[ée]e?|boss|kids?|child|children|baby|aunt|uncle|cousin|niece"
    "|nephew|grandma|grandpa|grandmother|grandfather|grandson|granddaughter|colleague"
    "|neighbou?r|parents?|family|birthday"
)
_POSSESSIVE = re.compile(
    rf"\b(?P<n>{_W})['’]s[ \t]+(?:(?P<r>{_RELATIONS})|(?P<c>address|phone|email|number))\b"
)
_INITIALLED = re.compile(rf"\b(?=(?P<n>{_W}[ \t]+[^\W\d_]\.?[ \t]+{_W})\b)")
_LOWER_PAIR = re.compile(rf"\b(?=(?P<n>{_W}[ \t]+(?:[^\W\d_]\.?[ \t]+)?{_W})\b)")
# Cheap tests that rule a cue out before its pattern runs.
_INITIAL = re.compile(r"[ \t][^\W\d_a-z]\.?[ \t]")
_LOWER_WORD = re.compile(r"\b[^\W\d_A-Z]{3,}\b")
_BEFORE_PAIR = frozenset((
    "with", "to", "from", "for", "by", "and", "ask", "tell", "call", "contact", "is", "am",
    "was", "me", "thanks", "thank", "hi", "hello", "hey", "dear", "cc", "named", "called",
))  # fmt: skip
_FIELDS = frozenset((
    "name", "email", "e-mail", "tel", "mobile", "cell", "fax", "note", "notes", "subject",
    "re", "fwd", "date", "time", "total", "ref", "info", "dob", "ssn", "iban", "zip",
    "postcode", "id", "status", "question", "answer", "customer", "agent", "user", "bot",
    "assistant", "support", "system", "admin", "q", "a", "ps", "p.s", "tip", "update",
    "warning", "error", "step", "item", "sku", "qty", "price", "cost", "card", "address",
    "phone", "order", "invoice", "personal", "contact", "details", "reply", "from", "to",
    "cc", "bcc", "sent", "edit", "important", "example", "nb", "attention", "reminder",
))  # fmt: skip


def cue_name_spans(text: str, *, title_case: bool = False) -> Iterator[tuple[int, int]]:
    """Start and end of each name the cues above find, in order of the cues. In
    ``title_case`` text (product titles, headings) the shape cue is not used: there
    "Bracelet W Strap" is no name."""
    yield from _introduced(text)
    yield from _labels(text)
    yield from _possessives(text)
    if not title_case:
        yield from _initialled(text)
    yield from _lower_pairs(text)


def _everyday(word: str) -> bool:
    folded = word.casefold()
    return folded in common_words() or folded in _FIELDS


def _capitalized(word: str) -> bool:
    return word[0].isupper() and (len(word) == 1 or not word.isupper())


def _introduced(text: str) -> Iterator[tuple[int, int]]:
    for match in _INTRODUCED.finditer(text):
        words = list(re.finditer(rf"{_W}", match.group("n")))
        first = words[0].group()
        if _everyday(first) or len(first) < 2:
            continue
        end = words[0].end()
        for word in words[1:]:
            value = word.group()
            # Further words: initials, or words written like the first that are no
            # everyday word ("my name is Anna Kowalska", not "call me Anna Monday").
            if len(value) > 1 and (_everyday(value) or _capitalized(value) != _capitalized(first)):
                break
            end = word.end()
        start = match.start("n")
        yield start, start + end


def _labels(text: str) -> Iterator[tuple[int, int]]:
    if ":" not in text:
        return
    candidates = []
    for match in _LABEL.finditer(text):
        words = match.group("n").split()
        if all(_capitalized(w) and not _everyday(w) for w in words):
            candidates.append((match.start("n"), match.end("n"), words))
    firsts = first_names()
    for start, end, words in candidates:
        if len(candidates) >= 2 or words[0].casefold() in firsts:
            yield start, end


def _possessives(text: str) -> Iterator[tuple[int, int]]:
    if "s " not in text:
        return
    firsts, lasts = text_first_names(), text_last_names()
    for match in _POSSESSIVE.finditer(text):
        word = match.group("n")
        if not _capitalized(word) or _everyday(word):
            continue
        folded = word.casefold()
        if match.group("c") and folded not in firsts and folded not in lasts:
            continue
        yield match.start("n"), match.end("n")


def _initialled(text: str) -> Iterator[tuple[int, int]]:
    if _INITIAL.search(text) is None:
        return
    for match in _INITIALLED.finditer(text):
        words = match.group("n").split()
        first, initial, last = words[0], words[1].rstrip("."), words[-1]
        if (
            _capitalized(first)
            and _capitalized(last)
            and initial.isupper()
            and initial not in ("I", "A")
            and not _everyday(first)
            and len(first) > 1
            and len(last) > 1
        ):
            yield match.start("n"), match.end("n")


def _lower_pairs(text: str) -> Iterator[tuple[int, int]]:
    # The base lists, and only where a person is likely: at the start of a line or after
    # a word such as "with" or "ask" ("princess charlotte doll" is a product).
    firsts, lasts = first_names(), last_names()
    if firsts.isdisjoint(_LOWER_WORD.findall(text)):
        return
    for match in _LOWER_PAIR.finditer(text):
        words = match.group("n").split()
        first, last = words[0], words[-1]
        before = text[: match.start()].rstrip(" \t")
        previous = before.rsplit(None, 1)[-1].casefold() if before else ""
        if (
            (not before or before.endswith("\n") or previous in _BEFORE_PAIR)
            and first.islower()
            and last.islower()
            and len(first) > 2
            and len(last) > 2
            and first in firsts
            and (last in lasts or len(words) == 3)
            and not _everyday(first)
            and not _everyday(last)
        ):
            yield match.start("n"), match.end("n")
