"""The policy as typed values: purposes, roles, rules and per-column choices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.classes import ColumnClass, Kind
from shopveil._core.operators import RecordOperator
from shopveil._core.units import PrivacyUnit
from shopveil.anonymity import KAnonymity, LDiversity, Requirement, TCloseness
from shopveil.errors import AccessDenied, PolicyError
from shopveil.policy._origin import Jurisdiction, Origin
from shopveil.policy._processing import Processing
from shopveil.policy._registry import DROP, with_kind_defaults

__all__ = [
    "ClassRule",
    "ColumnRule",
    "DPDefaults",
    "Gates",
    "Jurisdiction",
    "Minors",
    "Origin",
    "Policy",
    "Purpose",
    "ReleaseMode",
    "Requirements",
    "Role",
    "TechniqueSpec",
    "UnknownAge",
]


class ReleaseMode(StrEnum):
    """How a purpose's data is released: rows, tables, aggregates, synthetic data or models."""

    RECORD = "record"  # masked / pseudonymized rows
    TABLE = "table"  # k-anonymous tables
    AGGREGATE = "aggregate"  # DP queries
    SYNTHETIC = "synthetic"  # DP synthetic data
    MODEL = "model"  # privately trained models
    FEDERATED = "federated"  # training where the data stays


def _frozen(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(params or {}))


@dataclass(frozen=True)
class TechniqueSpec:
    """A technique the policy names, compiled once into its operator.

    Attributes
    ----------
    operator
        The operator, built and checked when the policy was loaded; None drops the
        column.
    params
        The parameters the policy set, as written. Those it left open follow the kind
        of the column (:meth:`for_kind`).
    origin
        The line that names the technique (the rule's, the column's or a purpose's).
    """

    operator: RecordOperator | None
    params: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin | None = None  # the line that names the technique

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))

    @property
    def technique(self) -> str:
        """The technique's registry name (``drop`` for a dropped column)."""
        return DROP if self.operator is None else self.operator.name

    def for_kind(self, kind: Kind) -> RecordOperator | None:
        """The operator for a column of ``kind``: the one built, unless the kind fills a
        parameter the policy left open (a rule that names no kind)."""
        if self.operator is None:
            return None
        return with_kind_defaults(self.operator, self.params, kind)


@dataclass(frozen=True)
class Purpose:
    """What a purpose may do with the data.

    ``sensitive_data_consent`` declares that the purpose uses special categories (health,
    religion, …) on each customer's consent for them, as the consent register records it
    under ``sensitive_data``; without it, no release for the purpose may carry them.
    """

    name: str
    release_modes: frozenset[ReleaseMode]
    reidentify: bool = False
    honours_opt_out: bool = False
    origin: Origin | None = None
    sensitive_data_consent: bool = False


@dataclass(frozen=True)
class Role:
    """Who receives a release: the purposes it may act for and the classes it may see."""

    name: str
    purposes: frozenset[str]
    sees: frozenset[ColumnClass]
    origin: Origin | None = None


@dataclass(frozen=True)
class ClassRule:
    """For columns not listed by name: the first rule whose class and kind match applies."""

    column_class: ColumnClass | None
    kind: Kind | None
    default: TechniqueSpec
    per_purpose: Mapping[str, TechniqueSpec] = field(default_factory=dict)
    origin: Origin | None = None  # the rule's first line

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_purpose", _frozen(self.per_purpose))

    def matches(self, column_class: ColumnClass, kind: Kind) -> bool:
        """Whether this rule covers a column of ``column_class`` and ``kind``."""
        return (self.column_class in (None, column_class)) and (self.kind in (None, kind))

    def for_purpose(self, purpose: str) -> TechniqueSpec:
        """The technique this rule applies under ``purpose``."""
        return self.per_purpose.get(purpose, self.default)


@dataclass(frozen=True)
class ColumnRule:
    """A column named in the policy: its class, its kind and its technique."""

    column: str
    column_class: ColumnClass
    kind: Kind
    default: TechniqueSpec
    per_purpose: Mapping[str, TechniqueSpec] = field(default_factory=dict)
    origin: Origin | None = None  # the column's line

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_purpose", _frozen(self.per_purpose))

    @property
    def where(self) -> str:
        """``FILE:LINE`` of the column, for messages about it."""
        return str(self.origin) if self.origin is not None else "<policy>"

    def for_purpose(self, purpose: str) -> TechniqueSpec:
        """The technique this rule applies under ``purpose``."""
        return self.per_purpose.get(purpose, self.default)


@dataclass(frozen=True)
class Requirements:
    """What the jurisdiction asks beyond per-column techniques."""

    opt_out_column: str | None = None


