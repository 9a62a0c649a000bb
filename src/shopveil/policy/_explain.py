"""What a policy does, rule by rule, and where each decision is written.

:func:`explain_policy` lists the columns the policy names and the rules it tries, in
order, each with the file and line that declared it (the user's file, or the preset
shipped in the package that a rule was inherited from), the technique it applies per
purpose, the key domain of keyed techniques for the recipient, and which earlier rules
take the columns a later one also matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopveil._core.classes import ColumnClass, Kind
from shopveil.anonymity import describe_requirement
from shopveil.errors import AccessDenied, PolicyError
from shopveil.policy._compile import _default_role, _hides_value
from shopveil.policy._explain_processing import processing_notes
from shopveil.policy._load import preset_file
from shopveil.policy._model import (
    ClassRule,
    ColumnRule,
    Origin,
    Policy,
    TechniqueSpec,
    UnknownAge,
)
from shopveil.policy._registry import domain_base, keyed, scoped_domain

__all__ = ["Choice", "Entry", "GateLine", "PolicyExplanation", "explain_policy"]

_ANY_ROLE = "<role>"  # the domain's role part when the release's role is not known yet


@dataclass(frozen=True)
class Choice:
    """The technique a column or rule applies for one purpose, or by default.

    Attributes
    ----------
    purpose
        The purpose of an override; None for the default (purposes without one).
    technique, params
        The technique and the parameters the policy set.
    origin
        The line that decides it: the rule's or the column's for the default, the
        purpose's line for an override.
    domain
        For a keyed technique (token, erasable_token, fpe, fake): the key's domain for
        this recipient, e.g. ``customer_id|gdpr|analyst``. None otherwise.
    shared
        True when the policy set ``domain`` itself: every release for the same purpose
        that uses that domain gets the same tokens, whatever its jurisdiction or role.
    hidden
        Classes of column that the role may not see, which it gets redacted instead.
    """

    purpose: str | None
    technique: str
    params: Mapping[str, Any]
    origin: Origin | None
    domain: str | None = None
    shared: bool = False
    hidden: tuple[ColumnClass, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "purpose": self.purpose,
            "technique": self.technique,
            "params": dict(self.params),
            "source": _source(self.origin),
            "domain": self.domain,
            "domain_shared": self.shared,
            "hidden_for_classes": [c.value for c in self.hidden],
        }


@dataclass(frozen=True)
class Entry:
    """A column the policy names, or a rule for the columns it does not.

    ``position`` is the order in which rules are tried (None for a named column);
    ``taken_by`` lists each earlier rule that wins for some of the columns this rule also
    matches, with the class and kind of those columns, and ``covered_by`` the first
    earlier rule that wins for all of them (this rule never applies).
    """

    position: int | None
    column: str | None
    column_class: ColumnClass | None
    kind: Kind | None
    origin: Origin | None
    choices: tuple[Choice, ...]
    taken_by: tuple[tuple[int, ColumnClass | None, Kind | None], ...] = ()
    covered_by: int | None = None

    @property
    def matches(self) -> str:
        """What the entry applies to, in words."""
        if self.column is not None:
            return f"column {self.column}"
        what = self.column_class.value if self.column_class else "any class"
        kind = f"kind {self.kind.value}" if self.kind else "any kind"
        return f"{what}, {kind}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "position": self.position,
            "column": self.column,
            "class": self.column_class.value if self.column_class else None,
            "kind": self.kind.value if self.kind else None,
            "matches": self.matches,
            "source": _source(self.origin),
            "choices": [choice.to_dict() for choice in self.choices],
            "earlier_rules_win": [
                {
                    "rule": position,
                    "class": column_class.value if column_class else None,
                    "kind": kind.value if kind else None,
                }
                for position, column_class, kind in self.taken_by
            ],
            "never_applies_because_of_rule": self.covered_by,
        }


@dataclass(frozen=True)
class GateLine:
    """One release gate and the line that set it."""

    requirement: str
    origin: Origin | None


@dataclass(frozen=True)
class PolicyExplanation:
    """Everything :func:`explain_policy` found; :meth:`to_dict` is its JSON form."""

    policy: str
    files: tuple[str, ...]
    presets: Mapping[str, str]  # preset file name → the installed file
    jurisdiction: str | None
    purpose: str | None
    role: str | None
    columns: tuple[Entry, ...]
    rules: tuple[Entry, ...]
    gates: tuple[GateLine, ...]
    notes: tuple[str, ...] = ()
    purposes: Mapping[str, str] = field(default_factory=dict)  # name → release modes
    roles: Mapping[str, str] = field(default_factory=dict)  # name → what it may do

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "policy": self.policy,
            "files": list(self.files),
            "presets": dict(self.presets),
            "jurisdiction": self.jurisdiction,
            "purpose": self.purpose,
            "role": self.role,
            "purposes": dict(self.purposes),
            "roles": dict(self.roles),
            "columns": [entry.to_dict() for entry in self.columns],
            "rules": [entry.to_dict() for entry in self.rules],
            "gates": [
                {"requirement": g.requirement, "source": _source(g.origin)} for g in self.gates
            ],
            "notes": list(self.notes),
        }


def explain_policy(
    policy: Policy, *, purpose: str | None = None, role: str | None = None
) -> PolicyExplanation:
    """Explain ``policy``: every column it names and every rule, in the order tried.

    With ``purpose``, each entry shows the technique for that purpose only; with
    ``role`` (or, for a purpose, the least privileged role allowed it, as a release
    would choose), the key domains are those of a release to that role, and classes the
    role may not see are marked hidden.

    Raises
    ------
    PolicyError
        An unknown purpose or role.
    AccessDenied
        The role may not act for the purpose.
    """
    notes: list[str] = []
    role = _resolve(policy, purpose, role, notes)
    jurisdiction = policy.jurisdiction.value if policy.jurisdiction else None
    recipient = _Recipient(
        purpose,
        jurisdiction,
        role if role is not None else (_ANY_ROLE if policy.roles else None),
        policy.roles[role].sees if role is not None else None,
    )
    columns = tuple(
        Entry(
            None,
            name,
            rule.column_class,
            rule.kind,
            rule.origin,
            recipient.choices(rule, name),
        )
        for name, rule in policy.columns.items()
    )
    rules = tuple(
        _rule_entry(position, rule, policy.rules, recipient.choices(rule, None))
        for position, rule in enumerate(policy.rules, start=1)
    )
    notes.extend(_notes(policy, purpose, jurisdiction, recipient.role))
    notes.extend(processing_notes(policy, purpose))
    presets = {f.file: preset_file(f.preset) for f in policy.files if f.preset is not None}
    return PolicyExplanation(
        policy=policy.name,
        files=tuple(f.file for f in policy.files),
        presets=presets,
        jurisdiction=jurisdiction,
        purpose=purpose,
        role=role,
        columns=columns,
        rules=rules,
        gates=_gates(policy),
        notes=tuple(notes),
        purposes={
            name: _purpose_text(p.release_modes, p.reidentify, p.honours_opt_out)
            for name, p in policy.purposes.items()
            if purpose is None or name == purpose
        },
        roles={
            name: (
                f"purposes {', '.join(sorted(r.purposes))}; sees "
                f"{', '.join(sorted(c.value for c in r.sees))}"
                + (f" ({r.origin})" if r.origin else "")
            )
            for name, r in policy.roles.items()
            if role is None or name == role
        },
    )


def _resolve(policy: Policy, purpose: str | None, role: str | None, notes: list[str]) -> str | None:
    if purpose is not None and purpose not in policy.purposes:
        raise PolicyError(
            f"{policy.source}: unknown purpose {purpose!r}; "
            f"use one of {', '.join(sorted(policy.purposes))}"
        )
    if role is not None:
        if role not in policy.roles:
            raise PolicyError(
                f"{policy.source}: unknown role {role!r}; "
                f"use one of {', '.join(sorted(policy.roles))}"
            )
        if purpose is not None and purpose not in policy.roles[role].purposes:
            raise AccessDenied(f"role {role!r} may not process data for purpose {purpose!r}")
        return role
    if purpose is None or not policy.roles:
        return None
    if policy.purposes[purpose].reidentify:
        allowed = sorted(r.name for r in policy.roles.values() if purpose in r.purposes)
        notes.append(
            f"purpose {purpose!r} re-identifies people: a release needs --role "
            f"({', '.join(allowed) or 'none is allowed it'}); key domains below show <role>"
        )
        return None
    chosen = _default_role(policy, purpose)
    notes.append(
        f"no role given: shown for role {chosen!r}, the least privileged role allowed "
        f"purpose {purpose!r}, as a release without --role would be"
    )
    return chosen


@dataclass(frozen=True)
class _Recipient:
    """Whom the explanation is for: the purpose shown (None: all) and the release's
    jurisdiction, role (``<role>`` when not known yet) and classes the role sees."""

    purpose: str | None
    jurisdiction: str | None
    role: str | None
    sees: frozenset[ColumnClass] | None

    def choices(self, rule: ClassRule | ColumnRule, column: str | None) -> tuple[Choice, ...]:
        """The rule's default and overrides, or with a purpose the one that applies."""
        if self.purpose is not None:
            override = self.purpose in rule.per_purpose
            named = self.purpose if override else None
            return (self.choice(named, rule.for_purpose(self.purpose), rule, column),)
        return (
            self.choice(None, rule.default, rule, column),
            *(self.choice(p, spec, rule, column) for p, spec in rule.per_purpose.items()),
        )

    def choice(
        self,
        purpose: str | None,
        spec: TechniqueSpec,
        rule: ClassRule | ColumnRule,
        column: str | None,
    ) -> Choice:
        # The default is decided by the rule's (or column's) own line, an override by its.
        origin = spec.origin if purpose is not None else rule.origin
        operator = spec.operator
        domain, shared = None, False
        if operator is not None and keyed(operator):
            shared = "domain" in spec.params
            if shared:
                domain = str(spec.params["domain"])
            else:
                # A rule without a kind fills the domain per column: its kind, else its name.
                base = domain_base(operator, column or "<kind or column>")
                domain = scoped_domain(base, self.jurisdiction, self.role)
        hidden: tuple[ColumnClass, ...] = ()
        if self.sees is not None and not _hides_value(operator):
            classes = [rule.column_class] if rule.column_class is not None else list(ColumnClass)
            hidden = tuple(c for c in classes if c not in self.sees)
        return Choice(purpose, spec.technique, spec.params, origin, domain, shared, hidden)


