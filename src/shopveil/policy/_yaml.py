"""YAML with line numbers: every path in a document mapped to the line it starts on.

A policy's problems are reported as ``FILE:LINE: what is wrong; the fix``; this module
parses the text, records the lines, and checks the document against the JSON Schema
shipped in the package.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

import jsonschema
import yaml

from shopveil.errors import PolicyError

__all__ = ["Lines", "line_of", "load_yaml", "validate"]

Lines = dict[tuple[str | int, ...], int]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, source: str) -> tuple[dict[str, Any], Lines]:
    """The document in ``text`` and the line of each path in it; PolicyError if malformed."""
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
    lines: Lines = {}
    _collect_lines(node, (), lines, source)
    return document, lines


def _collect_lines(node: yaml.Node, path: tuple[str | int, ...], lines: Lines, source: str) -> None:
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


@functools.cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(
        resources.files("shopveil.policy").joinpath("policy.schema.json").read_text()
    )
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate(document: dict[str, Any], source: str, lines: Lines) -> None:
    """Check ``document`` against the shipped JSON Schema; PolicyError at the first problem."""
    errors = sorted(_schema_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    path = tuple(error.absolute_path)
    where = ".".join(str(p) for p in path) or "the top level"
    raise PolicyError(f"{source}:{line_of(lines, path)}: {where}: {_describe(error)}")


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


def line_of(lines: Lines, path: tuple[str | int, ...]) -> int:
    """The line of ``path``, or of its nearest ancestor the document has."""
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)
