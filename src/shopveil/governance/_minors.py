"""Minors left out of a release, a query or a fit: by the table's own birth date or age,
or by a table of the same customers that has one.

A row stays when the customer is at least the policy's age on the day ages are counted,
or a guardian consented (a true flag in the guardian column). A row whose age cannot be
read (no birth date, a date in the future, text that is not a number) is left out or
kept as the law decides (``unknown_age``): GDPR, LGPD and PIPL leave it out, CCPA, which
asks actual knowledge of the age, keeps it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.classes import Kind
from shopveil._core.subjects import canonical_ids
from shopveil.data import read_table
from shopveil.detect import scan_table
from shopveil.errors import ParameterError, PolicyError, SchemaError
from shopveil.governance._bases import CONTRACT_PURPOSES, consent_purpose
from shopveil.policy import Jurisdiction, MinorCheck, UnknownAge, load_policy, minor_check

__all__ = ["PeopleAges", "fit_minors", "not_minors", "people_ages"]

_YES = ("true", "t", "yes", "y", "1")
_OLDEST = 130  # an age past this is a typo, not an age


def not_minors(batch: pa.RecordBatch | pa.Table, check: MinorCheck) -> np.ndarray:
    """One bool per row of ``batch``: True where the row may stay."""
    if check.age_column is None or check.age_kind is None:
        raise SchemaError("the minors check has no age column to read in this table")
    ages = _ages(batch.column(check.age_column), check.age_kind, check)
    keep = ages >= check.age  # NaN (unknown) compares False
    if check.unknown_age is UnknownAge.INCLUDE:
        keep |= np.isnan(ages)
    if check.guardian_column in batch.schema.names:
        keep |= _flags(batch.column(check.guardian_column))
    return keep


@dataclass(frozen=True)
class PeopleAges:
    """Which customers a release may hold, by a table of the same customers' ages.

    Implements :class:`shopveil._core.subjects.SubjectFilter`. A customer the table does
    not hold, or a row without an id, is of unknown age.
    """

    check: MinorCheck
    known: pa.Array  # canonical ids of every customer in the table of ages
    minors: pa.Array  # canonical ids of those left out: minors without a guardian's consent

    @property
    def requires_grant(self) -> bool:
        """True when a row of unknown age (no id, no age) is left out."""
        return self.check.unknown_age is UnknownAge.EXCLUDE

    def allowed(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """One bool per id: True where the customer is no minor left out."""
        canonical = canonical_ids(ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids)
        known = _member(canonical, self.known)
        minor = _member(canonical, self.minors)
        keep: np.ndarray = known & ~minor
        if not self.requires_grant:
            keep |= ~known
        return keep

    def describe(self) -> str:
        """The rule in words, for notes."""
        return self.check.describe()


def people_ages(path: str | os.PathLike[str], check: MinorCheck) -> PeopleAges:
    """Read a table of customers' ages (``path``) into the filter for ``check``."""
    table = read_table(Path(path))
    labels = scan_table(table).labels()
    kinds = {column: kind for column, (_, kind) in labels.items()}
    ids = [c for c, k in kinds.items() if k is Kind.CUSTOMER_ID]
    age_columns = [c for c, k in kinds.items() if k is Kind.BIRTH_DATE]
    age_columns += [c for c, k in kinds.items() if k is Kind.AGE]
    if not ids or not age_columns:
        missing = "a customer id column" if not ids else "a birth date or age column"
        raise SchemaError(
            f"{Path(path).name}: the table of ages has no {missing}; give the customers' "
            "table with their id and birth date (or age)"
        )
    own = dataclasses.replace(check, age_column=age_columns[0], age_kind=kinds[age_columns[0]])
    keep = not_minors(table, own)
    canonical = canonical_ids(table.column(ids[0]).combine_chunks())
    valid = np.asarray(pc.is_valid(canonical).to_numpy(zero_copy_only=False), dtype=bool)
    return PeopleAges(
        check=own,
        known=pc.unique(canonical.filter(pa.array(valid))),
        minors=pc.unique(canonical.filter(pa.array(valid & ~keep))),
    )