def _rule_entry(
    position: int, rule: ClassRule, rules: tuple[ClassRule, ...], choices: tuple[Choice, ...]
) -> Entry:
    taken_by: list[tuple[int, ColumnClass | None, Kind | None]] = []
    covered_by: int | None = None
    for earlier_position, earlier in enumerate(rules[: position - 1], start=1):
        if _overlap(earlier, rule):
            # The columns both match: the narrower class and kind of the two.
            both = (earlier.column_class or rule.column_class, earlier.kind or rule.kind)
            taken_by.append((earlier_position, *both))
            if covered_by is None and _covers(earlier, rule):
                covered_by = earlier_position
    return Entry(
        position,
        None,
        rule.column_class,
        rule.kind,
        rule.origin,
        choices,
        tuple(taken_by),
        covered_by,
    )


def _overlap(a: ClassRule, b: ClassRule) -> bool:
    same_class = (
        a.column_class is None or b.column_class is None or a.column_class == b.column_class
    )
    same_kind = a.kind is None or b.kind is None or a.kind == b.kind
    return same_class and same_kind


def _covers(a: ClassRule, b: ClassRule) -> bool:
    """True when ``a`` matches every column ``b`` matches."""
    return a.column_class in (None, b.column_class) and a.kind in (None, b.kind)


