"""Demographic and socio-economic attributes by their values: marital status, education,
occupation and employment, income classes.

These are quasi-identifiers (a 40-year-old widowed farmer in a small town is few
people), except an income class, which is what a study of the table would learn about a
person and so is sensitive. Like the special-category checks, each list is a short,
closed vocabulary matched whole-value after case folding, with the spellings of the
census-style tables privacy benchmarks use (UCI Adult, MovieLens).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core import Kind

__all__ = ["DEMOGRAPHIC_VALUE_CHECKS", "demographic_masks"]

_MARITAL = (
    "married", "single", "divorced", "widowed", "widow", "widower", "separated",
    "never-married", "never married", "married-civ-spouse", "married-spouse-absent",
    "married-af-spouse", "civil partnership", "civil partner", "domestic partner",
    "cohabiting", "engaged", "in a relationship", "unmarried", "husband", "wife",
    "own-child", "not-in-family", "other-relative", "casado", "casada", "solteiro",
    "solteira", "soltero", "soltera", "divorciado", "divorciada", "viúvo", "viúva", "viudo",
    "viuda", "verheiratet", "ledig", "geschieden", "verwitwet", "marié", "mariée",
    "célibataire", "divorcé", "divorcée", "veuf", "veuve",
)  # fmt: skip
_EDUCATION = (
    "preschool", "1st-4th", "5th-6th", "7th-8th", "9th", "10th", "11th", "12th", "hs-grad",
    "some-college", "assoc-acdm", "assoc-voc", "bachelors", "bachelor", "masters", "master",
    "doctorate", "prof-school", "phd", "high school", "secondary", "primary", "college",
    "university", "graduate", "postgraduate", "undergraduate", "diploma", "gcse", "a-level",
    "a levels", "no qualifications", "ensino médio", "ensino fundamental", "ensino superior",
    "abitur", "hauptschule", "realschule", "baccalauréat", "licence",
)  # fmt: skip
_OCCUPATION = (
    # Adult's occupation and workclass, MovieLens's occupations, common labels.
    "tech-support", "craft-repair", "other-service", "sales", "exec-managerial",
    "prof-specialty", "handlers-cleaners", "machine-op-inspct", "adm-clerical",
    "farming-fishing", "transport-moving", "priv-house-serv", "protective-serv",
    "armed-forces", "private", "self-emp-not-inc", "self-emp-inc", "federal-gov",
    "local-gov", "state-gov", "without-pay", "never-worked", "administrator", "artist",
    "doctor", "educator", "engineer", "entertainment", "executive", "healthcare",
    "homemaker", "lawyer", "librarian", "marketing", "programmer", "retired", "salesman",
    "scientist", "student", "technician", "writer", "teacher", "nurse", "manager", "clerk",
    "employed", "unemployed", "self-employed", "full-time", "part-time", "farmer", "driver",
)  # fmt: skip
# "<=50K", ">50K", "50k-100k", "£20,000-£29,999": income classes and bands.
_INCOME_CLASS = (
    r"^(?:[<>]=?\s*[$£€]?[0-9][0-9,.]*\s*[kKmM]?"
    r"|[$£€][0-9][0-9,.]*\s*[kK]?\s*(?:-|to)\s*[$£€]?[0-9][0-9,.]*\s*[kK]?\+?"
    r"|[0-9]+[kK]\s*(?:-|to)\s*[0-9]+[kK]\+?)$"
)

DEMOGRAPHIC_VALUE_CHECKS: tuple[tuple[str, Kind, float, str], ...] = (
    ("marital", Kind.MARITAL_STATUS, 0.9, "marital or family statuses"),
    ("education", Kind.EDUCATION, 0.9, "education levels"),
    ("occupation", Kind.OCCUPATION, 0.8, "occupations or employment classes"),
    ("income_class", Kind.INCOME, 0.6, "income classes or bands"),
)
"""(check, kind, weight, what the values are) in the form of the detector's value checks."""


@cache
def _words(check: str) -> pa.Array:
    lists = {"marital": _MARITAL, "education": _EDUCATION, "occupation": _OCCUPATION}
    return pa.array(sorted(lists[check]), pa.large_string())


def demographic_masks(values: pa.Array, lower: pa.Array) -> dict[str, np.ndarray]:
    """Which of ``values`` (trimmed, non-empty) each demographic check matches."""
    masks = {}
    for check in ("marital", "education", "occupation"):
        hits = pc.fill_null(pc.is_in(lower, value_set=_words(check)), False)
        masks[check] = hits.to_numpy(zero_copy_only=False)
    income = pc.fill_null(pc.match_substring_regex(values, _INCOME_CLASS), False)
    masks["income_class"] = income.to_numpy(zero_copy_only=False)
    return masks
