"""Word lists: person names, countries, cities, street types, titles.

Names and places come from Faker's locale providers (a core dependency), so they cover
the locales the synthetic generator draws from and several more. Lists are built once,
on first use, and are immutable.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from functools import cache

__all__ = [
    "GREETINGS",
    "TITLES",
    "cities",
    "common_words",
    "countries",
    "first_names",
    "last_names",
    "street_types",
    "text_first_names",
    "text_last_names",
]

_PERSON_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_IN", "de_DE", "fr_FR", "es_ES", "es_MX", "pt_BR",
    "pt_PT", "it_IT", "nl_NL", "sv_SE", "da_DK", "no_NO", "fi_FI", "pl_PL", "cs_CZ",
    "hu_HU", "ru_RU", "el_GR", "tr_TR", "ja_JP", "zh_CN",
)  # fmt: skip
_PLACE_LOCALES = (
    "en_US", "en_GB", "en_IN", "de_DE", "fr_FR", "es_ES", "pt_BR", "it_IT", "nl_NL",
    "pl_PL", "sv_SE", "da_DK", "zh_CN",
)  # fmt: skip

TITLES = frozenset(
    ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lady", "lord", "madam",
     "madame", "mme", "mlle", "herr", "frau", "sr", "sra", "srta", "dott", "sig")
)  # fmt: skip
GREETINGS = frozenset(
    ("hi", "hello", "hey", "dear", "thanks", "thank", "cheers", "regards", "hallo", "bonjour",
     "hola")
)  # fmt: skip

# Street-type words and abbreviations beyond Faker's English suffixes.
_STREET_WORDS = (
    "st str rd ave av blvd ln dr ct pl sq hwy pkwy ter terr cres cl gdns mews row walk "
    "close gardens hill parade green wharf yard "
    "straße strasse weg gasse platz allee ring damm ufer chaussee "
    "rue chemin allée impasse quai cours place "
    "calle avenida plaza paseo camino carrera carretera ronda "
    "rua travessa praça largo estrada alameda "
    "via viale piazza corso vicolo "
    "straat laan plein gracht kade singel "
    "ulica aleja gatan vägen vej gade"
)


_FUNCTION_WORDS = (
    "i me my mine you your yours he him his she her hers it its we us our they them their "
    "this that these those who whom whose which what when where why how a an the and or "
    "but nor so yet if then than as at by for from in into of off on onto out over to up "
    "with without about after before below between under again once here there all any "
    "both each few more most other some such no not only own same too very can will just "
    "should would could may might must shall do does did done be is am are was were been "
    "being have has had having hi hello hey dear thanks thank please yes yeah ok okay sure "
    "sorry welcome bye goodbye cheers regards best kind love mom mum dad sir madam "
    "today tomorrow tonight yesterday later soon now asap back anytime whenever morning "
    "afternoon evening night week weekend monday tuesday wednesday thursday friday "
    "saturday sunday"
)


def _provider(kind: str, locale: str) -> object | None:
    try:
        return importlib.import_module(f"faker.providers.{kind}.{locale}").Provider
    except ImportError:
        return None


def _words(kind: str, locales: Iterable[str], attribute: str) -> set[str]:
    found: set[str] = set()
    for locale in locales:
        provider = _provider(kind, locale)
        values = getattr(provider, attribute, None) if provider is not None else None
        if values and not isinstance(values, property):  # computed per instance: skipped
            found.update(str(value) for value in values)  # dict-valued lists: their keys
    return found


@cache
def first_names() -> frozenset[str]:
    """First names, folded to lower case."""
    names = _words("person", _PERSON_LOCALES, "first_names")
    names |= _words("person", _PERSON_LOCALES, "first_names_male")
    names |= _words("person", _PERSON_LOCALES, "first_names_female")
    return frozenset(name.casefold() for name in names if len(name) > 1 or not name.isascii())


@cache
def last_names() -> frozenset[str]:
    """Last names, folded to lower case."""
    names = _words("person", _PERSON_LOCALES, "last_names")
    return frozenset(name.casefold() for name in names if len(name) > 1 or not name.isascii())


# Faker's per-locale lists of names, romanized and regional ones among them.
_FIRST_NAME_LISTS = (
    "first_names", "first_names_male", "first_names_female", "first_names_unisex",
    "first_names_nonbinary", "first_romanized_names", "first_romanized_names_male",
    "first_romanized_names_female", "first_names_male_islamic", "first_names_female_islamic",
    "first_names_male_hinduism", "first_names_female_hinduism", "first_names_rus",
    "first_names_male_rus", "first_names_female_rus", "first_names_est",
    "first_names_male_est", "first_names_female_est",
)  # fmt: skip
_LAST_NAME_LISTS = (
    "last_names", "last_names_male", "last_names_female", "last_names_unisex",
    "last_romanized_names", "last_names_islamic", "last_names_female_islamic",
    "last_names_hinduism", "last_names_rus", "last_names_est", "last_names_without_suffix",
)  # fmt: skip


def _all_person_locales() -> tuple[str, ...]:
    import faker.providers.person

    return tuple(sorted(m.name for m in pkgutil.iter_modules(faker.providers.person.__path__)))


@cache
def common_words() -> frozenset[str]:
    """Everyday English words (Faker's English lorem list and function words), folded:
    a word here is not taken for a name on the strength of a name list alone."""
    words = _words("lorem", ("en_US",), "word_list")
    words |= set(_FUNCTION_WORDS.split())
    return frozenset(word.casefold() for word in words)


@cache
def text_first_names() -> frozenset[str]:
    """:func:`first_names` and the first names of every other locale Faker knows (Icelandic,
    Slovak, Hungarian ...), less everyday English words ("Can", "Will" stay only where
    the base locales have them): for names in free text."""
    return first_names() | _every_locale(_FIRST_NAME_LISTS)


@cache
def text_last_names() -> frozenset[str]:
    """:func:`last_names` and every other locale's, less everyday English words."""
    return last_names() | _every_locale(_LAST_NAME_LISTS)


def _every_locale(attributes: Iterable[str]) -> frozenset[str]:
    names: set[str] = set()
    for attribute in attributes:
        names |= _words("person", _all_person_locales(), attribute)
    return frozenset({name.casefold() for name in names if len(name) > 2} - common_words())


@cache
def countries() -> frozenset[str]:
    """Country names in several languages and ISO 3166 alpha-2 / alpha-3 codes, folded."""
    names = _words("address", _PLACE_LOCALES, "countries")
    names |= _words("address", ("en_US",), "alpha_2_country_codes")
    names |= _words("address", ("en_US",), "alpha_3_country_codes")
    # Spellings used by real retail exports (UCI Online Retail among them).
    names |= {
        "UK", "U.K.", "USA", "U.S.A.", "US", "EIRE", "Ireland", "Channel Islands", "RSA",
        "European Community", "European Union", "EU", "Russia", "South Korea", "Korea",
        "Czech Republic", "Czechia", "United Arab Emirates", "UAE", "Great Britain",
        "England", "Scotland", "Wales", "Northern Ireland", "Holland", "Deutschland",
        "Unspecified",
    }  # fmt: skip
    return frozenset(name.casefold() for name in names)


@cache
def cities() -> frozenset[str]:
    """City names from Faker's gazetteers, folded."""
    return frozenset(name.casefold() for name in _words("address", _PLACE_LOCALES, "cities"))


@cache
def city_affixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Prefixes and suffixes of generated English city names ("Port ...", "...ville")."""
    prefixes = _words("address", ("en_US", "en_GB"), "city_prefixes")
    suffixes = _words("address", ("en_US", "en_GB"), "city_suffixes")
    return tuple(sorted(prefixes)), tuple(sorted(suffixes))


@cache
def street_types() -> frozenset[str]:
    """Street-type words ("Street", "Rd", "Straße", "rue" ...), folded."""
    words = _words("address", ("en_US", "en_GB", "en_AU", "en_CA"), "street_suffixes")
    words |= set(_STREET_WORDS.split())
    return frozenset(word.casefold() for word in words)