def fit_minors(
    purpose: str,
    jurisdiction: Jurisdiction | str | None,
    people: str | os.PathLike[str] | None,
    *,
    as_of: date | None = None,
    unknown_without_people: bool = False,
) -> PeopleAges | None:
    """Who a fit (or a query) for ``purpose`` leaves out as a minor under ``jurisdiction``'s
    preset, by ``people``, a table of the customers' ids and birth dates or ages.

    None when no law is named, or its preset keeps minors in for the purpose (a fit's
    ``personalization`` is the presets' ``model_training``). Without ``people``, where the
    law leaves rows of unknown age out, raises :class:`PolicyError`: purchase histories
    carry no age, so every customer's would go; with ``unknown_without_people`` (a
    service, which must run on) every customer is then of unknown age and left out.
    """
    if jurisdiction is None:
        return None
    try:
        law = Jurisdiction(jurisdiction)
    except ValueError:
        choices = ", ".join(j.value for j in Jurisdiction)
        raise ParameterError(
            f"unknown jurisdiction {jurisdiction!r}; use one of {choices}"
        ) from None
    minors = load_policy(law.value).minors
    wanted = consent_purpose(purpose)
    if minors is None or wanted is None:
        return None
    named = [p for p in sorted(minors.purposes) if p not in CONTRACT_PURPOSES]
    same = [p for p in named if consent_purpose(p) is wanted]
    if not same:
        return None
    check = minor_check(minors, same[0], {}, as_of or date.today())
    assert check is not None  # same[0] is one of minors.purposes
    if people is None:
        if check.unknown_age is UnknownAge.EXCLUDE and unknown_without_people:
            no_one = pa.array([], pa.string())
            return PeopleAges(check=check, known=no_one, minors=no_one)
        if check.unknown_age is UnknownAge.EXCLUDE:
            raise PolicyError(
                f"{check.origin}: purpose {purpose!r} leaves out customers under {check.age} "
                f"under {law.value}, and purchase histories carry no age; pass --people FILE "
                "(people=), the customers' table with their id and birth date or age"
            )
        return None
    return people_ages(people, check)


def _member(values: pa.Array, found: pa.Array) -> np.ndarray:
    hits = pc.fill_null(pc.is_in(values, value_set=found), False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _ages(values: pa.Array | pa.ChunkedArray, kind: Kind, check: MinorCheck) -> np.ndarray:
    """Whole years of age at ``check.as_of``, NaN where unknown."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if kind is Kind.AGE:
        years = _numbers(values)
    else:
        dates = _dates(values)
        year = _filled(pc.year(dates))
        month, day = _filled(pc.month(dates)), _filled(pc.day(dates))
        as_of = check.as_of
        before_birthday = (month > as_of.month) | ((month == as_of.month) & (day > as_of.day))
        years = as_of.year - year - before_birthday
    return np.where((years >= 0) & (years <= _OLDEST), years, np.nan)


def _numbers(values: pa.Array) -> np.ndarray:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return _filled(values.cast(pa.float64()))
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    number = pc.fill_null(pc.match_substring_regex(text, r"^[0-9]{1,3}(\.[0-9]+)?$"), False)
    return _filled(pc.if_else(number, text, pa.scalar(None, pa.string())).cast(pa.float64()))


def _dates(values: pa.Array) -> pa.Array:
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        return values.cast(pa.date32())
    text = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(values.cast(pa.string())), 0, 10)
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    return parsed.cast(pa.date32())


def _filled(values: pa.Array) -> np.ndarray:
    return np.asarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _flags(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where a guardian's consent is recorded; anything else is no consent."""
    if pa.types.is_boolean(values.type):
        flags = pc.fill_null(values, False)
    else:
        text = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.string())))
        flags = pc.fill_null(pc.is_in(text, value_set=pa.array(_YES)), False)
    return np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool)
