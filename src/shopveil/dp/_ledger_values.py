"""The ledger's values: renewal rules, account and charge states, budget arithmetic.

A budget is stored as a kind and three float columns (ε, δ, ρ) behind a prefix
(``total_epsilon``, ``spent_rho``, ``limit_delta``; a charge's own cost has none).
:func:`to_columns` and :func:`from_columns` are the one way between the two; the other
helpers add, subtract and compare typed budgets with a small relative tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._accounting import convert
from shopveil.errors import BudgetExceeded, ParameterError

__all__ = [
    "PARTS",
    "TOLERANCE",
    "AccountState",
    "Charge",
    "ChargeRecord",
    "Renewal",
    "SubBudgetState",
    "add",
    "check_name",
    "from_columns",
    "kind_of",
    "make",
    "parts",
    "remaining",
    "replay",
    "require_fits",
    "to_columns",
    "unit_key",
    "unknown",
    "zero",
]

PARTS = ("epsilon", "delta", "rho")
"""A stored budget's three values, in the order of its columns."""

TOLERANCE = 1e-9  # relative slack for float sums such as 10 × 0.1; people are charged with it too


class Renewal(StrEnum):
    """When an account's spending starts again from zero."""

    NEVER = "never"
    DAILY = "daily"
    MONTHLY = "monthly"

    def period(self, at: datetime) -> str:
        """The period ``at`` falls in under this rule (``"-"`` for budgets that never renew)."""
        if self is Renewal.MONTHLY:
            return at.strftime("%Y-%m")
        if self is Renewal.DAILY:
            return at.strftime("%Y-%m-%d")
        return "-"


@dataclass(frozen=True)
class SubBudgetState:
    """A cap for one analyst or one purpose within an account."""

    scope: str
    name: str
    limit: Budget
    spent: Budget


@dataclass(frozen=True)
class AccountState:
    """What an account allows, has spent in its current period, and has left."""

    dataset: str
    unit: str
    total: Budget
    spent: Budget
    renewal: Renewal
    period: str
    is_default: bool
    sub_budgets: tuple[SubBudgetState, ...] = ()

    @property
    def remaining(self) -> Budget:
        """What is left of the account's budget."""
        return remaining(self.total, self.spent)


@dataclass(frozen=True)
class ChargeRecord:
    """One past charge of an account, as the history shows it (no data, no answer)."""

    request_id: str
    at: str
    cost: Budget
    analyst: str
    purpose: str
    what: str

    def to_dict(self) -> dict[str, Any]:
        from shopveil.dp._query._answer import budget_dict

        return {
            "request_id": self.request_id,
            "at": self.at,
            "cost": budget_dict(self.cost),
            "analyst": self.analyst,
            "purpose": self.purpose,
            "what": self.what,
        }


@dataclass(frozen=True)
class Charge:
    """A recorded charge. ``replayed`` is True when the request id was charged before."""

    request_id: str
    dataset: str
    unit: str
    cost: Budget
    remaining: Budget
    total: Budget
    is_default: bool
    replayed: bool
    answer: str | None
    left_out: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    """Person hashes that could not afford the release: remove them from its input."""


def kind_of(budget: Budget) -> str:
    """The ``kind`` column of ``budget``: ``pure``, ``approx`` or ``zcdp``."""
    return {PureDP: "pure", ApproxDP: "approx", ZCDP: "zcdp"}[type(budget)]


def parts(budget: Budget) -> dict[str, float]:
    """ε, δ and ρ of ``budget``, 0 where its kind has none."""
    return {k: getattr(budget, k, 0.0) for k in PARTS}


def make(kind: str, epsilon: float, delta: float, rho: float) -> Budget:
    """The budget of ``kind`` with these values (the ones its kind has no use for are ignored)."""
    if kind == "pure":
        return PureDP(epsilon)
    if kind == "approx":
        return ApproxDP(epsilon, delta)
    return ZCDP(rho)


def zero(kind: str) -> Budget:
    return make(kind, 0.0, 0.0, 0.0)


def to_columns(budget: Budget, prefix: str = "") -> dict[str, float]:
    """``budget`` as column values: ``{"spent_epsilon": …, …}``, or bare part names."""
    return {f"{prefix}_{k}" if prefix else k: v for k, v in parts(budget).items()}


def from_columns(kind: str, row: Any, prefix: str = "") -> Budget:
    """The budget of ``kind`` that ``row`` holds in its ``prefix`` columns."""
    return make(kind, *(getattr(row, f"{prefix}_{k}" if prefix else k) for k in PARTS))


def remaining(total: Budget, spent: Budget) -> Budget:
    t, s = parts(total), parts(spent)
    return make(kind_of(total), *(max(t[k] - s[k], 0.0) for k in PARTS))


def add(a: Budget, b: Budget) -> Budget:
    pa, pb = parts(a), parts(b)
    return make(kind_of(a), *(pa[k] + pb[k] for k in PARTS))


def _exceeds(total: Budget, spent: Budget) -> bool:
    t, s = parts(total), parts(spent)
    return any(s[k] > t[k] * (1 + TOLERANCE) + 1e-15 for k in t)


def check_name(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ParameterError(f"{name} must be a non-empty string of at most 200 characters")
    return value


def unknown(dataset: str, unit: str) -> ParameterError:
    return ParameterError(
        f"unknown dataset {dataset!r} with privacy unit {unit!r}: set a budget first with "
        "`shopveil budget set`"
    )


def replay(previous: Any, row: Any, dataset: str, unit: str, cost: Budget, total: Budget) -> Charge:
    """The stored charge ``previous`` returned to a retry; a different cost is refused."""
    cost_k = convert(cost, total)
    same = previous.account_id == row.id and all(
        math.isclose(getattr(previous, k), v, rel_tol=1e-12, abs_tol=1e-15)
        for k, v in to_columns(cost_k).items()
    )
    if not same:
        raise ParameterError(
            f"request id {previous.request_id!r} was already used for a different charge; "
            "use a new request id"
        )
    spent = from_columns(row.kind, row, "spent")
    return Charge(
        previous.request_id, dataset, unit, cost_k, remaining(total, spent), total,
        bool(row.is_default), True, previous.answer,
    )  # fmt: skip


def require_fits(
    dataset: str,
    unit: str,
    total: Budget,
    spent: Budget,
    cost: Budget,
    sub: SubBudgetState | None = None,
) -> None:
    """Raise :class:`BudgetExceeded` unless ``spent + cost`` stays within ``total``."""
    if not _exceeds(total, add(spent, cost)):
        return
    where = f"the {sub.scope} budget of {sub.name!r}" if sub else "the budget"
    raise BudgetExceeded(
        f"{where} for dataset {dataset!r} ({unit}) has {remaining(total, spent)} left "
        f"of {total}; this release costs {cost}. Nothing was charged or released: "
        "lower the epsilon, or raise the budget with `shopveil budget set`"
    )


def unit_key(unit: PrivacyUnit) -> str:
    if not isinstance(unit, PerRow | PerCustomer):
        raise ParameterError(
            f"unit must be PerRow() or PerCustomer(...), got {type(unit).__name__}; the "
            "ledger keeps budgets per typed privacy unit"
        )
    return unit.key
