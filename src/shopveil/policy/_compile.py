"""Compiling a policy for one table, purpose and role into a :class:`Plan`.

The plan is checked whole before any row moves: every column of the table gets exactly
one step (a named column rule, else the first matching class rule, else ``keep`` for
columns classified as not personal), and the compiler fails closed: a column that is
neither listed nor classified, one classified personal but of no known kind (PII among
other values, free text, nested values) that no rule covers, and a technique that cannot
work on a nested column are errors naming the column and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from shopveil._core.classes import SPECIAL_KINDS, ColumnClass, Kind
from shopveil._core.operators import RecordOperator
from shopveil.anonymity import Requirement
from shopveil.data import check_column_names
from shopveil.errors import AccessDenied, ParameterError, PolicyError, SchemaError
from shopveil.mask import FakeSubstitute, Keep, Nullify, Redact, RedactMode
from shopveil.policy._minors import MinorCheck, minor_check
from shopveil.policy._model import Origin, Policy, ReleaseMode, TechniqueSpec
from shopveil.policy._registry import DROP, scope_operator
from shopveil.pseudo import ErasableToken, FormatPreservingEncrypt, KeyedToken

if TYPE_CHECKING:
    from shopveil.policy._processing_bound import PlanProcessing

__all__ = ["ColumnLabel", "ColumnStep", "Plan", "PlanGate", "compile_plan"]

ColumnLabel = tuple[ColumnClass, Kind]

_KEEP = TechniqueSpec(Keep())


@dataclass(frozen=True)
class ColumnStep:
    """What happens to one column, and why.

    ``reason`` names the policy line that decided it (``gdpr.yaml:12`` for a rule of the
    shipped preset, ``mypolicy.yaml:7`` for the user's own), and ``origin`` is that line.
    """

    column: str
    column_class: ColumnClass
    kind: Kind
    operator: RecordOperator | None  # None when the column is dropped
    reason: str
    origin: Origin | None = None

    @property
    def technique(self) -> str:
        """The technique's registry name (``drop`` for a dropped column)."""
        return DROP if self.operator is None else self.operator.name

    @property
    def dropped(self) -> bool:
        """Whether the plan drops this column."""
        return self.operator is None


@dataclass(frozen=True)
class PlanGate:
    """The table-level checks of this release, on resolved column names."""

    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    requirements: tuple[Requirement, ...]

    @property
    def columns(self) -> list[str]:
        """The columns the gate reads."""
        return [*self.quasi_identifiers, *self.sensitive]


@dataclass(frozen=True)
class Plan:
    """An ordered, typed, validated set of steps for one table under one purpose.

    ``processing`` is set by :func:`~shopveil.policy.bind_processing`: recipient, flow,
    transfer, retention, each row's law and the release status.
    """

    policy: str
    purpose: str
    role: str | None
    steps: tuple[ColumnStep, ...]
    opt_out_column: str | None
    notes: tuple[str, ...]
    gate: PlanGate | None = None
    processing: PlanProcessing | None = None
    sensitive_columns: tuple[str, ...] = ()  # special categories released, on consent
    minors: MinorCheck | None = None  # minors left out of this release, and how

    @property
    def output_columns(self) -> list[str]:
        """The columns a release under this plan writes, in order."""
        return [step.column for step in self.steps if not step.dropped]

    def step(self, column: str) -> ColumnStep:
        """The step that protects ``column``."""
        for step in self.steps:
            if step.column == column:
                return step
        raise SchemaError(f"the plan has no column {column!r}")


def compile_plan(
    policy: Policy,
    schema: pa.Schema,
    *,
    purpose: str,
    role: str | None = None,
    labels: Mapping[str, ColumnLabel] | None = None,
    mode: ReleaseMode = ReleaseMode.RECORD,
    as_of: date | None = None,
) -> Plan:
    """Compile ``policy`` for a table with ``schema``, released for ``purpose`` by ``role``.

    ``labels`` gives each column's class and kind, usually from a scan; columns the
    policy names explicitly need no label. Without ``role``, the plan is for the least
    privileged role the policy allows ``purpose``, and a purpose that re-identifies
    people (support, fulfilment) is refused. ``mode`` is the release the plan is part
    of: record-level, or the first step of a table-level (k-anonymous) release.

    Keyed techniques (tokens, erasable tokens, FPE, fakes) whose ``domain`` the policy
    leaves open are keyed for this recipient: their domain becomes
    ``<kind or column>|<jurisdiction>|<role>`` (see :func:`scoped_domain`), so releases
    for other jurisdictions or roles do not share tokens; keys are bound to the purpose
    in any case. A ``domain`` the policy sets is used as written.

    When the policy's ``minors:`` section names ``purpose``, the plan's ``minors`` check
    counts ages at ``as_of`` (today by default) from the table's birth date or age column.
    """
    labels = labels or {}
    check_column_names(schema.names, "the data")
    given_role = role
    role = _resolve_role(policy, purpose, role, mode)
    unknown = [name for name in policy.columns if name not in schema.names]
    if unknown:
        where = policy.columns[unknown[0]].where
        raise SchemaError(
            f"{where}: the policy names column {unknown[0]!r}, which the data does not have; "
            f"the data's columns are: {', '.join(schema.names)}"
        )
    sees = policy.roles[role].sees
    steps = []
    sensitive: list[str] = []  # special-category columns released on consent
    jurisdiction = policy.jurisdiction.value if policy.jurisdiction else None
    for column in schema.names:
        column_class, kind, spec, reason = _choose(policy, column, purpose, labels)
        operator = spec.for_kind(kind)
        if operator is not None:
            try:
                operator = scope_operator(operator, spec.params, column, jurisdiction, role)
            except ParameterError as exc:
                raise PolicyError(f"{spec.origin or policy.source}: {exc}") from None
        nested = pa.types.is_nested(schema.field(column).type)
        if column_class not in sees and not _hides_value(operator):
            operator = Nullify() if nested else Redact()
            reason += f"; role {role!r} may not see {column_class.value} columns, so hidden"
        if nested and not isinstance(operator, Keep | Nullify | None):
            raise SchemaError(
                f"column {column!r} holds nested values ({schema.field(column).type}); "
                f"technique {operator.name!r} works on single values: give it technique "
                "drop, keep or \"null\" (quoted) under 'columns' in the policy, or flatten "
                "it into one column per field"
            )
        if kind in SPECIAL_KINDS and not _removes_value(operator):
            _require_sensitive_consent(policy, purpose, column, kind, operator, spec)
            sensitive.append(column)
        steps.append(ColumnStep(column, column_class, kind, operator, reason, spec.origin))
    return Plan(
        policy=policy.name,
        purpose=purpose,
        role=role,
        steps=tuple(steps),
        opt_out_column=_opt_out_column(policy, purpose, schema),
        notes=_notes(policy, purpose, schema, role if given_role is None else None),
        gate=_gate(policy, steps),
        sensitive_columns=tuple(sensitive),
        minors=minor_check(
            policy.minors,
            purpose,
            {step.column: step.kind for step in steps},
            as_of or date.today(),
        )
        if releases_personal_data(steps)
        else None,
    )


def releases_personal_data(steps: Sequence[ColumnStep]) -> bool:
    """Whether a release keeps anything of a person: a table of quantities and prices
    alone holds no one's data, so no one in it can be a minor."""
    return any(not step.dropped and step.column_class.is_personal for step in steps)


def _removes_value(operator: RecordOperator | None) -> bool:
    """True when nothing of a value is left, not even which rows share it (as a token)."""
    if isinstance(operator, Redact):
        return operator.mode is RedactMode.VALUE
    return operator is None or isinstance(operator, Nullify)


def _require_sensitive_consent(
    policy: Policy,
    purpose: str,
    column: str,
    kind: Kind,
    operator: RecordOperator | None,
    spec: TechniqueSpec,
) -> None:
    """Refuse a special-category column for a purpose that declares no consent for them."""
    declared = policy.purposes[purpose]
    if declared.sensitive_data_consent:
        return
    technique = operator.name if operator is not None else DROP
    where = declared.origin or policy.source
    raise PolicyError(
        f"{spec.origin or policy.source}: column {column!r} holds {kind.value} data, a "
        f"special category, and technique {technique!r} releases what it says, but purpose "
        f"{purpose!r} ({where}) does not declare consent for such data; drop the column "
        f"for {purpose!r}, or add 'sensitive_data_consent: true' to the purpose so that "
        "only customers whose consent the register holds (purpose sensitive_data) are "
        "released"
    )


def _hides_value(operator: RecordOperator | None) -> bool:
    """True when nothing of the original value is left for the role to see."""
    if isinstance(operator, Redact):
        return operator.mode is RedactMode.VALUE
    return operator is None or isinstance(
        operator, KeyedToken | ErasableToken | FakeSubstitute | FormatPreservingEncrypt | Nullify
    )


def _resolve_role(policy: Policy, purpose: str, role: str | None, mode: ReleaseMode) -> str:
    """The role this release is for: the one given, checked, or the default one.

    Without a role, a purpose that re-identifies people is refused, and any other gets
    the least privileged role the policy allows that purpose (fewest classes seen).
    """
    what = "record-level release" if mode is ReleaseMode.RECORD else f"{mode.value}-level release"
    policy.require_release(purpose, mode, what)
    if role is None:
        return _default_role(policy, purpose)
    if role not in policy.roles:
        raise PolicyError(
            f"{policy.source}: unknown role {role!r}; use one of {', '.join(sorted(policy.roles))}"
        )
    if purpose not in policy.roles[role].purposes:
        raise AccessDenied(f"role {role!r} may not process data for purpose {purpose!r}")
    return role


def _default_role(policy: Policy, purpose: str) -> str:
    allowed = sorted(
        (r for r in policy.roles.values() if purpose in r.purposes),
        key=lambda r: (len(r.sees), len(r.purposes), r.name),
    )
    if policy.purposes[purpose].reidentify:
        choices = ", ".join(r.name for r in allowed) or "none: declare one under 'roles'"
        raise AccessDenied(
            f"purpose {purpose!r} re-identifies people, so it needs a role: pass role= "
            f"(--role) with one of the roles allowed it ({choices})"
        )
    if not policy.roles:
        raise AccessDenied(
            f"policy {policy.name!r} declares no roles, and every release is for a role; "
            "declare roles under 'roles' (or extend a preset, which declares them)"
        )
    if not allowed:
        raise AccessDenied(
            f"no role of policy {policy.name!r} may process data for purpose {purpose!r}; "
            "add the purpose to a role under 'roles'"
        )
    return allowed[0].name


def _choose(
    policy: Policy, column: str, purpose: str, labels: Mapping[str, ColumnLabel]
) -> tuple[ColumnClass, Kind, TechniqueSpec, str]:
    if column in policy.columns:
        named = policy.columns[column]
        spec = named.for_purpose(purpose)
        reason = f"named in {named.where}" + _for_purpose(purpose, spec, named.per_purpose)
        return named.column_class, named.kind, spec, reason
    if column not in labels:
        raise SchemaError(
            f"column {column!r} is neither named in policy {policy.name!r} nor classified; "
            "scan the data first or list the column under 'columns'"
        )
    column_class, kind = labels[column]
    for rule in policy.rules:
        if rule.matches(column_class, kind):
            spec = rule.for_purpose(purpose)
            reason = f"rule {rule.origin}" + _for_purpose(purpose, spec, rule.per_purpose)
            return column_class, kind, spec, reason
    if column_class.is_personal and kind is Kind.UNKNOWN:
        raise SchemaError(
            f"column {column!r} looks personal ({column_class.value}) but is of no known "
            f"kind, and no rule of policy {policy.name!r} covers it; run `shopveil scan` to "
            "see why, then name it under 'columns' in a policy that extends "
            f"{policy.name!r} with a technique (drop, redact, token) or 'technique: keep' "
            "to release it as is"
        )
    return column_class, kind, _KEEP, "no rule matches; kept"


def _for_purpose(
    purpose: str, spec: TechniqueSpec, per_purpose: Mapping[str, TechniqueSpec]
) -> str:
    if purpose in per_purpose and spec.origin is not None:
        return f", for {purpose} at {spec.origin}"
    return ""


def _gate(policy: Policy, steps: list[ColumnStep]) -> PlanGate | None:
    gates = policy.gates
    if gates is None:
        return None
    released = [step.column for step in steps if not step.dropped]
    qi = gates.quasi_identifiers
    if qi is None:
        qi = tuple(
            s.column
            for s in steps
            if not s.dropped and s.column_class is ColumnClass.QUASI_IDENTIFIER
        )
    for column in (*qi, *gates.sensitive):
        if column not in released:
            raise SchemaError(
                f"{policy.source}: the gates check column {column!r}, which this release "
                f"does not contain; released columns: {', '.join(released)}"
            )
    return PlanGate(tuple(qi), gates.sensitive, gates.requirements)


def _opt_out_column(policy: Policy, purpose: str, schema: pa.Schema) -> str | None:
    column = policy.requirements.opt_out_column
    if column and policy.purposes[purpose].honours_opt_out and column in schema.names:
        return column
    return None


def _notes(
    policy: Policy, purpose: str, schema: pa.Schema, default_role: str | None
) -> tuple[str, ...]:
    notes = []
    if default_role is not None:
        notes.append(
            f"no role given: released for role {default_role!r}, the least privileged "
            f"role allowed purpose {purpose!r}"
        )
    requirements = policy.requirements
    column = requirements.opt_out_column
    if column and policy.purposes[purpose].honours_opt_out and column not in schema.names:
        notes.append(
            f"purpose {purpose!r} honours the opt-out column {column!r}, which this table "
            "lacks: filter opted-out customers before joining this table with others"
        )
    return tuple(notes)
