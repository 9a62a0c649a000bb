"""Fabricated customers: names from Faker's word lists, everything built column-wise."""

from __future__ import annotations

import importlib
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.data._generator._ids import card_numbers, customer_ids, format_ips, ip_octets
from shopveil.data._generator._places import (
    COUNTRIES,
    ENGLISH_STREET_STEMS,
    GLOBAL_DOMAINS,
    Country,
)
from shopveil.data._generator._vec import (
    by_group,
    concat,
    digits,
    fill_pattern,
    pick,
    weighted_choice,
)

__all__ = ["CUSTOMER_SCHEMA", "PERIOD_END", "Customers", "NamePool", "make_customers", "name_pool"]

PERIOD_END = np.datetime64("2011-09-30", "D")
_SIGNUP_START = np.datetime64("2006-01-01", "D")
_EMAIL_SHAPES = (
    ("{f}.{l}", 0.35),
    ("{f}{l}", 0.12),
    ("{i}{l}", 0.14),
    ("{f}.{l}{yy}", 0.14),
    ("{f}_{l}", 0.05),
    ("{f}{yy}", 0.08),
    ("{l}.{f}", 0.05),
    ("{f}.{l}{nnn}", 0.07),
)
_GLOBAL_DOMAIN_WEIGHTS = np.array([0.45, 0.2, 0.15, 0.12, 0.08])
_LOCAL_DOMAIN_SHARE = 0.3

