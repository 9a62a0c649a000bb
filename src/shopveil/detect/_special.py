"""Special categories by their values: religions, ethnic groups, health conditions,
sexual orientations and coordinates.

A column named ``notes`` or ``attribute_7`` can hold a customer's religion or a
diagnosis; these checks measure the share of sampled values that are such labels. The
word lists are short, closed vocabularies: a column of them is a category, not free
text, so a high share is strong evidence. Each list is matched whole-value, after case
folding, so a product called "Christian Dior scarf" is not a religion.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core import Kind

__all__ = ["SPECIAL_VALUE_CHECKS", "special_masks"]

_RELIGIONS = (
    "christian", "christianity", "catholic", "roman catholic", "protestant", "orthodox",
    "evangelical", "lutheran", "anglican", "methodist", "baptist", "mormon", "muslim",
    "islam", "sunni", "shia", "jewish", "judaism", "hindu", "hinduism", "buddhist",
    "buddhism", "sikh", "sikhism", "jain", "taoist", "shinto", "atheist", "agnostic",
    "no religion", "spiritual", "pagan", "bahai", "baha'i", "jehovah's witness",
)  # fmt: skip
_ETHNICITIES = (
    "white", "black", "asian", "hispanic", "latino", "latina", "latinx", "mixed",
    "multiracial", "arab", "caucasian", "african american", "black british", "white british",
    "white other", "asian british", "indian", "pakistani", "bangladeshi", "chinese",
    "native american", "pacific islander", "indigenous", "roma", "han", "uyghur", "tibetan",
    "pardo", "preto", "branco", "amarelo", "indígena", "middle eastern", "other ethnic group",
)  # fmt: skip
_CONDITIONS = (
    "diabetes", "type 1 diabetes", "type 2 diabetes", "asthma", "hypertension", "cancer",
    "depression", "anxiety", "epilepsy", "hiv", "hiv positive", "arthritis", "migraine",
    "adhd", "autism", "dementia", "coeliac", "celiac", "celiac disease", "coeliac disease",
    "pregnant", "pregnancy", "lactose intolerant", "lactose intolerance", "nut allergy",
    "peanut allergy", "gluten intolerance", "eczema", "psoriasis", "obesity",
    "heart disease", "copd", "multiple sclerosis", "parkinson's", "bipolar disorder",
    "crohn's disease", "ibs", "hearing impaired", "visually impaired", "wheelchair user",
)  # fmt: skip
_ORIENTATIONS = (
    "heterosexual", "straight", "gay", "lesbian", "bisexual", "pansexual", "asexual",
    "queer", "homosexual", "lgbt", "lgbtq", "lgbtq+",
)  # fmt: skip
# "51.5074, -0.1278" or "51.5074 -0.1278": a latitude and a longitude to 3+ decimals
# (about 100 m), which is what makes a location precise.
_COORDINATES = (
    r"^[+-]?(?:[0-8]?[0-9](?:\.[0-9]{3,})|90(?:\.0{3,}))[,; ]\s*"
    r"[+-]?(?:1[0-7][0-9]|[0-9]?[0-9])\.[0-9]{3,}$"
)

SPECIAL_VALUE_CHECKS: tuple[tuple[str, Kind, float, str], ...] = (
    ("religion", Kind.RELIGION, 0.9, "religions or beliefs"),
    ("ethnicity", Kind.ETHNICITY, 0.6, "ethnic groups"),  # colours share words
    ("health", Kind.HEALTH, 0.9, "health conditions"),
    ("orientation", Kind.SEX_LIFE, 0.9, "sexual orientations"),
    ("coordinates", Kind.PRECISE_LOCATION, 1.0, "latitude, longitude pairs"),
)
"""(check, kind, weight, what the values are) in the form of the detector's value checks."""


@cache
def _words(check: str) -> pa.Array:
    lists = {
        "religion": _RELIGIONS,
        "ethnicity": _ETHNICITIES,
        "health": _CONDITIONS,
        "orientation": _ORIENTATIONS,
    }
    return pa.array(sorted(lists[check]), pa.large_string())


def special_masks(values: pa.Array, lower: pa.Array) -> dict[str, np.ndarray]:
    """Which of ``values`` (trimmed, non-empty) each special-category check matches.

    ``lower`` is ``values`` case-folded. Word checks match whole values from closed lists;
    the coordinate check matches latitude, longitude pairs.
    """
    masks = {}
    for check in ("religion", "ethnicity", "health", "orientation"):
        hits = pc.fill_null(pc.is_in(lower, value_set=_words(check)), False)
        masks[check] = hits.to_numpy(zero_copy_only=False)
    coordinates = pc.fill_null(pc.match_substring_regex(values, _COORDINATES), False)
    masks["coordinates"] = coordinates.to_numpy(zero_copy_only=False)
    return masks
