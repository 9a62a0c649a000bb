"""Masking operators: redaction, generalization and consistent fake substitution.

Each operator is a frozen dataclass of its parameters with ``apply(values, context)``,
mapping an Arrow array to an Arrow array of the same length; nulls stay null.
"""

from shopveil.mask._basic import Keep, Redact, RedactMode
from shopveil.mask._generalize import AgeBand, DateUnit, GeneralizeDate, Truncate
from shopveil.mask._substitute import FakeKind, FakeSubstitute

__all__ = [
    "AgeBand",
    "DateUnit",
    "FakeKind",
    "FakeSubstitute",
    "GeneralizeDate",
    "Keep",
    "Redact",
    "RedactMode",
    "Truncate",
]