CUSTOMER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("street_address", pa.string()),
        ("postcode", pa.string()),
        ("city", pa.string()),
        ("country", pa.string()),
        ("birth_date", pa.date32()),
        ("gender", pa.string()),
        ("loyalty_id", pa.string()),
        ("card_number", pa.string()),
        ("ip_address", pa.string()),
        ("signup_date", pa.date32()),
        ("opted_out_of_sale", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class NamePool:
    """One locale's first and last names, with weights and e-mail-safe ASCII forms."""

    first: pa.Array  # female names, then male names
    first_ascii: pa.Array
    female_weights: np.ndarray
    male_weights: np.ndarray
    last: pa.Array
    last_ascii: pa.Array
    last_weights: np.ndarray


@dataclass(frozen=True)
class Customers:
    """The customers table plus the columns other tables derive from it."""

    table: pa.Table
    country: np.ndarray  # index into COUNTRIES
    signup: np.ndarray  # datetime64[D]
    first_name: pa.Array
    ip: np.ndarray  # (n, 4) octets of ``ip_address``


@cache
def name_pool(locale: str) -> NamePool:
    """The name lists of Faker's ``locale`` person provider."""
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    female, female_w = _weighted(provider.first_names_female)
    male, male_w = _weighted(provider.first_names_male)
    last, last_w = _weighted(provider.last_names)
    first = female + male
    return NamePool(
        first=pa.array(first, pa.string()),
        first_ascii=pa.array([_ascii(n) for n in first], pa.string()),
        female_weights=female_w,
        male_weights=male_w,
        last=pa.array(last, pa.string()),
        last_ascii=pa.array([_ascii(n) for n in last], pa.string()),
        last_weights=last_w,
    )


@cache
def _genders() -> pa.StringArray:
    return pa.array(["F", "M", "X"], pa.string())


def make_customers(rng: np.random.Generator, n: int) -> Customers:
    """``n`` customers, ids ``10000001`` upwards, spread over :data:`COUNTRIES`."""
    country = weighted_choice(rng, np.array([c.weight for c in COUNTRIES]), n)
    birth = _birth_dates(rng, n)
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    columns = by_group(
        country,
        len(COUNTRIES),
        lambda g, rows: _local_columns(rng, COUNTRIES[g], birth_year[rows]),
    )
    adult = (birth.astype("datetime64[M]") + np.timedelta64(18 * 12, "M")).astype("datetime64[D]")
    signup = _signup_dates(rng, n, np.maximum(adult, _SIGNUP_START))
    loyalty = concat(["LC", digits(rng, n, 10)], n)
    card = card_numbers(rng, n)
    ip = ip_octets(rng, n)
    member = pa.array(rng.random(n) < 0.65)
    table = pa.Table.from_arrays(
        [
            customer_ids(np.arange(n)),
            columns["name"],
            _unique_emails(columns["email"]),
            columns["phone"],
            columns["street_address"],
            columns["postcode"],
            columns["city"],
            columns["country"],
            pa.array(birth, pa.date32()),
            columns["gender"],
            pc.if_else(member, loyalty, pa.scalar(None, pa.string())),
            card,
            format_ips(ip),
            pa.array(signup, pa.date32()),
            pa.array(rng.random(n) < 0.1),
        ],
        schema=CUSTOMER_SCHEMA,
    )
    return Customers(table, country, signup, columns["first_name"], ip)


def _local_columns(
    rng: np.random.Generator, country: Country, birth_year: np.ndarray
) -> dict[str, pa.Array]:
    m = len(birth_year)
    pool = name_pool(country.locale)
    n_female = len(pool.female_weights)
    gender = weighted_choice(rng, np.array([0.5, 0.48, 0.02]), m)  # F, M, X
    female = weighted_choice(rng, pool.female_weights, m)
    male = n_female + weighted_choice(rng, pool.male_weights, m)
    either = np.where(rng.random(m) < 0.5, female, male)
    first_idx = np.where(gender == 0, female, np.where(gender == 1, male, either))
    last_idx = weighted_choice(rng, pool.last_weights, m)
    first, last = pick(pool.first, first_idx), pick(pool.last, last_idx)
    city, postcode = _cities(rng, country, m)
    return {
        "first_name": first,
        "name": concat([first, " ", last], m),
        "email": _emails(
            rng,
            country,
            pick(pool.first_ascii, first_idx),
            pick(pool.last_ascii, last_idx),
            birth_year,
        ),
        "phone": _from_patterns(rng, country.phones, m),
        "street_address": _streets(rng, country, pool, m),
        "postcode": postcode,
        "city": city,
        "country": pa.repeat(pa.scalar(country.name, pa.string()), m),
        "gender": pick(_genders(), gender),
    }


def _emails(
    rng: np.random.Generator,
    country: Country,
    first: pa.Array,
    last: pa.Array,
    birth_year: np.ndarray,
) -> pa.Array:
    m = len(first)
    tokens = {
        "f": first,
        "l": last,
        "i": pc.utf8_slice_codeunits(first, 0, 1),
        "yy": pc.utf8_lpad(pc.cast(pa.array(birth_year % 100), pa.string()), 2, "0"),
        "nnn": pc.cast(pa.array(rng.integers(1, 1000, m)), pa.string()),
    }
    shape = weighted_choice(rng, np.array([w for _, w in _EMAIL_SHAPES]), m)

    def local_part(g: int, rows: np.ndarray) -> dict[str, pa.Array]:
        index = pa.array(rows)
        parts: list[pa.Array | str] = []
        for literal, token in _split_shape(_EMAIL_SHAPES[g][0]):
            if literal:
                parts.append(literal)
            if token:
                parts.append(tokens[token].take(index))
        return {"local": concat(parts, len(rows))}

    local = by_group(shape, len(_EMAIL_SHAPES), local_part)["local"]
    local_domains = pa.array(country.domains)
    domain = pc.if_else(
        pa.array(rng.random(m) < _LOCAL_DOMAIN_SHARE),
        pick(local_domains, rng.integers(0, len(local_domains), m)),
        pick(pa.array(GLOBAL_DOMAINS), weighted_choice(rng, _GLOBAL_DOMAIN_WEIGHTS, m)),
    )
    return concat([local, "@", domain], m)


def _unique_emails(email: pa.Array) -> pa.Array:
    """People share names, but an account's e-mail is unique: number the repeats.

    ``anna.smith@…`` seen again becomes ``anna.smith.2@…``. No base shape ends in a dot and
    digits, so one round settles it; the loop only confirms.
    """
    while True:
        codes = email.dictionary_encode().indices.to_numpy()
        rows = np.flatnonzero(np.bincount(codes)[codes] > 1)
        if len(rows) == 0:
            return email
        seen = _occurrence(codes[rows])
        subset = email.take(pa.array(rows))
        halves = pc.split_pattern(subset, "@", max_splits=1)
        local, domain = pc.list_element(halves, 0), pc.list_element(halves, 1)
        number = pc.cast(pa.array(seen), pa.string())
        numbered = concat([local, ".", number, "@", domain], len(rows))
        subset = pc.if_else(pa.array(seen > 1), numbered, subset)
        mask = np.zeros(len(email), dtype=bool)
        mask[rows] = True
        email = pc.replace_with_mask(email, pa.array(mask), subset)


def _occurrence(codes: np.ndarray) -> np.ndarray:
    """For each code, how many times it occurred up to and including this position."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    group_start = np.repeat(starts, np.diff(np.concatenate([starts, [len(codes)]])))
    seen = np.empty(len(codes), dtype=np.int64)
    seen[order] = np.arange(len(codes)) - group_start + 1
    return seen


def _split_shape(shape: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    rest = shape
    while rest:
        literal, _, tail = rest.partition("{")
        token, _, rest = tail.partition("}")
        out.append((literal, token))
    return out


def _from_patterns(rng: np.random.Generator, patterns: tuple[str, ...], m: int) -> pa.Array:
    which = rng.integers(0, len(patterns), m)
    return by_group(
        which,
        len(patterns),
        lambda g, rows: {"v": fill_pattern(rng, patterns[g], len(rows))},
    )["v"]


def _cities(rng: np.random.Generator, country: Country, m: int) -> tuple[pa.Array, pa.Array]:
    weights = np.array([w for _, w, _ in country.cities])
    city_idx = weighted_choice(rng, weights, m)
    patterns = [p for _, _, pats in country.cities for p in pats]
    first_pattern = np.cumsum([0] + [len(pats) for _, _, pats in country.cities])
    n_patterns = np.diff(first_pattern)
    which = first_pattern[city_idx] + (rng.random(m) * n_patterns[city_idx]).astype(np.int64)
    postcode = by_group(
        which,
        len(patterns),
        lambda g, rows: {"v": fill_pattern(rng, patterns[g], len(rows))},
    )["v"]
    return pick(pa.array([c for c, _, _ in country.cities]), city_idx), postcode


def _streets(rng: np.random.Generator, country: Country, pool: NamePool, m: int) -> pa.Array:
    names = pick(pool.last, weighted_choice(rng, pool.last_weights, m))
    if country.locale.startswith("en"):
        stems = pa.array(ENGLISH_STREET_STEMS)
        stem = pick(stems, rng.integers(0, len(stems), m))
        names = pc.if_else(pa.array(rng.random(m) < 0.5), stem, names)
    # House numbers: most are small, a few run into the hundreds.
    number = pc.cast(pa.array(np.exp(rng.random(m) * np.log(250)).astype(np.int64)), pa.string())
    types = pa.array(country.street_types)
    tokens = {"n": number, "name": names, "sfx": pick(types, rng.integers(0, len(types), m))}
    parts: list[pa.Array | str] = []
    for literal, token in _split_shape(country.street):
        if literal:
            parts.append(literal)
        if token:
            parts.append(tokens[token])
    return concat(parts, m)


def _birth_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    # Shoppers from 18 to 85 at the end of the period, most between 30 and 60.
    age_days = ((18 + 67 * rng.beta(2.2, 3.0, n)) * 365.25).astype(np.int64)
    return PERIOD_END - age_days.astype("timedelta64[D]")


def _signup_dates(rng: np.random.Generator, n: int, earliest: np.ndarray) -> np.ndarray:
    # Skewed towards recent sign-ups, as a growing shop's base is.
    span = (PERIOD_END - earliest).astype(np.int64)
    offset = (rng.beta(2.0, 1.2, n) * (span + 1)).astype(np.int64).clip(0, span)
    return earliest + offset.astype("timedelta64[D]")


def _weighted(names: object) -> tuple[list[str], np.ndarray]:
    if isinstance(names, dict):
        keys = [str(k) for k in names]
        weights = np.array([float(v) for v in names.values()])
    else:
        keys = [str(k) for k in names]  # type: ignore[attr-defined]
        weights = np.ones(len(keys))
    return keys, weights / weights.sum()


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum()) or "user"
