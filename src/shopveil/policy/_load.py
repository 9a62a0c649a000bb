"""Loading a policy: YAML → JSON Schema check → presets merged → typed :class:`Policy`.

Every problem is reported as ``FILE:LINE: what is wrong; the fix``.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from shopveil._core.budgets import DEFAULT_DELTA, ApproxDP, PureDP
from shopveil._core.classes import ColumnClass, Kind
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.anonymity import KAnonymity, LDiversity, MaxRisk, Requirement, TCloseness
from shopveil.errors import ParameterError, PolicyError
from shopveil.policy._model import (
    ClassRule,
    ColumnRule,
    DPDefaults,
    Gates,
    Jurisdiction,
    Policy,
    Purpose,
    ReleaseMode,
    Requirements,
    Role,
    TechniqueSpec,
)
from shopveil.policy._registry import DROP, build_operator

__all__ = ["PRESETS", "load_policy", "parse_policy"]

PRESETS = ("gdpr", "ccpa", "lgpd", "pipl")
_MAX_EXTENDS_DEPTH = 8

_Lines = dict[tuple[str | int, ...], int]


def load_policy(name_or_path: str | os.PathLike[str]) -> Policy:
    """Load a preset by name (``gdpr``, ``ccpa``, ``lgpd``, ``pipl``) or a policy YAML file."""
    document, source, lines = _read(name_or_path)
    merged = _resolve_extends(document, source, lines, depth=0)
    return _build(merged, source, lines)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse a policy from YAML text (``extends`` names presets or paths)."""
    document, lines = _parse_yaml(text, source)
    merged = _resolve_extends(document, source, lines, depth=0)
    return _build(merged, source, lines)


def _read(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str, _Lines]:
    name = str(name_or_path)
    if name in (*PRESETS, "base"):
        text = resources.files("shopveil.policy").joinpath(f"presets/{name}.yaml").read_text()
        source = f"preset:{name}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise PolicyError(
                f"{path}: no such policy file; give a path or a preset ({', '.join(PRESETS)})"
            )
        text = path.read_text(encoding="utf-8")
        source = str(path)
    document, lines = _parse_yaml(text, source)
    return document, source, lines


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any], _Lines]:
    try:
        document = yaml.load(text, Loader=_LOADER)
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        problem = getattr(exc, "problem", None) or "malformed YAML"
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            problem += f" ({context} started at line {context_mark.line + 1})"
        raise PolicyError(f"{source}:{line}: {problem}; fix the YAML syntax there") from None
    if node is None:
        raise PolicyError(f"{source}:1: the policy is empty; start with 'shopveil_policy: 1'")
    if not isinstance(document, dict):
        raise PolicyError(f"{source}:1: a policy is a mapping; start with 'shopveil_policy: 1'")
    lines: _Lines = {}
    _collect_lines(node, (), lines, source)
    _validate_schema(document, source, lines)
    _check_dp(document.get("dp", {}), source, lines)
    _annotate(document, source, lines)
    return document, lines


