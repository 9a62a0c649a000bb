"""What a column's sampled values look like, measured with vectorized matches.

Each check returns the fraction of the non-empty sampled values that pass it; nothing
here keeps or returns a value (they are PII).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core import Kind
from shopveil.detect._demographic import demographic_masks
from shopveil.detect._names import (
    TITLES,
    cities,
    city_affixes,
    countries,
    first_names,
    last_names,
    street_types,
)
from shopveil.detect._patterns import EMAIL, IPV4, IPV6, card_mask, iban_mask
from shopveil.detect._special import special_masks
from shopveil.detect._text import TEXT_KINDS, _rows_with_candidates, find_text_pii

__all__ = ["ValueProfile", "profile_values"]

_PHONE_SHAPE = (
    r"^(?:(?:\+|00)[1-9][0-9]{0,2}[ .-]?)?(?:\(0\)[ .-]?)?(?:\([0-9]{1,5}\)[ .-]?)?"
    r"[0-9]+(?:[ .-][0-9]+)*(?:[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6})?$"
)
_DATE = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$|^[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}$"
_DATETIME = (
    r"^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4})"
    r"[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_YEAR = r"^([0-9]{4})-|[/.-]([0-9]{4})(?:$|[T ])"
_UK_POSTCODE = r"^(?i:[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})$"
_US_ZIP = r"^[0-9]{5}(?:-[0-9]{4})?$"
_GENERIC_POSTCODE = r"^(?i:[A-Z]{0,3}[ -]?[0-9][0-9A-Z]{1,3}[ -]?[0-9A-Z]{0,4})$"
_UUID = r"^(?i:[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})$"
_MAC = r"^(?i:[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5})$"
# US SSN: area 001-899 except 666, group 01-99, serial 0001-9999.
_SSN = (
    r"^(?:00[1-9]|0[1-9][0-9]|[1-578][0-9]{2}|6(?:[0-57-9][0-9]|6[0-57-9]))"
    r"-(?:0[1-9]|[1-9][0-9])-(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})$"
)
_NUMBER = r"^[+-]?[0-9]+(?:\.[0-9]+)?$"
# Web addresses, or site paths as clickstreams log them ("/basket /product/85123A").
_URL = r"^(?i:(?:https?://|www\.)\S+)$|^/\S*(?: /\S*)*$"
_GENDERS = frozenset(
    ("m", "f", "male", "female", "man", "woman", "men", "women", "other", "non-binary",
     "nonbinary", "non binary", "x", "u", "d", "w", "unknown", "diverse", "divers",
     "prefer not to say", "not specified", "männlich", "weiblich", "homme", "femme", "hombre",
     "mujer", "masculino", "feminino", "maschio", "femmina")
)  # fmt: skip
_STREET_COMPOUND = (
    r"(?i:(?:straße|strasse|str\.|weg|gasse|platz|allee|straat|laan|vej|gatan)\s*[0-9])"
)
_TEXT_SAMPLE = 2_000


@dataclass(frozen=True)
class ValueProfile:
    """Fractions of sampled values that look like each kind, and shape facts."""

    count: int
    """Non-null, non-empty values in the sample."""
    distinct: int
    fractions: dict[str, float] = field(default_factory=dict)
    mean_length: float = 0.0
    mean_words: float = 0.0
    year_span: int | None = None
    """Years between the earliest and latest date, for date-like values."""
    has_time: bool = False
    text_pii_rate: float = 0.0
    """For text: share of values with at least one PII span."""
    text_contact_rate: float = 0.0
    """For text: share of values with an email, phone, card, IBAN or IP address."""
    text_pii_kinds: tuple[str, ...] = ()
    text_rows: int = 0

    def get(self, check: str) -> float:
        return self.fractions.get(check, 0.0)

    @property
    def text_evidence(self) -> float:
        """PII share of texts, names counted at 0.4: capitalized titles and labels look like
        names far more often than they hold an email or a card number."""
        names_only = self.text_pii_rate - self.text_contact_rate
        return self.text_contact_rate + 0.4 * names_only


def profile_values(values: pa.Array) -> ValueProfile:
    """Profile a column sample of any Arrow type."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    values = values.drop_null()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _profile_strings(values.cast(pa.large_string()))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _profile_numbers(values)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return _profile_times(values)
    return ValueProfile(count=len(values), distinct=_distinct(values))


@cache
def _name_words() -> frozenset[str]:
    return first_names() | last_names() | TITLES | {"jr", "sr", "md", "phd", "ii", "iii"}


@cache
def _value_set(words: frozenset[str]) -> pa.Array:
    return pa.array(sorted(words), pa.large_string())


def _distinct(values: pa.Array) -> int:
    try:
        return len(pc.unique(values))
    except pa.ArrowNotImplementedError:
        return len(values)


