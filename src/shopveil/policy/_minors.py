"""Minors: who counts as one under the policy's law, and which purposes leave them out.

A policy's ``minors:`` section names the age below which a customer is a minor, the
purposes that leave minors out unless a guardian consented (a true flag in the
``guardian_column``), and what a row of unknown age counts as. Each law sets the lowest
age a policy may name; a policy may always name a higher one, up to 18.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from shopveil._core.classes import Kind
from shopveil.errors import PolicyError
from shopveil.policy._model import (
    DEFAULT_GUARDIAN_COLUMN,
    Jurisdiction,
    Minors,
    Origin,
    Purpose,
    UnknownAge,
)

__all__ = ["LOWEST_AGE", "MinorCheck", "build_minors", "minor_check", "strictest_minors"]

LOWEST_AGE: Mapping[Jurisdiction, tuple[int, str]] = {
    Jurisdiction.GDPR: (13, "GDPR Art. 8(1): member states may lower 16 to no less than 13"),
    Jurisdiction.CCPA: (16, "Cal. Civ. Code 1798.120(c): under 16"),
    Jurisdiction.LGPD: (12, "LGPD Art. 14 §1: children are under 12"),
    Jurisdiction.PIPL: (14, "PIPL Art. 28, 31: under 14"),
}
"""Per law, the lowest minors' age a policy may name, and where the law says so."""
HIGHEST_AGE = 18


@dataclass(frozen=True)
class MinorCheck:
    """What a release leaves out for minors: compiled for one table and purpose.

    ``age_column`` is the table's birth date or age column (``age_kind`` says which);
    None when the table has neither, so ages must come from another table of the same
    customers. ``as_of`` is the day ages are counted at.
    """

    age: int
    unknown_age: UnknownAge
    guardian_column: str
    as_of: date
    age_column: str | None = None
    age_kind: Kind | None = None
    origin: Origin | None = None

    def describe(self) -> str:
        """The rule in words, for notes."""
        unknown = "left out" if self.unknown_age is UnknownAge.EXCLUDE else "kept"
        where = f" ({self.origin})" if self.origin is not None else ""
        return (
            f"customers under {self.age}{where} are left out unless {self.guardian_column!r} "
            f"is true; rows of unknown age are {unknown}"
        )


def build_minors(
    spec: Mapping[str, Any] | None,
    jurisdiction: Jurisdiction | None,
    purposes: Mapping[str, Purpose],
    where: Mapping[str, Origin],
) -> Minors | None:
    """The ``minors:`` section as a value, checked against the law and the purposes.

    ``where`` gives the line of each key (and ``""`` for the section). Raises
    :class:`PolicyError` naming the file and line of an age below the law's or a purpose
    the policy does not declare.
    """
    if not spec:
        return None
    for key in ("age", "purposes"):
        if key not in spec:
            raise PolicyError(
                f"{where.get('')}: minors has no {key!r}, and no policy it extends gives one; "
                "add it, e.g. 'age: 16' and 'purposes: [marketing, model_training]'"
            )
    age = spec["age"]
    if jurisdiction is not None:
        lowest, article = LOWEST_AGE[jurisdiction]
        if not lowest <= age <= HIGHEST_AGE:
            raise PolicyError(
                f"{where.get('age', where.get(''))}: minors.age is {age}; under "
                f"{jurisdiction.value} give {lowest} to {HIGHEST_AGE} ({article})"
            )
    for purpose in spec["purposes"]:
        if purpose not in purposes:
            raise PolicyError(
                f"{where.get('purposes', where.get(''))}: minors.purposes names {purpose!r}, "
                f"which the policy does not declare; use one of {', '.join(sorted(purposes))}"
            )
    return Minors(
        age=age,
        purposes=frozenset(spec["purposes"]),
        unknown_age=UnknownAge(spec.get("unknown_age", UnknownAge.EXCLUDE)),
        guardian_column=spec.get("guardian_column", DEFAULT_GUARDIAN_COLUMN),
        origin=where.get(""),
    )


def strictest_minors(
    own: Minors | None, laws: Iterable[Minors | None], purposes: Mapping[str, Purpose]
) -> Minors | None:
    """One ``minors:`` rule for a table whose rows fall under several laws (``residence``).

    The strictest of the policy's own section and each law's preset: the highest age,
    every purpose any of them leaves minors out of (among those the policy declares), and
    rows of unknown age left out if any of them leaves them out. A row is never judged
    by a laxer rule than its own law's; some are judged by a stricter one.
    """
    found = [m for m in (own, *laws) if m is not None]
    if not found:
        return None
    excluded = any(m.unknown_age is UnknownAge.EXCLUDE for m in found)
    return Minors(
        age=max(m.age for m in found),
        purposes=frozenset(p for m in found for p in m.purposes if p in purposes),
        unknown_age=UnknownAge.EXCLUDE if excluded else UnknownAge.INCLUDE,
        guardian_column=found[0].guardian_column,
        origin=found[0].origin,
    )


def minor_check(
    minors: Minors | None,
    purpose: str,
    kinds: Mapping[str, Kind],
    as_of: date,
) -> MinorCheck | None:
    """The check a release for ``purpose`` runs, on a table whose columns have ``kinds``.

    None when the policy leaves minors in for the purpose. The age comes from the first
    birth date column, else the first age column.
    """
    if minors is None or purpose not in minors.purposes:
        return None
    column, kind = None, None
    for wanted in (Kind.BIRTH_DATE, Kind.AGE):
        found = [name for name, k in kinds.items() if k is wanted]
        if found:
            column, kind = found[0], wanted
            break
    return MinorCheck(
        age=minors.age,
        unknown_age=minors.unknown_age,
        guardian_column=minors.guardian_column,
        as_of=as_of,
        age_column=column,
        age_kind=kind,
        origin=minors.origin,
    )