@dataclass(frozen=True)
class Gates:
    """Table-level checks a release must pass (k, l, t, risk), on the released columns.

    ``quasi_identifiers`` defaults to the released columns classed as quasi-identifiers;
    ``l`` and ``t`` need ``sensitive`` columns named. ``origins`` gives, per gate key
    (``k``, ``l``, ``t``, ``max_risk``), the line that set it.
    """

    requirements: tuple[Requirement, ...]
    quasi_identifiers: tuple[str, ...] | None = None
    sensitive: tuple[str, ...] = ()
    origins: Mapping[str, Origin] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", _frozen(self.origins))

    def origin_of(self, requirement: Requirement) -> Origin | None:
        """The line that set ``requirement``; None when it is not known."""
        if isinstance(requirement, KAnonymity):
            key = "k"
        elif isinstance(requirement, LDiversity):
            key = "l"
        elif isinstance(requirement, TCloseness):
            key = "t"
        else:
            key = "max_risk"
        return self.origins.get(key)


@dataclass(frozen=True)
class DPDefaults:
    """What a policy's ``dp:`` section declares for DP queries.

    Attributes
    ----------
    bounds
        Clamping bounds ``{column: (low, high)}``; a query's own bounds override them.
    bounds_where
        ``{column: "FILE:LINE"}``: where each bound was declared, for the answer's notes.
    unit
        The privacy unit queries use unless they name one; None when the policy
        declares none. ``PerRow()`` is the steward's declaration that every row is a
        different person.
    default_budget
        The total a dataset gets on first use when nobody set one; None keeps the
        ledger's default.
    """

    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    bounds_where: Mapping[str, str] = field(default_factory=dict)
    unit: PrivacyUnit | None = None
    default_budget: PureDP | ApproxDP | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bounds", _frozen(self.bounds))
        object.__setattr__(self, "bounds_where", _frozen(self.bounds_where))


class UnknownAge(StrEnum):
    """What a row whose age cannot be told counts as."""

    EXCLUDE = "exclude"  # as a minor: left out (fail closed)
    INCLUDE = "include"  # as an adult: the law asks actual knowledge (CCPA)


DEFAULT_GUARDIAN_COLUMN = "guardian_consent"


@dataclass(frozen=True)
class Minors:
    """A policy's ``minors:`` section.

    Attributes
    ----------
    age
        Customers younger than this are minors.
    purposes
        The purposes whose releases leave minors out unless a guardian consented.
    unknown_age
        What a row without a readable age counts as.
    guardian_column
        The column whose true flag records a guardian's consent (``guardian_consent``).
    origin
        The line of the section.
    """

    age: int
    purposes: frozenset[str]
    unknown_age: UnknownAge = UnknownAge.EXCLUDE
    guardian_column: str = DEFAULT_GUARDIAN_COLUMN
    origin: Origin | None = None


@dataclass(frozen=True)
class Policy:
    """A validated policy. Load one with :func:`shopveil.policy.load_policy`.

    ``files`` lists the files it was merged from (line 1 of each), its own first, then
    each file it extends (``gdpr.yaml`` and ``base.yaml`` for the shipped presets).
    ``processing`` holds recipients, transfers, retention, release statuses and the
    residence column (:mod:`shopveil.policy._processing`).
    """

    name: str
    source: str
    jurisdiction: Jurisdiction | None
    purposes: Mapping[str, Purpose]
    roles: Mapping[str, Role]
    rules: tuple[ClassRule, ...]
    columns: Mapping[str, ColumnRule]
    requirements: Requirements = field(default_factory=Requirements)
    gates: Gates | None = None
    dp: DPDefaults = field(default_factory=DPDefaults)
    files: tuple[Origin, ...] = ()
    processing: Processing = field(default_factory=Processing)
    minors: Minors | None = None  # who is a minor, and which purposes leave them out

    def __post_init__(self) -> None:
        object.__setattr__(self, "purposes", _frozen(self.purposes))
        object.__setattr__(self, "roles", _frozen(self.roles))
        object.__setattr__(self, "columns", _frozen(self.columns))

    def require_release(self, purpose: str, mode: ReleaseMode, what: str) -> None:
        """Refuse an unknown ``purpose`` (PolicyError) or one not allowed ``mode`` releases."""
        if purpose not in self.purposes:
            raise PolicyError(
                f"{self.source}: unknown purpose {purpose!r}; "
                f"use one of {', '.join(sorted(self.purposes))}"
            )
        modes = self.purposes[purpose].release_modes
        if mode not in modes:
            allowed = ", ".join(sorted(m.value for m in modes))
            raise AccessDenied(
                f"purpose {purpose!r} does not allow {what} under policy "
                f"{self.name!r} (it allows: {allowed})"
            )