def _fraction(mask: pa.Array | np.ndarray, count: int, weights: np.ndarray | None = None) -> float:
    """The share of ``count`` rows ``mask`` holds; ``weights`` counts the rows of each value."""
    if count == 0:
        return 0.0
    if not isinstance(mask, np.ndarray):
        mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    hits = int(weights[mask].sum()) if weights is not None else int(mask.sum())
    return hits / count


def _profile_strings(raw: pa.Array) -> ValueProfile:
    """Each check runs once per distinct value, weighted by how many rows hold it.

    Sampled columns repeat most of their values (countries, dates, product codes), and
    the regular expressions are the cost; the shares are the same as over every row.
    """
    rows = pc.utf8_trim_whitespace(raw)
    rows = rows.filter(pc.not_equal(pc.utf8_length(rows), 0))
    count = len(rows)
    if count == 0:
        return ValueProfile(count=0, distinct=0)
    tally = pc.value_counts(rows)
    values = tally.field("values")
    weights = tally.field("counts").to_numpy(zero_copy_only=False)
    lower = pc.utf8_lower(values)
    tokens = _tokens(values)

    def share_of(mask: pa.Array | np.ndarray) -> float:
        return _fraction(mask, count, weights)

    def share(pattern: str, on: pa.Array = values) -> float:
        return share_of(pc.match_substring_regex(on, pattern))

    def member(words: frozenset[str], on: pa.Array = lower) -> np.ndarray:
        result: np.ndarray = pc.fill_null(
            pc.is_in(on, value_set=_value_set(words)), False
        ).to_numpy(zero_copy_only=False)
        return result

    fractions: dict[str, float] = {
        "email": share(f"^(?:{EMAIL})$"),
        "ip": share(f"^(?:{IPV4})$|^(?:{IPV6})$"),
        "card": share_of(card_mask(values)),
        "iban": share_of(iban_mask(values)),
        "phone": share_of(_phone_mask(values)),
        "date": share(_DATE),
        "datetime": share(_DATETIME),
        "uk_postcode": share(_UK_POSTCODE),
        "us_zip": share(_US_ZIP),
        "postcode": share(_GENERIC_POSTCODE),
        "uuid": share(_UUID),
        "mac": share(_MAC),
        "ssn": share(_SSN),
        "number": share(_NUMBER),
        "url": share(_URL),
        "country": share_of(member(countries())),
        "city": share_of(member(cities()) | _city_shape(values)),
        "street": share_of(_street_mask(values, tokens)),
        "person": share_of(_person_mask(values, tokens)),
        **{check: share_of(mask) for check, mask in special_masks(values, lower).items()},
        **{check: share_of(mask) for check, mask in demographic_masks(values, lower).items()},
    }
    distinct = _distinct(lower)
    fractions["gender"] = share_of(member(_GENDERS)) if distinct <= 8 else 0.0
    lengths = pc.utf8_length(values).to_numpy(zero_copy_only=False)
    profile = ValueProfile(
        count=count,
        distinct=distinct,
        fractions=fractions,
        mean_length=int((lengths * weights).sum()) / count,
        mean_words=int((tokens[2] * weights).sum()) / count,
    )
    if fractions["date"] + fractions["datetime"] >= 0.8:
        profile = _with_years(profile, values, has_time=fractions["datetime"] > 0.5)
    if profile.mean_words >= 4 and profile.mean_length >= 20:
        profile = _with_text_pii(profile, rows)
    return profile


def _phone_mask(values: pa.Array) -> np.ndarray:
    shape = pc.fill_null(pc.match_substring_regex(values, _PHONE_SHAPE), False)
    core = pc.replace_substring_regex(values, r"[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6}$", "")
    digits = pc.count_substring_regex(core, "[0-9]").to_numpy(zero_copy_only=False)
    bare = pc.match_substring_regex(core, r"^[0-9]+$")
    national = pc.match_substring_regex(core, r"^0[0-9]{9,10}$")
    not_phone = pc.match_substring_regex(
        core,
        r"^[0-9]{4}[.-][0-9]{1,2}[.-][0-9]{1,2}$|^[0-9]{1,2}[.-][0-9]{1,2}[.-][0-9]{2,4}$"
        r"|^[0-9]{3}-[0-9]{2}-[0-9]{4}$|^[0-9]+\.[0-9]+$",
    )
    ok = pc.and_(pc.or_(pc.invert(bare), national), pc.invert(not_phone))
    result: np.ndarray = (
        shape.to_numpy(zero_copy_only=False)
        & pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
        & (digits >= 7)
        & (digits <= 15)
    )
    return result