def _gates(policy: Policy) -> tuple[GateLine, ...]:
    if policy.gates is None:
        return ()
    return tuple(
        GateLine(describe_requirement(req), policy.gates.origin_of(req))
        for req in policy.gates.requirements
    )


def _notes(
    policy: Policy, purpose: str | None, jurisdiction: str | None, role: str | None
) -> list[str]:
    notes = [
        "a column named under 'columns' wins over every rule; other columns take the "
        "first rule whose class and kind match; a column no rule matches is kept, unless "
        "it looks personal but is of no known kind, which stops the release",
        "keyed techniques (token, erasable_token, fpe, fake) take their key from the "
        "purpose and a domain; a domain the policy leaves open is bound to the "
        f"jurisdiction ({jurisdiction or 'none'}) and the receiving role "
        f"({role or 'any'}), e.g. customer_id|{jurisdiction or 'none'}|{role or 'any'}, "
        "so copies for another purpose, jurisdiction or role do not join; set "
        "params: {domain: NAME} on a rule or column to let releases for the same purpose "
        "that use NAME join",
    ]
    requirements = policy.requirements
    if requirements.opt_out_column:
        honouring = sorted(n for n, p in policy.purposes.items() if p.honours_opt_out)
        if purpose is None or purpose in honouring:
            notes.append(
                f"rows flagged in column {requirements.opt_out_column!r} are left out of "
                f"releases for {', '.join(honouring) or 'no purpose'}"
            )
    minors = policy.minors
    if minors is not None and (purpose is None or purpose in minors.purposes):
        unknown = "left out" if minors.unknown_age is UnknownAge.EXCLUDE else "kept"
        notes.append(
            f"customers under {minors.age} are left out of releases for "
            f"{', '.join(sorted(minors.purposes))} unless {minors.guardian_column!r} is true; "
            f"rows of unknown age are {unknown} ({minors.origin})"
        )
    return notes


def _purpose_text(modes: frozenset[Any], reidentify: bool, opt_out: bool) -> str:
    text = "releases " + ", ".join(sorted(m.value for m in modes))
    if reidentify:
        text += "; re-identifies people (needs a role)"
    if opt_out:
        text += "; honours opt-outs"
    return text


def _source(origin: Origin | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    return {"file": origin.file, "line": origin.line, "preset": origin.preset}
