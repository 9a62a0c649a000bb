"""Privacy units: what one person's data is, so DP knows what to protect."""

from __future__ import annotations

from dataclasses import dataclass

from shopveil.errors import ParameterError

__all__ = ["PerCustomer", "PerRow", "PrivacyUnit"]


@dataclass(frozen=True)
class PerRow:
    """Neighbouring datasets differ in one row."""

    def describe(self) -> str:
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

    Rows beyond ``max_contributions`` per customer are dropped before any aggregate, and
    the answer says so.
    """

    id_column: str
    max_contributions: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.id_column, str) or not self.id_column:
            raise ParameterError("id_column must name the customer id column, got an empty value")
        if isinstance(self.max_contributions, bool) or not isinstance(self.max_contributions, int):
            raise ParameterError(
                f"max_contributions must be an int, got {type(self.max_contributions).__name__}"
            )
        if self.max_contributions < 1:
            raise ParameterError(f"max_contributions must be >= 1, got {self.max_contributions}")

    @property
    def key(self) -> str:
        """The ledger's name for this unit; the contribution bound does not change it."""
        return f"customer:{self.id_column}"

    def describe(self) -> str:
        return f"one customer ({self.id_column}, ≤ {self.max_contributions} rows)"


PrivacyUnit = PerRow | PerCustomer