def _collect_lines(
    node: yaml.Node, path: tuple[str | int, ...], lines: _Lines, source: str
) -> None:
    """Map each path in the document to the line it starts on (keys: the key's line)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise PolicyError(
                    f"{source}:{key_node.start_mark.line + 1}: {key!r} appears twice; keep one"
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _collect_lines(value_node, (*path, key), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, index), lines, source)


_WHERE = "__where__"


def _annotate(document: dict[str, Any], source: str, lines: _Lines) -> None:
    """Tag each rule, column and role with its own file and line; they survive merging."""
    for i, spec in enumerate(document.get("rules", [])):
        spec[_WHERE] = (source, lines, ("rules", i))
    for section in ("columns", "roles"):
        for name, spec in document.get(section, {}).items():
            spec[_WHERE] = (source, lines, (section, name))
    dp = document.get("dp", {})
    dp[_BOUNDS_WHERE] = {
        column: f"{source}:{_line(lines, ('dp', 'bounds', column))}"
        for column in dp.get("bounds", {})
    }


_BOUNDS_WHERE = "__bounds_where__"


def _check_dp(dp: Mapping[str, Any], source: str, lines: _Lines) -> None:
    """Bounds and budget values the schema cannot check: finite, LOW < HIGH."""
    for column, (low, high) in dp.get("bounds", {}).items():
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise PolicyError(
                f"{source}:{_line(lines, ('dp', 'bounds', column))}: dp.bounds.{column} is "
                f"[{low}, {high}]; write [LOW, HIGH] with finite numbers and LOW < HIGH, "
                "e.g. [0, 50]"
            )
    budget = dp.get("default_budget")
    if budget is not None and not math.isfinite(budget["epsilon"]):
        raise PolicyError(
            f"{source}:{_line(lines, ('dp', 'default_budget', 'epsilon'))}: "
            f"dp.default_budget.epsilon is {budget['epsilon']}; give a finite ε, e.g. 1.0"
        )


@functools.cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(
        resources.files("shopveil.policy").joinpath("policy.schema.json").read_text()
    )
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_schema(document: dict[str, Any], source: str, lines: _Lines) -> None:
    errors = sorted(_schema_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "the top level"
    raise PolicyError(f"{source}:{_line(lines, path)}: {where}: {_describe(error)}")


def _describe(error: jsonschema.ValidationError) -> str:
    validator_value: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in validator_value if c is not None)
        return f"{error.instance!r} is not allowed; use one of {choices}"
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"{error.message}; remove or rename it{hint}"
    if error.validator == "required":
        return f"{error.message}; add it"
    if error.validator == "const":
        return f"must be {validator_value!r}"
    if error.validator == "type" and validator_value == "number" and _numeric_text(error.instance):
        # YAML 1.1 reads 1e-7 (no dot in the mantissa) as text.
        return f"{error.message}; write it with a dot, e.g. 1.0e-7, so YAML reads a number"
    return str(error.message)


def _numeric_text(value: object) -> bool:
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False


def _line(lines: _Lines, path: tuple[str | int, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def _resolve_extends(
    document: dict[str, Any], source: str, lines: _Lines, *, depth: int
) -> dict[str, Any]:
    parent_name = document.get("extends")
    if parent_name is None:
        return document
    if depth >= _MAX_EXTENDS_DEPTH:
        raise PolicyError(f"{source}:{_line(lines, ('extends',))}: 'extends' nests too deep")
    if parent_name not in (*PRESETS, "base") and not Path(parent_name).is_absolute():
        # A relative path is relative to the policy that names it, not to the cwd.
        parent_name = str(Path(source).parent / parent_name)
    parent, parent_source, parent_lines = _read(parent_name)
    parent = _resolve_extends(parent, parent_source, parent_lines, depth=depth + 1)
    return _merge(parent, document)


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """The child wins key by key; its rules are tried before the parent's."""
    merged = {**parent, **{k: v for k, v in child.items() if k != "extends"}}
    for section in ("purposes", "roles", "columns", "requirements", "gates"):
        merged[section] = {**parent.get(section, {}), **child.get(section, {})}
    merged["rules"] = [*child.get("rules", []), *parent.get("rules", [])]
    parent_dp, child_dp = parent.get("dp", {}), child.get("dp", {})
    merged["dp"] = {**parent_dp, **child_dp}
    for key in ("bounds", _BOUNDS_WHERE):
        merged["dp"][key] = {**parent_dp.get(key, {}), **child_dp.get(key, {})}
    return merged


def _build(document: dict[str, Any], source: str, lines: _Lines) -> Policy:
    # ``source`` and ``lines`` locate top-level problems; rules, roles and columns carry
    # their own location, which may be another file (a preset or a parent policy).
    purposes = {
        name: Purpose(
            name=name,
            release_modes=frozenset(ReleaseMode(m) for m in spec["release_modes"]),
            reidentify=spec.get("reidentify", False),
            honours_opt_out=spec.get("honours_opt_out", False),
        )
        for name, spec in document.get("purposes", {}).items()
    }
    roles = {}
    for name, spec in document.get("roles", {}).items():
        role_source, role_lines, path = spec[_WHERE]
        for purpose in spec["purposes"]:
            if purpose not in purposes:
                raise PolicyError(
                    f"{role_source}:{_line(role_lines, (*path, 'purposes'))}: role {name!r} names "
                    f"purpose {purpose!r}, which the policy does not declare; "
                    f"declare it under 'purposes' or use one of {', '.join(sorted(purposes))}"
                )
        roles[name] = Role(
            name=name,
            purposes=frozenset(spec["purposes"]),
            sees=frozenset(ColumnClass(c) for c in spec["sees"]),
        )
    rules = []
    for spec in document.get("rules", []):
        rule_source, rule_lines, path = spec[_WHERE]
        when = spec["when"]
        kind = Kind(when["kind"]) if "kind" in when else None
        rules.append(
            ClassRule(
                column_class=ColumnClass(when["class"]) if "class" in when else None,
                kind=kind,
                default=_technique(spec, kind or Kind.UNKNOWN, rule_source, rule_lines, path),
                per_purpose=_per_purpose(
                    spec, kind or Kind.UNKNOWN, purposes, rule_source, rule_lines, path
                ),
            )
        )
    columns = {}
    for name, spec in document.get("columns", {}).items():
        column_source, column_lines, path = spec[_WHERE]
        kind = Kind(spec.get("kind", "unknown"))
        columns[name] = ColumnRule(
            column=name,
            column_class=ColumnClass(spec["class"]),
            kind=kind,
            default=_technique(spec, kind, column_source, column_lines, path),
            per_purpose=_per_purpose(spec, kind, purposes, column_source, column_lines, path),
            where=f"{column_source}:{_line(column_lines, path)}",
        )
    jurisdiction = document.get("jurisdiction")
    gates = _gates(document.get("gates"), source, lines)
    return Policy(
        name=document["name"],
        source=source,
        jurisdiction=Jurisdiction(jurisdiction) if jurisdiction else None,
        purposes=purposes,
        roles=roles,
        rules=tuple(rules),
        columns=columns,
        requirements=Requirements(**document.get("requirements", {})),
        gates=gates,
        dp=_dp_defaults(document.get("dp", {})),
    )


