"""The ledger's values: renewal rules, account and charge states, budget arithmetic.

Budgets are stored as three floats (ε, δ, ρ) and a kind; these helpers turn them back
into typed values and add, subtract and compare them with a small relative tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import sqlalchemy as sa

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp._accounting import convert
from shopveil.errors import BudgetExceeded, ParameterError
from shopveil.store import dp_accounts, dp_sub_budgets

__all__ = ["AccountState", "Charge", "ChargeRecord", "Renewal", "SubBudgetState"]

_TOLERANCE = 1e-9  # relative slack for float sums such as 10 × 0.1


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
        return _remaining(self.total, self.spent)


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


def _kind(b: Budget) -> str:
    return {PureDP: "pure", ApproxDP: "approx", ZCDP: "zcdp"}[type(b)]


def _parts(b: Budget) -> dict[str, float]:
    return {
        "epsilon": getattr(b, "epsilon", 0.0),
        "delta": getattr(b, "delta", 0.0),
        "rho": getattr(b, "rho", 0.0),
    }


def _make(kind: str, epsilon: float, delta: float, rho: float) -> Budget:
    if kind == "pure":
        return PureDP(epsilon)
    if kind == "approx":
        return ApproxDP(epsilon, delta)
    return ZCDP(rho)


def _remaining(total: Budget, spent: Budget) -> Budget:
    t, s = _parts(total), _parts(spent)
    return _make(_kind(total), *(max(t[k] - s[k], 0.0) for k in ("epsilon", "delta", "rho")))


def _exceeds(total: Budget, spent: Budget) -> bool:
    t, s = _parts(total), _parts(spent)
    return any(s[k] > t[k] * (1 + _TOLERANCE) + 1e-15 for k in t)


def _add(a: Budget, b: Budget) -> Budget:
    pa, pb = _parts(a), _parts(b)
    return _make(_kind(a), *(pa[k] + pb[k] for k in ("epsilon", "delta", "rho")))


def _check_name(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ParameterError(f"{name} must be a non-empty string of at most 200 characters")
    return value


def convert_subs(conn: sa.Connection, row: Any, total: Budget) -> None:
    """Re-express an account's sub-budgets in the kind of its new total."""
    for sub in conn.execute(
        sa.select(dp_sub_budgets).where(dp_sub_budgets.c.account_id == row.id)
    ).all():
        limit = _make(row.kind, sub.limit_epsilon, sub.limit_delta, sub.limit_rho)
        spent = _make(row.kind, sub.spent_epsilon, sub.spent_delta, sub.spent_rho)
        values = {f"limit_{k}": v for k, v in _parts(convert(limit, total)).items()}
        values |= {f"spent_{k}": v for k, v in _parts(convert(spent, total)).items()}
        conn.execute(
            sa.update(dp_sub_budgets)
            .where(
                (dp_sub_budgets.c.account_id == row.id)
                & (dp_sub_budgets.c.scope == sub.scope)
                & (dp_sub_budgets.c.name == sub.name)
            )
            .values(**values)
        )


def state_of(conn: sa.Connection, row: Any, now: datetime) -> AccountState:
    """An account row and its sub-budgets as an :class:`AccountState` at time ``now``."""
    total = _make(row.kind, row.total_epsilon, row.total_delta, row.total_rho)
    period = Renewal(row.renewal).period(now)
    renewed = period != row.period
    spent = _make(row.kind, row.spent_epsilon, row.spent_delta, row.spent_rho)
    if renewed:
        spent = _make(row.kind, 0.0, 0.0, 0.0)
    subs = []
    for sub in conn.execute(
        sa.select(dp_sub_budgets)
        .where(dp_sub_budgets.c.account_id == row.id)
        .order_by(dp_sub_budgets.c.scope, dp_sub_budgets.c.name)
    ).all():
        limit = _make(row.kind, sub.limit_epsilon, sub.limit_delta, sub.limit_rho)
        sub_spent = _make(row.kind, sub.spent_epsilon, sub.spent_delta, sub.spent_rho)
        if sub.period != period:
            sub_spent = _make(row.kind, 0.0, 0.0, 0.0)
        subs.append(SubBudgetState(sub.scope, sub.name, limit, sub_spent))
    return AccountState(
        row.dataset,
        row.unit,
        total,
        spent,
        Renewal(row.renewal),
        period,
        bool(row.is_default),
        tuple(subs),
    )


def select_account(dataset: str, unit: str) -> sa.Select[Any]:
    return sa.select(dp_accounts).where(
        (dp_accounts.c.dataset == dataset) & (dp_accounts.c.unit == unit)
    )


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
        for k, v in _parts(cost_k).items()
    )
    if not same:
        raise ParameterError(
            f"request id {previous.request_id!r} was already used for a different charge; "
            "use a new request id"
        )
    spent = _make(row.kind, row.spent_epsilon, row.spent_delta, row.spent_rho)
    return Charge(
        previous.request_id, dataset, unit, cost_k, _remaining(total, spent), total,
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
    if not _exceeds(total, _add(spent, cost)):
        return
    where = f"the {sub.scope} budget of {sub.name!r}" if sub else "the budget"
    raise BudgetExceeded(
        f"{where} for dataset {dataset!r} ({unit}) has {_remaining(total, spent)} left "
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
