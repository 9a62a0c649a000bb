"""Privacy requirements on equivalence classes: k-anonymity, l-diversity, t-closeness, risk."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from shopveil.errors import ParameterError

__all__ = [
    "KAnonymity",
    "LDiversity",
    "LDiversityVariant",
    "MaxRisk",
    "Requirement",
    "RiskModel",
    "TCloseness",
    "TDistance",
    "describe_requirement",
]


class LDiversityVariant(StrEnum):
    """How l-diversity counts the sensitive values of a class."""

    DISTINCT = "distinct"
    """At least ``l`` distinct sensitive values in every class."""
    ENTROPY = "entropy"
    """``exp(entropy)`` of every class's sensitive values is at least ``l``."""
    RECURSIVE = "recursive"
    """Recursive (c, l): the most frequent count ``r1 < c * (r_l + r_l+1 + ...)``."""


class TDistance(StrEnum):
    """The ground distance of the earth mover's distance used by t-closeness."""

    AUTO = "auto"
    """Ordered for numeric sensitive attributes, equal for categorical ones."""
    EQUAL = "equal"
    """Every pair of distinct values is 1 apart: half the total variation distance."""
    ORDERED = "ordered"
    """Values ``i`` and ``j`` of ``m`` ordered values are ``|i - j| / (m - 1)`` apart."""


class RiskModel(StrEnum):
    """Who attacks: the re-identification risk models of ARX and sdcMicro."""

    PROSECUTOR = "prosecutor"
    """Knows the target is in the table: risk of a record is ``1 / class size``."""
    JOURNALIST = "journalist"
    """Knows the target is in the population the table was sampled from."""
    MARKETER = "marketer"
    """Re-identifies as many records as possible: the expected fraction re-identified."""


@dataclass(frozen=True)
class KAnonymity:
    """Every equivalence class holds at least ``k`` records."""

    k: int

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ParameterError(f"k: expected an integer >= 1, got {self.k!r}; use e.g. k=5")


@dataclass(frozen=True)
class LDiversity:
    """Every equivalence class is l-diverse in each sensitive attribute.

    Parameters
    ----------
    l
        The diversity: an integer >= 1 for ``DISTINCT`` and ``RECURSIVE``, a number >= 1
        for ``ENTROPY``.
    variant
        Which definition (:class:`LDiversityVariant`).
    c
        The constant of recursive (c, l)-diversity; required for ``RECURSIVE`` only.
    """

    l: float  # noqa: E741 - the letter is the name the literature uses
    variant: LDiversityVariant = LDiversityVariant.DISTINCT
    c: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", LDiversityVariant(self.variant))
        if isinstance(self.l, bool) or not isinstance(self.l, int | float) or not self.l >= 1:
            raise ParameterError(f"l: expected a number >= 1, got {self.l!r}; use e.g. l=2")
        if self.variant is not LDiversityVariant.ENTROPY and not float(self.l).is_integer():
            raise ParameterError(
                f"l: {self.variant.value} l-diversity needs an integer l, got {self.l!r}"
            )
        if self.variant is LDiversityVariant.RECURSIVE:
            if self.c is None or not (isinstance(self.c, int | float) and self.c > 0):
                raise ParameterError(
                    f"c: recursive (c, l)-diversity needs a number c > 0, got {self.c!r}; "
                    "use e.g. LDiversity(l=2, variant='recursive', c=3)"
                )
        elif self.c is not None:
            raise ParameterError(
                f"c: only recursive (c, l)-diversity takes c, got c={self.c!r} for "
                f"{self.variant.value}; drop c or use variant='recursive'"
            )


@dataclass(frozen=True)
class TCloseness:
    """Every class's sensitive distribution is within earth mover's distance ``t`` of the
    table's."""

    t: float
    distance: TDistance = TDistance.AUTO

    def __post_init__(self) -> None:
        object.__setattr__(self, "distance", TDistance(self.distance))
        if (
            isinstance(self.t, bool)
            or not isinstance(self.t, int | float)
            or not (0.0 <= self.t <= 1.0)
        ):
            raise ParameterError(f"t: expected a number in [0, 1], got {self.t!r}; use e.g. 0.2")


@dataclass(frozen=True)
class MaxRisk:
    """The re-identification risk under ``model`` is at most ``r``.

    For the prosecutor and journalist models every record's risk must be at most ``r``; for
    the marketer model the expected fraction of records re-identified must be.
    """

    r: float
    model: RiskModel = RiskModel.PROSECUTOR

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", RiskModel(self.model))
        if (
            isinstance(self.r, bool)
            or not isinstance(self.r, int | float)
            or not (0.0 < self.r <= 1.0)
            or math.isnan(self.r)
        ):
            raise ParameterError(f"r: expected a risk in (0, 1], got {self.r!r}; use e.g. 0.2")


Requirement = KAnonymity | LDiversity | TCloseness | MaxRisk


def describe_requirement(req: Requirement) -> str:
    """The requirement as a reader writes it: ``k >= 5``, ``distinct l >= 2``, ``t <= 0.2``,
    ``prosecutor risk <= 0.1``."""
    if isinstance(req, KAnonymity):
        return f"k >= {req.k}"
    if isinstance(req, LDiversity):
        if req.variant is LDiversityVariant.RECURSIVE:
            return f"recursive (c={req.c:g}, l={req.l:g})-diversity"
        return f"{req.variant.value} l >= {req.l:g}"
    if isinstance(req, TCloseness):
        return f"t <= {req.t:g}"
    return f"{req.model.value} risk <= {req.r:g}"