def _dp_defaults(spec: Mapping[str, Any]) -> DPDefaults:
    unit: PrivacyUnit | None = None
    declared = spec.get("privacy_unit")
    if declared == "row":
        unit = PerRow()
    elif declared is not None:
        unit = PerCustomer(declared["column"], declared.get("max_contributions", 1))
    budget = spec.get("default_budget")
    default_budget: PureDP | ApproxDP | None = None
    if budget is not None:
        delta = budget.get("delta", DEFAULT_DELTA)
        default_budget = ApproxDP(budget["epsilon"], delta) if delta else PureDP(budget["epsilon"])
    return DPDefaults(
        bounds={c: (float(low), float(high)) for c, (low, high) in spec.get("bounds", {}).items()},
        bounds_where=dict(spec.get(_BOUNDS_WHERE, {})),
        unit=unit,
        default_budget=default_budget,
    )


def _gates(spec: Mapping[str, Any] | None, source: str, lines: _Lines) -> Gates | None:
    if not spec:
        return None
    requirements: list[Requirement] = []
    if "k" in spec:
        requirements.append(KAnonymity(spec["k"]))
    if "l" in spec:
        requirements.append(LDiversity(spec["l"]))
    if "t" in spec:
        requirements.append(TCloseness(spec["t"]))
    if "max_risk" in spec:
        requirements.append(MaxRisk(spec["max_risk"]))
    sensitive = tuple(spec.get("sensitive", ()))
    if ("l" in spec or "t" in spec) and not sensitive:
        raise PolicyError(
            f"{source}:{_line(lines, ('gates',))}: gates l and t need the sensitive columns; "
            "add 'sensitive: [COLUMN, ...]' under gates"
        )
    if not requirements:
        raise PolicyError(
            f"{source}:{_line(lines, ('gates',))}: gates name no check; add k, l, t or max_risk"
        )
    qi = spec.get("quasi_identifiers")
    return Gates(tuple(requirements), tuple(qi) if qi is not None else None, sensitive)


def _technique(
    spec: Mapping[str, Any], kind: Kind, source: str, lines: _Lines, path: tuple[str | int, ...]
) -> TechniqueSpec:
    technique, params = spec["technique"], spec.get("params") or {}
    line = _line(lines, (*path, "technique"))
    if technique == DROP:
        if params:
            raise PolicyError(f"{source}:{line}: 'drop' takes no params; remove them")
        return TechniqueSpec(None)
    try:
        # Built once, here: every parameter is checked before any row moves.
        return TechniqueSpec(build_operator(technique, params, kind), params)
    except ParameterError as exc:
        raise PolicyError(f"{source}:{line}: {exc}") from None


def _per_purpose(
    spec: Mapping[str, Any],
    kind: Kind,
    purposes: Mapping[str, Purpose],
    source: str,
    lines: _Lines,
    path: tuple[str | int, ...],
) -> dict[str, TechniqueSpec]:
    result = {}
    for purpose, override in spec.get("purposes", {}).items():
        if purpose not in purposes:
            raise PolicyError(
                f"{source}:{_line(lines, (*path, 'purposes', purpose))}: unknown purpose "
                f"{purpose!r}; use one of {', '.join(sorted(purposes))}"
            )
        result[purpose] = _technique(override, kind, source, lines, (*path, "purposes", purpose))
    return result
