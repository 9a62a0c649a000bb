"""Loading a policy: YAML → JSON Schema check → presets merged → typed :class:`Policy`.

Every problem is reported as ``FILE:LINE: what is wrong; the fix``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from shopveil._core.budgets import DEFAULT_DELTA, ApproxDP, PureDP
from shopveil._core.classes import ColumnClass, Kind
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.anonymity import KAnonymity, LDiversity, MaxRisk, Requirement, TCloseness
from shopveil.errors import ParameterError, PolicyError
from shopveil.policy._minors import build_minors, strictest_minors
from shopveil.policy._model import (
    ClassRule,
    ColumnRule,
    DPDefaults,
    Gates,
    Jurisdiction,
    Origin,
    Policy,
    Purpose,
    ReleaseMode,
    Requirements,
    Role,
    TechniqueSpec,
)
from shopveil.policy._processing_load import annotate_processing, build_processing
from shopveil.policy._registry import DROP, build_operator
from shopveil.policy._yaml import Lines as _Lines
from shopveil.policy._yaml import line_of as _line
from shopveil.policy._yaml import load_yaml, validate

__all__ = ["PRESETS", "load_policy", "parse_policy", "preset_file"]

PRESETS = ("gdpr", "ccpa", "lgpd", "pipl")
_MAX_EXTENDS_DEPTH = 8


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


def preset_file(name: str) -> str:
    """Where the preset ``name`` (``gdpr``, ``ccpa``, ``lgpd``, ``pipl``, ``base``) is
    installed: the YAML file to open to read its rules."""
    if name not in (*PRESETS, "base"):
        raise PolicyError(f"no preset {name!r}; use one of {', '.join(PRESETS)}")
    return str(resources.files("shopveil.policy").joinpath(f"presets/{name}.yaml"))


_PRESET_SOURCE = "preset:"


def _origin(source: str, lines: _Lines, path: tuple[str | int, ...]) -> Origin:
    """The file and line of ``path``; a preset is named by its file, ``gdpr.yaml``."""
    line = _line(lines, path)
    if source.startswith(_PRESET_SOURCE):
        preset = source.removeprefix(_PRESET_SOURCE)
        return Origin(f"{preset}.yaml", line, preset)
    return Origin(source, line)


def _read(name_or_path: str | os.PathLike[str]) -> tuple[dict[str, Any], str, _Lines]:
    name = str(name_or_path)
    if name in (*PRESETS, "base"):
        text = resources.files("shopveil.policy").joinpath(f"presets/{name}.yaml").read_text()
        source = f"{_PRESET_SOURCE}{name}"
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


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any], _Lines]:
    document, lines = load_yaml(text, source)
    validate(document, source, lines)
    _check_dp(document.get("dp", {}), source, lines)
    _annotate(document, source, lines)
    return document, lines


_WHERE = "__where__"


def _annotate(document: dict[str, Any], source: str, lines: _Lines) -> None:
    """Tag each rule, column, role, purpose and gate with its own file and line; they
    survive merging."""
    for i, spec in enumerate(document.get("rules", [])):
        spec[_WHERE] = (source, lines, ("rules", i))
    for section in ("columns", "roles", "purposes"):
        for name, spec in document.get(section, {}).items():
            spec[_WHERE] = (source, lines, (section, name))
    gates = document.get("gates")
    if gates:
        gates[_GATES_WHERE] = {
            key: _origin(source, lines, ("gates", key)) for key in _GATE_KEYS if key in gates
        }
    document[_FILES] = [_origin(source, {}, ())]
    annotate_processing(document, source, lines)
    minors = document.get("minors")
    if minors:
        minors[_MINORS_WHERE] = {
            key: _origin(source, lines, ("minors", *((key,) if key else ())))
            for key in ("", *minors)
        }
    dp = document.get("dp", {})
    dp[_BOUNDS_WHERE] = {
        column: f"{source}:{_line(lines, ('dp', 'bounds', column))}"
        for column in dp.get("bounds", {})
    }


_BOUNDS_WHERE = "__bounds_where__"
_GATES_WHERE = "__gates_where__"
_MINORS_WHERE = "__minors_where__"
_GATE_KEYS = ("k", "l", "t", "max_risk")
_FILES = "__files__"  # the files a policy was merged from, its own first


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
    for section in ("purposes", "roles", "columns", "requirements", "gates", "minors"):
        merged[section] = {**parent.get(section, {}), **child.get(section, {})}
    if merged["minors"]:  # a policy may change one key (the age) and keep the rest
        merged["minors"][_MINORS_WHERE] = {
            **parent.get("minors", {}).get(_MINORS_WHERE, {}),
            **child.get("minors", {}).get(_MINORS_WHERE, {}),
        }
    merged["rules"] = [*child.get("rules", []), *parent.get("rules", [])]
    merged[_FILES] = [*child.get(_FILES, []), *parent.get(_FILES, [])]
    if merged["gates"]:
        merged["gates"][_GATES_WHERE] = {
            **parent.get("gates", {}).get(_GATES_WHERE, {}),
            **child.get("gates", {}).get(_GATES_WHERE, {}),
        }
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
            origin=_origin(*spec[_WHERE]),
            sensitive_data_consent=spec.get("sensitive_data_consent", False),
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
            origin=_origin(role_source, role_lines, path),
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
                origin=_origin(rule_source, rule_lines, path),
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
            origin=_origin(column_source, column_lines, path),
        )
    jurisdiction = document.get("jurisdiction")
    gates = _gates(document.get("gates"), source, lines)
    processing = build_processing(document, purposes=purposes, roles=roles, origin_of=_origin)
    minors = build_minors(
        document.get("minors"),
        Jurisdiction(jurisdiction) if jurisdiction else None,
        purposes,
        document.get("minors", {}).get(_MINORS_WHERE, {}),
    )
    if processing.residence is not None:
        # Rows under several laws: no row's minors rule may be laxer than its own law's.
        laws = [load_policy(law.value).minors for law in processing.residence.jurisdictions]
        minors = strictest_minors(minors, laws, purposes)
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
        files=tuple(document.get(_FILES, ())),
        processing=processing,
        minors=minors,
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
    return Gates(
        tuple(requirements),
        tuple(qi) if qi is not None else None,
        sensitive,
        origins=spec.get(_GATES_WHERE, {}),
    )


def _technique(
    spec: Mapping[str, Any], kind: Kind, source: str, lines: _Lines, path: tuple[str | int, ...]
) -> TechniqueSpec:
    technique, params = spec["technique"], spec.get("params") or {}
    line = _line(lines, (*path, "technique"))
    origin = _origin(source, lines, (*path, "technique"))
    if technique == DROP:
        if params:
            raise PolicyError(f"{source}:{line}: 'drop' takes no params; remove them")
        return TechniqueSpec(None, origin=origin)
    try:
        # Built once, here: every parameter is checked before any row moves.
        return TechniqueSpec(build_operator(technique, params, kind), params, origin)
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
