"""Privacy units: what one person's data is, so DP knows what to protect.

The ledger keeps budgets per person, so a unit also says *which* people it counts:
``PerCustomer`` counts people of a namespace (``"customer"`` by default), whatever the
column is called in one file; every release about the same customers spends from the
same per-person budgets. ``PerRow`` is for tables whose rows are independent people,
as the data steward declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopveil._core.subjects import IdType
from shopveil.errors import ParameterError

__all__ = ["PerCustomer", "PerRow", "PrivacyUnit"]

_NAMESPACE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class PerRow:
    """Neighbouring datasets differ in one row: each row is a different person."""

    def describe(self) -> str:
        """The unit in words, for messages and the audit log."""
        return "one row"

    @property
    def key(self) -> str:
        """The ledger's name for this unit: budgets are kept per dataset and unit."""
        return "row"

    @property
    def max_contributions(self) -> int:
        """A row contributes once."""
        return 1


@dataclass(frozen=True)
class PerCustomer:
    """Neighbouring datasets differ in all rows of one customer, at most ``max_contributions``.

    Parameters
    ----------
    id_column
        The column holding the customer id in this data.
    max_contributions
        Rows kept per customer; the rest are dropped before any aggregate.
    id_type
        How the ids are written; ``17850``, ``"17850"`` and ``"17850.0"`` are one person
        (see :func:`shopveil._core.subjects.canonical_id`).
    namespace
        Whose ids these are. People of one namespace share one budget each across every
        dataset, file and table name.
    """

    id_column: str
    max_contributions: int = 1
    id_type: IdType = IdType.AUTO
    namespace: str = "customer"

    def __post_init__(self) -> None:
        if not isinstance(self.id_column, str) or not self.id_column:
            raise ParameterError("id_column must name the customer id column, got an empty value")
        if isinstance(self.max_contributions, bool) or not isinstance(self.max_contributions, int):
            raise ParameterError(
                f"max_contributions must be an int, got {type(self.max_contributions).__name__}"
            )
        if self.max_contributions < 1:
            raise ParameterError(f"max_contributions must be >= 1, got {self.max_contributions}")
        try:
            object.__setattr__(self, "id_type", IdType(self.id_type))
        except ValueError:
            raise ParameterError(
                f"id_type must be auto, integer or string, got {self.id_type!r}"
            ) from None
        if not isinstance(self.namespace, str) or not _NAMESPACE.fullmatch(self.namespace):
            raise ParameterError(
                f"namespace must be lower-case letters, digits, '_', '.' or '-' starting with "
                f"a letter, got {self.namespace!r}; e.g. customer"
            )

    @property
    def key(self) -> str:
        """The ledger's name for this unit: the namespace, whatever the column is called."""
        return self.namespace

    def describe(self) -> str:
        """The unit in words, for messages and the audit log."""
        return f"one customer ({self.id_column}, ≤ {self.max_contributions} rows)"


PrivacyUnit = PerRow | PerCustomer
