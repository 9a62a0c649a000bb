"""Person names in free text, found from capitalized words and the name lists.

A run of capitalized words (each with a lower-case letter, so ALL-CAPS product labels
never count) is a name when

- a title comes first or just before it ("Mr. Faina D. Yefremova");
- an introducing word comes just before a known first name ("Thanks Sarah", "I'm Toby");
- it starts with a known first name followed by a known last name or an unknown
  capitalized word ("Tilly Nicholson", "Gregory Kudryashov");
- it is one known first name set off by a comma and a stop ("No problem, Ann.").

A word of a name found that way is a name again wherever else it appears in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from shopveil.detect._cues import cue_name_spans
from shopveil.detect._names import (
    GREETINGS,
    TITLES,
    cities,
    common_words,
    countries,
    first_names,
    street_types,
    text_first_names,
    text_last_names,
)

__all__ = ["INTRODUCERS", "lone_first_names", "person_spans"]

_TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
# Words after which a capitalized known first name is a name: greetings, sign-offs, "I'm".
_LONGEST_NAME = 3  # words in a name without a title: "Mary Ann Smith", "Faina D. Yefremova"
INTRODUCERS = GREETINGS | {
    "i'm", "i’m", "im", "am", "is", "named", "called", "sincerely", "friend",
}  # fmt: skip


def person_spans(text: str) -> Iterator[tuple[int, int]]:
    """Start and end of each person name in ``text`` (see the module docstring)."""
    firsts, lasts = text_first_names(), text_last_names()
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    capitalized = [_is_capitalized(word) for _, _, word in tokens]
    title_case = _is_title_case(tokens, capitalized)
    named: list[list[int]] = []
    index = 0
    while index < len(tokens):
        if not capitalized[index]:
            index += 1
            continue
        run = _capitalized_run(text, tokens, capitalized, index)
        folded = [tokens[i][2].casefold() for i in run]
        before = _previous_word(text, tokens, run[0])
        name: list[int] = []
        if folded[0] in TITLES and len(run) > 1:
            name = run[1:4]
        elif before is not None and (
            before in TITLES or (before in INTRODUCERS and folded[0] in firsts)
        ):
            name = run[:3]
        elif folded[0] in INTRODUCERS and len(run) > 1 and folded[1] in firsts:
            name = run[1:4]
        elif len(run) == 1 and _vocative(text, tokens, run[0], first_names()):
            name = run
        elif len(run) <= _LONGEST_NAME:
            # Longer runs are titles and labels ("Rose Peg Place Settings"), not names.
            name = _first_last(run, folded, firsts, lasts, strict=title_case)
        if name:
            named.append(name)
        index = run[-1] + 1
    spans = [(tokens[name[0]][0], tokens[name[-1]][1]) for name in named]
    for start, end in cue_name_spans(text, title_case=title_case):
        if not any(start < b and a < end for a, b in spans):
            spans.append((start, end))
    # A person named in full is often named again by one of those words alone.
    known = {
        word
        for start, end in spans
        for word in _TOKEN.findall(text[start:end])
        if len(word) > 2 and _is_capitalized(word)
    }
    if known:
        for i, (start, end, word) in enumerate(tokens):
            if (
                capitalized[i]
                and word in known
                and not any(start < b and a < end for a, b in spans)
            ):
                spans.append((start, end))
    yield from spans


def _vocative(
    text: str, tokens: list[tuple[int, int, str]], index: int, firsts: frozenset[str]
) -> bool:
    """A known first name set off by a comma before and a stop after: "No problem, Ann."."""
    start, end, word = tokens[index]
    if word.casefold() not in firsts or word.casefold() in _not_names():
        return False
    before = text[tokens[index - 1][1] : start] if index else text[:start]
    return (
        index > 0
        and before.startswith(",")
        and (len(before) == 1 or _is_space(before[1:]))
        and text[end : end + 1] in (".", "!", "?", ",", "")
    )


def _is_capitalized(word: str) -> bool:
    # An upper-case first letter and, unless it is an initial, some lower-case letter.
    return word[0].isupper() and (len(word) == 1 or not word.isupper())


def _capitalized_run(
    text: str, tokens: list[tuple[int, int, str]], capitalized: list[bool], start: int
) -> list[int]:
    """Indices of capitalized tokens from ``start`` joined by spaces (or "." after an
    initial or a title), at most six of them."""
    run = [start]
    while run[-1] + 1 < len(tokens) and len(run) < 6:
        if not capitalized[run[-1] + 1]:
            break
        previous, following = tokens[run[-1]], tokens[run[-1] + 1]
        gap = text[previous[1] : following[0]]
        dotted = len(previous[2]) == 1 or previous[2].casefold() in TITLES
        if not (_is_space(gap) or (dotted and gap.startswith(".") and _is_space(gap[1:]))):
            break
        run.append(run[-1] + 1)
    return run


def _is_space(gap: str) -> bool:
    return bool(gap) and all(char in " \t" for char in gap)


def _previous_word(text: str, tokens: list[tuple[int, int, str]], index: int) -> str | None:
    """The folded token right before ``index`` when only spaces, "." or "," lie between."""
    if index == 0:
        return None
    previous = tokens[index - 1]
    gap = text[previous[1] : tokens[index][0]]
    if gap.lstrip(".,") and not _is_space(gap.lstrip(".,")):
        return None
    return previous[2].casefold()


def _is_title_case(tokens: list[tuple[int, int, str]], capitalized: list[bool]) -> bool:
    """Most longer words capitalized: a product title or a heading, where a capitalized
    word after a first name says nothing about a surname."""
    flags = [cap for (_, _, word), cap in zip(tokens, capitalized, strict=True) if len(word) > 2]
    return len(flags) >= 4 and sum(flags) >= 0.7 * len(flags)


def _first_last(
    run: list[int],
    folded: list[str],
    firsts: frozenset[str],
    lasts: frozenset[str],
    *,
    strict: bool,
) -> list[int]:
    """The first sub-run that looks like first name + last name: a known first name, then
    a known last name or (unless ``strict``) an unknown capitalized word, for surnames our
    lists lack. Middle words must be initials or known names."""
    stop = _not_names()
    for i, word in enumerate(folded):
        if len(word) < 2 or word in stop:
            continue
        best = -1
        for j in range(i + 1, len(folded)):
            if folded[j] in stop:
                break
            known_first, known_last = word in firsts, folded[j] in lasts
            unknown = not strict and folded[j] not in firsts
            if known_first and (known_last or unknown) and len(folded[j]) > 1:
                best = j
            if not (len(folded[j]) == 1 or folded[j] in firsts or folded[j] in lasts):
                break
        if best > i:
            return run[i : best + 1]
    return []


@cache
def _not_names() -> frozenset[str]:
    """Capitalized words that follow or precede names but are not names themselves."""
    words = (
        "monday tuesday wednesday thursday friday saturday sunday january february march "
        "april june july august september october november december christmas easter "
        "day next new customer agent service team support store shop bank card order street "
        "road avenue lane the and or but of for with from to in on at by my your our their "
        "his her thanks thank hello hi dear regards please yes no ok great good"
    )
    return frozenset(words.split()) | street_types()


_SENTENCE_ENDS = frozenset('.!?:;"“(\n')
# First names that are also everyday words, months or places: alone, they say nothing.
_AMBIGUOUS = frozenset((
    "will", "may", "june", "april", "august", "mark", "bill", "rose", "grace", "hope", "joy",
    "faith", "amber", "iris", "summer", "dawn", "autumn", "ivy", "holly", "daisy", "ruby",
    "pearl", "jade", "crystal", "sky", "river", "art", "mercy", "sunny", "victoria",
    "florence", "austin", "jackson", "orlando", "charlotte", "madison", "savannah", "georgia",
    "sydney", "adelaide", "chelsea", "phoenix", "aurora", "paris", "lincoln", "dallas",
    "houston", "virginia", "carolina", "page", "sterling", "king", "major", "royal", "frank",
    "earnest", "hunter", "chase", "gene", "sonny", "guy", "nick", "sam", "max", "ray", "don",
    "jack", "lee", "van", "dean", "love", "german", "christian",
))  # fmt: skip


def lone_first_names(text: str) -> Iterator[tuple[int, int]]:
    """Known first names standing alone: mid-sentence ("my kid Lukas", "shouted at
    Todd"), or at a sentence start when a colon or comma follows ("Ella: what a wife",
    "Danial, can I ...") or a verb-like word does ("Enrico shouted"). First names that
    are also common words or places are left out."""
    # The base lists only: alone, a rare name of the wider lists ("London", "York")
    # is more often a place or a word.
    firsts, places = first_names(), _places()
    for match in _TOKEN.finditer(text):
        word = match.group()
        folded = word.casefold()
        if (
            not _is_capitalized(word)
            or len(word) < 3
            or folded not in firsts
            or folded in _AMBIGUOUS
            or folded in places
            or folded in _not_names()
        ):
            continue
        start, end = match.span()
        after = text[end : end + 1]
        before = text[max(0, start - 8) : start].rstrip(" \t")
        at_start = not before or before[-1] in _SENTENCE_ENDS
        if at_start and after not in (":", ",") and not _subject(text, end):
            continue
        yield start, end


_NEXT_WORD = re.compile(r"[ \t]+([a-z]+)\b")


def _subject(text: str, end: int) -> bool:
    """A lower-case word that is no everyday word follows: the name is the subject of a
    sentence ("Enrico shouted at ...", not "Will you ..." or "Hope this helps")."""
    match = _NEXT_WORD.match(text, end)
    return match is not None and match.group(1) not in common_words()


@cache
def _places() -> frozenset[str]:
    return cities() | countries()
