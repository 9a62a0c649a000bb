"""A draft policy from a scan: every column with its class, kind and proposed technique."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from shopveil._core.classes import ColumnClass, Kind
from shopveil.policy._load import load_policy

__all__ = ["DraftColumn", "draft_policy_yaml"]


@dataclass(frozen=True)
class DraftColumn:
    column: str
    column_class: ColumnClass
    kind: Kind
    confidence: float


def draft_policy_yaml(name: str, columns: Iterable[DraftColumn], *, extends: str = "gdpr") -> str:
    """YAML for a policy that extends a preset and lists each scanned column.

    Each column gets the technique the preset's rules would choose, so the draft behaves
    like the preset until someone edits it; the confidence is left as a comment.
    """
    preset = load_policy(extends)
    lines = [
        "# Draft policy written by `shopveil scan`: review every column before use.",
        f"# Columns inherit the rules of the {extends!r} preset; edit 'technique' to change one.",
        "shopveil_policy: 1",
        f"name: {yaml.safe_dump(name, default_style=None).strip().removesuffix('...').strip()}",
        f"extends: {extends}",
        "columns:",
    ]
    for column in columns:
        technique, params = "keep", {}
        if column.column_class.is_personal and column.kind is Kind.UNKNOWN:
            # Personal but of no known kind: the compiler refuses it until someone decides.
            technique = "drop"
        for rule in preset.rules:
            if rule.matches(column.column_class, column.kind):
                technique, params = rule.default.technique, dict(rule.default.params)
                break
        entry = {
            "class": column.column_class.value,
            "kind": column.kind.value,
            "technique": technique,
            **({"params": params} if params else {}),
        }
        body = yaml.safe_dump({column.column: entry}, sort_keys=False, allow_unicode=True)
        lines.append(f"  # {column.column}: detected with confidence {column.confidence:.2f}")
        lines.extend("  " + line for line in body.rstrip().splitlines())
    return "\n".join(lines) + "\n"