def _tokens(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Words of every value (punctuation stripped, folded), their row, and words per row."""
    split = pc.utf8_split_whitespace(values)
    words = pc.utf8_lower(pc.utf8_trim(pc.list_flatten(split), characters=".,;:()'\"-"))
    parents = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
    per_row = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    return words, parents, per_row


def _per_row(hits: np.ndarray, parents: np.ndarray, rows: int) -> np.ndarray:
    return np.bincount(parents, weights=hits.astype(np.float64), minlength=rows)


def _person_mask(values: pa.Array, tokens: tuple[pa.Array, np.ndarray, np.ndarray]) -> np.ndarray:
    words, parents, per_row = tokens
    rows = len(values)
    known_set = _value_set(_name_words())
    known = pc.fill_null(pc.is_in(words, value_set=known_set), False).to_numpy(zero_copy_only=False)
    has_digit = pc.match_substring_regex(values, "[0-9]").to_numpy(zero_copy_only=False)
    known_per_row = _per_row(known, parents, rows)
    result: np.ndarray = (
        (per_row >= 1)
        & (per_row <= 5)
        & ~has_digit
        & (known_per_row >= np.maximum(1, np.ceil(per_row * 0.5)))
    )
    return result


def _street_mask(values: pa.Array, tokens: tuple[pa.Array, np.ndarray, np.ndarray]) -> np.ndarray:
    words, parents, _ = tokens
    street_words = _value_set(street_types())
    typed = pc.fill_null(pc.is_in(words, value_set=street_words), False).to_numpy(
        zero_copy_only=False
    )
    has_type = _per_row(typed, parents, len(values)) > 0
    has_type |= pc.match_substring_regex(values, _STREET_COMPOUND).to_numpy(zero_copy_only=False)
    has_digit = pc.match_substring_regex(values, "[0-9]").to_numpy(zero_copy_only=False)
    result: np.ndarray = has_type & has_digit
    return result


def _city_shape(values: pa.Array) -> np.ndarray:
    prefixes, suffixes = city_affixes()
    pattern = (
        rf"^(?:{'|'.join(prefixes)}) \p{{Lu}}\p{{L}}+$"
        rf"|^\p{{Lu}}\p{{Ll}}+(?:{'|'.join(suffixes)})$"
    )
    result: np.ndarray = pc.match_substring_regex(values, pattern).to_numpy(zero_copy_only=False)
    return result


def _with_years(profile: ValueProfile, values: pa.Array, *, has_time: bool) -> ValueProfile:
    groups = pc.extract_regex(values, r"(?:^(?P<a>[0-9]{4})-)|(?:[/.-](?P<b>[0-9]{4})(?:$|[T ]))")
    a = pc.struct_field(groups, "a")
    b = pc.struct_field(groups, "b")
    years = pc.cast(pc.if_else(pc.equal(a, ""), b, a), pa.int32(), safe=False)
    years = years.drop_null()
    span = int(pc.max(years).as_py() - pc.min(years).as_py()) if len(years) else None
    return ValueProfile(**{**profile.__dict__, "year_span": span, "has_time": has_time})


def _profile_numbers(values: pa.Array) -> ValueProfile:
    count = len(values)
    fractions: dict[str, float] = {"number": 1.0 if count else 0.0}
    if count and (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        # Integers past 2**53 round to the nearest double: fine for profiling shapes.
        numbers = values.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        integral = np.isfinite(numbers) & (numbers == np.floor(numbers))
        fractions["integral"] = float(integral.mean())
        fractions["age_range"] = float(((numbers >= 0) & (numbers <= 120) & integral).mean())
        if pa.types.is_integer(values.type) and float(np.nanmax(np.abs(numbers))) >= 1e12:
            fractions["card"] = _fraction(card_mask(values.cast(pa.large_string())), count)
    return ValueProfile(count=count, distinct=_distinct(values), fractions=fractions)


def _profile_times(values: pa.Array) -> ValueProfile:
    count = len(values)
    if count == 0:
        return ValueProfile(count=0, distinct=0)
    years = pc.year(values)
    span = int(pc.max(years).as_py() - pc.min(years).as_py())
    has_time = False
    if pa.types.is_timestamp(values.type):
        seconds = values.cast(pa.timestamp("s"), safe=False).cast(pa.int64())
        has_time = bool((seconds.to_numpy(zero_copy_only=False) % 86_400 != 0).any())
    return ValueProfile(
        count=count,
        distinct=_distinct(values),
        fractions={"date": 1.0},
        year_span=span,
        has_time=has_time,
    )


def _with_text_pii(profile: ValueProfile, values: pa.Array) -> ValueProfile:
    sample = values.slice(0, _TEXT_SAMPLE)
    candidates = _rows_with_candidates(sample)
    kinds: dict[str, int] = {}
    with_pii = with_contact = 0
    for text in sample.take(pa.array(candidates, pa.int64())).to_pylist():
        spans = find_text_pii(text)
        if spans:
            with_pii += 1
            with_contact += any(span.kind is not Kind.PERSON_NAME for span in spans)
            for span in spans:
                kinds[span.kind.value] = kinds.get(span.kind.value, 0) + 1
    ordered = tuple(k.value for k in TEXT_KINDS if k.value in kinds)
    return ValueProfile(
        **{
            **profile.__dict__,
            "text_pii_rate": with_pii / len(sample),
            "text_contact_rate": with_contact / len(sample),
            "text_pii_kinds": ordered,
            "text_rows": len(sample),
        }
    )
