"""The techniques a policy may name: one line per operator.

A new record-level technique is a new operator class in its own module plus one line in
``OPERATORS``. ``drop`` is not an operator: it removes the column from the output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from shopveil._core.classes import Kind
from shopveil._core.operators import RecordOperator
from shopveil.errors import ParameterError
from shopveil.mask import (
    AgeBand,
    FakeKind,
    FakeSubstitute,
    GeneralizeDate,
    GeneralizeHierarchy,
    GeneralizeNumber,
    GeneralizePostcode,
    Keep,
    MaskCard,
    MaskEmail,
    Nullify,
    PartialMask,
    Perturb,
    Redact,
    RedactFaces,
    Shuffle,
    Truncate,
)
from shopveil.pseudo import ErasableToken, FormatPreservingEncrypt, KeyedToken, RedactText

__all__ = [
    "DROP",
    "OPERATORS",
    "build_operator",
    "domain_base",
    "keyed",
    "scope_operator",
    "scoped_domain",
    "technique_names",
    "with_kind_defaults",
]

DROP = "drop"

OPERATORS: Mapping[str, type[Any]] = MappingProxyType(
    {
        Keep.name: Keep,
        Redact.name: Redact,
        KeyedToken.name: KeyedToken,
        GeneralizeDate.name: GeneralizeDate,
        AgeBand.name: AgeBand,
        Truncate.name: Truncate,
        FakeSubstitute.name: FakeSubstitute,
        PartialMask.name: PartialMask,
        MaskCard.name: MaskCard,
        MaskEmail.name: MaskEmail,
        Nullify.name: Nullify,
        GeneralizeNumber.name: GeneralizeNumber,
        GeneralizeHierarchy.name: GeneralizeHierarchy,
        GeneralizePostcode.name: GeneralizePostcode,
        Perturb.name: Perturb,
        Shuffle.name: Shuffle,
        FormatPreservingEncrypt.name: FormatPreservingEncrypt,
        ErasableToken.name: ErasableToken,
        RedactText.name: RedactText,
        RedactFaces.name: RedactFaces,
    }
)


def technique_names() -> list[str]:
    """The names of every registered technique, sorted."""
    return sorted([DROP, *OPERATORS])


def build_operator(technique: str, params: Mapping[str, Any], kind: Kind) -> RecordOperator:
    """Make the operator ``technique`` with ``params``, filling defaults from the column's kind.

    Raises :class:`ParameterError` naming the technique, the parameter and the fix.
    """
    try:
        operator_class = OPERATORS[technique]
    except KeyError:
        raise ParameterError(
            f"unknown technique {technique!r}; use one of {', '.join(technique_names())}"
        ) from None
    allowed = [f.name for f in dataclasses.fields(operator_class)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParameterError(
            f"technique {technique!r} has no parameter {unknown[0]!r}; "
            f"its parameters are: {', '.join(allowed) or 'none'}"
        )
    arguments = {**_defaults_for_kind(operator_class, kind, allowed), **params}
    try:
        operator: RecordOperator = operator_class(**arguments)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"technique {technique!r}: {exc}") from None
    return operator


def with_kind_defaults(
    operator: RecordOperator, params: Mapping[str, Any], kind: Kind
) -> RecordOperator:
    """``operator`` with the defaults of ``kind`` for the parameters ``params`` left open.

    A rule without a kind is built once, for no kind; a column it lands on may fill
    what the policy left open (tokens of customer ids share the ``customer_id``
    domain). Returns ``operator`` itself when the kind changes nothing.
    """
    allowed = [f.name for f in dataclasses.fields(operator)]  # type: ignore[arg-type]
    defaults = _defaults_for_kind(type(operator), kind, allowed)
    changed = {
        name: value
        for name, value in defaults.items()
        if name not in params and getattr(operator, name) != value
    }
    if not changed:
        return operator
    try:
        return dataclasses.replace(operator, **changed)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"technique {operator.name!r}: {exc}") from None


def keyed(operator: RecordOperator | None) -> bool:
    """True for an operator whose output depends on a key with a ``domain`` (tokens,
    erasable tokens, format-preserving encryption, deterministic fakes)."""
    return operator is not None and "domain" in {
        f.name
        for f in dataclasses.fields(operator)  # type: ignore[arg-type]
    }


_SCOPE_SEPARATOR = "|"
_MAX_DOMAIN = 90  # the key context adds a prefix ("token:", "fpe:") within 100 characters


def domain_base(operator: RecordOperator, column: str) -> str:
    """The domain a keyed operator names, or the column's name when it names none."""
    return getattr(operator, "domain", None) or column


def scoped_domain(base: str, jurisdiction: str | None, role: str | None) -> str:
    """The key domain of a release to one recipient: ``base|jurisdiction|role``.

    Keys are already bound to the purpose; binding the default domain to the policy's
    jurisdiction and the receiving role as well keeps copies made for different
    recipients from joining on their tokens. A domain the policy sets itself is used as
    written, which is how a policy declares that copies may join.
    """
    return _SCOPE_SEPARATOR.join((base, jurisdiction or "none", role or "any"))


def scope_operator(
    operator: RecordOperator,
    params: Mapping[str, Any],
    column: str,
    jurisdiction: str | None,
    role: str | None,
) -> RecordOperator:
    """``operator`` keyed for one recipient, unless the policy set its ``domain``.

    Returns ``operator`` itself for an operator without a key domain, and for one whose
    domain the policy named (``params``).
    """
    if not keyed(operator) or "domain" in params:
        return operator
    domain = scoped_domain(domain_base(operator, column), jurisdiction, role)
    if len(domain) > _MAX_DOMAIN:
        raise ParameterError(
            f"column {column!r}: the key domain {domain[:40]!r}... is longer than "
            f"{_MAX_DOMAIN} characters; give the technique a shorter 'domain' under params"
        )
    return dataclasses.replace(operator, domain=domain)  # type: ignore[type-var]


def _defaults_for_kind(operator_class: type[Any], kind: Kind, allowed: list[str]) -> dict[str, Any]:
    """Sensible parameters from what the column is, e.g. tokens of ids share one domain."""
    defaults: dict[str, Any] = {}
    if "domain" in allowed and kind is not Kind.UNKNOWN:
        defaults["domain"] = kind.value
    if operator_class is AgeBand and kind is Kind.BIRTH_DATE:
        defaults["from_birth_date"] = True
    if operator_class is Redact and kind is Kind.FREE_TEXT:
        defaults["mode"] = "spans"
    if operator_class is FakeSubstitute and kind.value in {k.value for k in FakeKind}:
        defaults["kind"] = kind.value
    return defaults
